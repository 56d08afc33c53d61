#include "tls/tls_client_context.hpp"

#include "tls/openssl_errors.hpp"
#include "tls/tls_defaults.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace proxyd {

namespace {

// proxyd speaks HTTP/1.1 to its peers; saying so lets a server that also offers h2 choose right.
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

} // namespace

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsClientContext> TlsClientContext::create(const TlsClientSettings &settings,
                                                           std::string &error) {
    std::unique_ptr<TlsClientContext> self(new TlsClientContext());
    self->verify_ = settings.verify;
    ERR_clear_error();
    SSL_CTX *ctx = self->ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        error = "cannot create a TLS context: " + openssl_errors_or_unknown();
        return nullptr;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, settings.min_version) ||
        !SSL_CTX_set_max_proto_version(ctx, settings.max_version)) {
        error = "these TLS protocols are not available: " + openssl_errors_or_unknown();
        return nullptr;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // Pooled idle connections give their record buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!settings.ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, settings.ciphers.c_str())) {
        error = "ciphers '" + settings.ciphers + "': " + openssl_errors_or_unknown();
        return nullptr;
    }
    // A peer that lets the client choose (nginx's default) then serves AES-128-GCM, not AES-256.
    if (!SSL_CTX_set_ciphersuites(ctx, kIntermediateCiphersuites)) {
        error = "cannot set the TLS 1.3 suites: " + openssl_errors_or_unknown();
        return nullptr;
    }
    if (SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof kAlpnHttp11) != 0) {
        error = "cannot offer ALPN http/1.1: " + openssl_errors_or_unknown();
        return nullptr;
    }
    if (settings.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!settings.ca.empty()) {
            if (SSL_CTX_load_verify_locations(ctx, settings.ca.c_str(), nullptr) != 1) {
                error =
                    settings.ca + ": cannot load the CA certificates (" + openssl_errors_or_unknown() + ")";
                return nullptr;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            error = "cannot load the system's CA certificates: " + openssl_errors_or_unknown();
            return nullptr;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    if (!settings.certificate.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx, settings.certificate.c_str()) != 1) {
            error = settings.certificate + ": cannot load the certificate chain (" +
                    openssl_errors_or_unknown() + ")";
            return nullptr;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, settings.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH ||
                            ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_PRIVATE_KEY_MISMATCH;
            error = settings.key +
                    (mismatch ? ": the private key does not match the certificate in " + settings.certificate
                              : std::string(": cannot load the private key")) +
                    " (" + openssl_errors_or_unknown() + ")";
            return nullptr;
        }
    }
    // Sessions go to the connection's keeper only: no internal cache shared by the workers.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    return self;
}

bool TlsClientContext::prepare(SSL *ssl, const std::string &name, bool is_ip, SSL_SESSION *resume,
                               TlsSessionKeeper *keeper) const {
    SSL_set_connect_state(ssl);
    SSL_set_app_data(ssl, keeper);
    if (!is_ip && !name.empty() && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return false;
    if (verify_ && !name.empty()) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        if (is_ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) return false;
        } else {
            // A wildcard stands for one whole label ("*.example.com"), never part of one.
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0) != 1) return false;
        }
    }
    // A session OpenSSL would not resume (expired, another version) is ignored: a full handshake.
    if (resume && SSL_SESSION_is_resumable(resume)) SSL_set_session(ssl, resume);
    return true;
}

std::string TlsClientContext::verify_failure(const SSL *ssl) const {
    if (!verify_) return {};
    long result = SSL_get_verify_result(ssl);
    if (result == X509_V_OK) return {};
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(result);
}

std::string TlsClientContext::handshake_failure(const SSL *ssl, const std::string &session_error) const {
    std::string refused = verify_failure(ssl);
    return refused.empty() ? session_error : "TLS handshake: " + refused;
}

int TlsClientContext::on_new_session(SSL *ssl, SSL_SESSION *session) {
    auto *keeper = static_cast<TlsSessionKeeper *>(SSL_get_app_data(ssl));
    if (!keeper) return 0; // OpenSSL keeps its reference and frees the session
    keeper->keep_session(session);
    return 1; // the keeper owns the reference now
}

} // namespace proxyd
