#include "tls/tls_context.hpp"

#include "tls/openssl_errors.hpp"
#include "tls/tls_defaults.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace proxyd {

namespace {

// The DNS names of the certificate's subjectAltName.
bool certificate_names(const std::string &chain_file, std::vector<std::string> &names, std::string &error) {
    OpenSslPtr<FILE> f(std::fopen(chain_file.c_str(), "r"));
    if (!f) {
        error = chain_file + ": cannot open the certificate chain";
        return false;
    }
    OpenSslPtr<X509> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        error = chain_file + ": no PEM certificate in it (" + openssl_errors_or_unknown() + ")";
        return false;
    }
    OpenSslPtr<GENERAL_NAMES> sans(
        static_cast<GENERAL_NAMES *>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(sans.get(), i);
        if (name->type != GEN_DNS) continue;
        const unsigned char *data = ASN1_STRING_get0_data(name->d.dNSName);
        names.emplace_back(reinterpret_cast<const char *>(data),
                           static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
    }
    return true;
}

std::string version_name(int version) {
    switch (version) {
    case TLS1_VERSION:
        return "TLSv1";
    case TLS1_1_VERSION:
        return "TLSv1.1";
    case TLS1_2_VERSION:
        return "TLSv1.2";
    case TLS1_3_VERSION:
        return "TLSv1.3";
    }
    return std::to_string(version);
}

} // namespace

TlsServerContext::~TlsServerContext() {
    for (Site &site : sites_)
        SSL_CTX_free(site.ctx);
}

std::unique_ptr<TlsServerContext> TlsServerContext::create(const TlsSettings &settings, std::string &error) {
    std::unique_ptr<TlsServerContext> self(new TlsServerContext());
    self->refuse_unknown_name_ = settings.refuse_unknown_name;
    self->ticket_keys_ = settings.ticket_keys;
    self->warn_ = settings.warn;
    for (const std::string &protocol : settings.alpn) {
        if (protocol.empty() || protocol.size() > 255) {
            error = "ALPN protocol '" + protocol + "' must be 1 to 255 bytes";
            return nullptr;
        }
        self->alpn_wire_.push_back(static_cast<char>(protocol.size()));
        self->alpn_wire_.append(protocol);
    }
    if (settings.certificates.empty()) {
        error = "a TLS listener needs at least one certificate";
        return nullptr;
    }
    ERR_clear_error();
    for (const TlsCertificateFiles &files : settings.certificates) {
        std::vector<std::string> names;
        if (!certificate_names(files.chain, names, error)) return nullptr;
        size_t same = self->names_.find_same(names);
        SSL_CTX *ctx = same != ServerNameIndex::kNone ? self->sites_[same].ctx : nullptr;
        if (!ctx) {
            ctx = SSL_CTX_new(TLS_server_method());
            if (!ctx) {
                error = "cannot create a TLS context: " + openssl_errors_or_unknown();
                return nullptr;
            }
            self->sites_.push_back({ctx});
            self->names_.add(names);
            if (!SSL_CTX_set_min_proto_version(ctx, settings.min_version) ||
                !SSL_CTX_set_max_proto_version(ctx, settings.max_version)) {
                error = "TLS protocols " + version_name(settings.min_version) + " to " +
                        version_name(settings.max_version) +
                        " are not available: " + openssl_errors_or_unknown();
                return nullptr;
            }
            // Renegotiation (a client-driven CPU cost, and a past source of attacks) and compression
            // (CRIME) are off; 0-RTT data is never accepted, as it can be replayed.
            SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
            // The server's order decides (testssl.sh rates a client-chosen order HIGH), except that a
            // client putting ChaCha20 first (a phone without AES instructions) gets it.
            SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
            SSL_CTX_set_max_early_data(ctx, 0);
            // Idle connections give their record buffers back (about 34 KB each).
            SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
            const std::string &ciphers = settings.ciphers;
            if (!SSL_CTX_set_cipher_list(ctx, ciphers.empty() ? kIntermediateCiphers : ciphers.c_str())) {
                error = "ciphers '" + ciphers + "': " + openssl_errors_or_unknown();
                return nullptr;
            }
            const char *suites =
                settings.ciphersuites.empty() ? kIntermediateCiphersuites : settings.ciphersuites.c_str();
            if (!SSL_CTX_set_ciphersuites(ctx, suites)) {
                error = std::string("ciphersuites '") + suites + "': " + openssl_errors_or_unknown();
                return nullptr;
            }
            const std::string &groups = settings.groups;
            if (!SSL_CTX_set1_groups_list(ctx, groups.empty() ? kIntermediateGroups : groups.c_str())) {
                error = "groups '" + groups + "': " + openssl_errors_or_unknown();
                return nullptr;
            }
            SSL_CTX_set_tlsext_servername_callback(ctx, on_server_name);
            SSL_CTX_set_tlsext_servername_arg(ctx, self.get());
            SSL_CTX_set_alpn_select_cb(ctx, on_alpn, self.get());
            SSL_CTX_set_app_data(ctx, self.get());
            if (!self->configure_resumption(ctx, settings, error) ||
                !self->configure_client_verification(ctx, settings, error))
                return nullptr;
        }
        // A second certificate of another key type for the same names goes into the same
        // context: OpenSSL keeps one per key type and picks by the client's signature algorithms.
        if (SSL_CTX_use_certificate_chain_file(ctx, files.chain.c_str()) != 1) {
            error = files.chain + ": cannot load the certificate chain (" + openssl_errors_or_unknown() + ")";
            return nullptr;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
            bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
            error = files.key +
                    (mismatch ? ": the private key does not match the certificate in " + files.chain
                              : std::string(": cannot load the private key")) +
                    " (" + openssl_errors_or_unknown() + ")";
            return nullptr;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            error = files.key + ": the private key does not match the certificate in " + files.chain + " (" +
                    openssl_errors_or_unknown() + ")";
            return nullptr;
        }
        if (files.ocsp) {
            // The certificate just loaded is the context's current one; every SSL made from the
            // context shares this X509, so a handshake finds its staple by the pointer.
            X509 *loaded = SSL_CTX_get0_certificate(ctx);
            X509_up_ref(loaded);
            self->staples_.push_back({OpenSslPtr<X509>(loaded), files.ocsp});
            if (SSL_CTX_set_tlsext_status_cb(ctx, on_status_request) != 1 ||
                SSL_CTX_set_tlsext_status_arg(ctx, self.get()) != 1) {
                error = files.chain + ": cannot staple its OCSP response: " + openssl_errors_or_unknown();
                return nullptr;
            }
        }
    }
    return self;
}

// The session id context: what a session must have been made under to be resumed here. It names
// the listener and its client-certificate rules, so a session from another listener, or one made
// before a reload that now requires (or trusts other) client certificates, is not resumed: a
// resumed session would skip the new verification.
static bool session_id_context(const TlsSettings &settings, unsigned char (&out)[SHA256_DIGEST_LENGTH],
                               std::string &error) {
    std::string material = settings.session_context;
    material.push_back('\0');
    material.push_back(static_cast<char>('0' + static_cast<int>(settings.verify_client)));
    if (!settings.client_ca.empty()) {
        // Not through a C++ stream: a read error (a folder) throws out of istreambuf_iterator.
        std::unique_ptr<std::FILE, int (*)(std::FILE *)> in(std::fopen(settings.client_ca.c_str(), "rb"),
                                                            std::fclose);
        if (!in) {
            error = settings.client_ca + ": cannot open the client CA bundle (" + std::strerror(errno) + ")";
            return false;
        }
        char chunk[4096];
        for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, in.get())) > 0;)
            material.append(chunk, n);
        if (std::ferror(in.get())) {
            error = settings.client_ca + ": cannot read the client CA bundle (" + std::strerror(errno) + ")";
            return false;
        }
    }
    unsigned int len = 0;
    if (EVP_Digest(material.data(), material.size(), out, &len, EVP_sha256(), nullptr) != 1) {
        error = "cannot hash the session id context: " + openssl_errors_or_unknown();
        return false;
    }
    return true;
}

bool TlsServerContext::configure_resumption(SSL_CTX *ctx, const TlsSettings &settings, std::string &error) {
    static_assert(SHA256_DIGEST_LENGTH <= SSL_MAX_SID_CTX_LENGTH);
    unsigned char sid_ctx[SHA256_DIGEST_LENGTH];
    if (!session_id_context(settings, sid_ctx, error)) return false;
    if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx) != 1) {
        error = "cannot set the session id context: " + openssl_errors_or_unknown();
        return false;
    }
    SSL_CTX_set_timeout(ctx, settings.session_timeout_seconds);
    // OpenSSL's own cache, in this SSL_CTX: every worker's connections share it (they are threads
    // of one process), but it lives and dies with the config generation, so after a reload a
    // TLS 1.2 client without tickets makes one full handshake. Tickets survive reloads (below).
    if (settings.session_cache_size > 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, settings.session_cache_size);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (!settings.session_tickets) {
        // As nginx's `ssl_session_tickets off`: no session leaves the server inside a ticket.
        // TLS 1.3 clients then get tickets that only name a session in the cache, or none at all
        // when the cache is off too.
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        if (settings.session_cache_size <= 0) SSL_CTX_set_num_tickets(ctx, 0);
        return true;
    }
    if (settings.ticket_keys && SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key) != 1) {
        error = "cannot install the session ticket keys: " + openssl_errors_or_unknown();
        return false;
    }
    return true;
}

// OpenSSL's ticket key callback (RFC 5077's recommended construction: AES-256-CBC, then
// HMAC-SHA256). encrypt: fills the key name and IV for a new ticket. Otherwise: finds the key
// named, returning 0 for an unknown or expired one (a full handshake), 1 to resume, or 2 to resume
// and renew the ticket under the current key.
int TlsServerContext::on_ticket_key(SSL *ssl, unsigned char *key_name, unsigned char *iv,
                                    EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int encrypt) {
    const auto *self = static_cast<const TlsServerContext *>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (!self || !self->ticket_keys_) return -1;
    TicketKey key;
    int result = 1;
    auto now = TicketKeyRing::Clock::now();
    if (encrypt) {
        if (!self->ticket_keys_->encrypting_key(now, key)) return -1;
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
        std::copy(key.name.begin(), key.name.end(), key_name);
    } else {
        TicketKey::Name name;
        std::copy(key_name, key_name + name.size(), name.begin());
        switch (self->ticket_keys_->decrypting_key(name, now, key)) {
        case TicketKeyRing::Lookup::kUnknown:
            return 0;
        case TicketKeyRing::Lookup::kCurrent:
            break;
        case TicketKeyRing::Lookup::kOlder:
            result = 2;
            break;
        }
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac_key.data(), key.hmac_key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    bool ok = EVP_MAC_CTX_set_params(mac, params) == 1 &&
              (encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv)
                       : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv)) == 1;
    OPENSSL_cleanse(&key, sizeof key); // the copy on this stack; the ring keeps the key
    return ok ? result : -1;
}

// verify_client = "optional": the handshake goes on whatever the chain; the result stays in
// SSL_get_verify_result() for the headers and plugins to report.
static int accept_any_chain(int, X509_STORE_CTX *) {
    return 1;
}

bool TlsServerContext::configure_client_verification(SSL_CTX *ctx, const TlsSettings &settings,
                                                     std::string &error) {
    if (settings.verify_client == TlsSettings::VerifyClient::kOff) return true;
    if (SSL_CTX_load_verify_locations(ctx, settings.client_ca.c_str(), nullptr) != 1) {
        error =
            settings.client_ca + ": cannot load the client CA bundle (" + openssl_errors_or_unknown() + ")";
        return false;
    }
    // The CA names the server sends, so a client with several certificates picks the right one.
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(settings.client_ca.c_str());
    if (!names) {
        error = settings.client_ca + ": no PEM certificate in the client CA bundle (" +
                openssl_errors_or_unknown() + ")";
        return false;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    if (settings.verify_client == TlsSettings::VerifyClient::kRequired)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_chain);
    return true;
}

const OcspStaple *TlsServerContext::staple_for(const X509 *certificate) const {
    for (const Stapled &stapled : staples_)
        if (stapled.certificate.get() == certificate) return stapled.staple.get();
    return nullptr;
}

// A client asked for the certificate's status (status_request): OpenSSL calls this once it chose
// the certificate, and sends the response set here in the handshake, freeing it afterwards, so
// each handshake gets its own copy of the shared bytes.
int TlsServerContext::on_status_request(SSL *ssl, void *arg) {
    const auto *self = static_cast<const TlsServerContext *>(arg);
    const OcspStaple *staple = self->staple_for(SSL_get_certificate(ssl));
    if (!staple) return SSL_TLSEXT_ERR_NOACK;
    if (!staple->fresh_at(std::time(nullptr))) {
        if (self->warn_ && staple->claim_expiry_report())
            self->warn_("OCSP response " + staple->file() +
                        " went stale (nextUpdate passed): no longer stapled; renew the file and "
                        "reload (SIGHUP)");
        return SSL_TLSEXT_ERR_NOACK;
    }
    const std::string &der = staple->der();
    auto *copy = static_cast<unsigned char *>(OPENSSL_malloc(der.size()));
    if (!copy) return SSL_TLSEXT_ERR_NOACK; // the handshake goes on without a staple
    std::memcpy(copy, der.data(), der.size());
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der.size())) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *TlsServerContext::find(std::string_view host) const {
    size_t site = names_.find(host);
    return site == ServerNameIndex::kNone ? nullptr : sites_[site].ctx;
}

int TlsServerContext::on_server_name(SSL *ssl, int *alert, void *arg) {
    const auto *self = static_cast<const TlsServerContext *>(arg);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK; // no SNI: the default certificate
    SSL_CTX *ctx = self->find(name);
    if (!ctx) {
        if (!self->refuse_unknown_name_) return SSL_TLSEXT_ERR_OK;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}

int TlsServerContext::on_alpn(SSL *, const unsigned char **out, unsigned char *out_len,
                              const unsigned char *in, unsigned int in_len, void *arg) {
    const auto *self = static_cast<const TlsServerContext *>(arg);
    unsigned char *selected = nullptr;
    // The server's order of preference decides (h2 before http/1.1 once HTTP/2 exists).
    if (SSL_select_next_proto(
            &selected, out_len, reinterpret_cast<const unsigned char *>(self->alpn_wire_.data()),
            static_cast<unsigned int>(self->alpn_wire_.size()), in, in_len) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; // no_application_protocol (RFC 7301 §3.2), as nginx does
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

} // namespace proxyd
