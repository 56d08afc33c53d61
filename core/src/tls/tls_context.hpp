// The server side of TLS for one listener: an OpenSSL 3 SSL_CTX per certificate name set, built
// from the listener's `tls` settings, with SNI choosing among them (exact name, then a wildcard
// from each certificate's subjectAltName DNS names) and a default for clients without SNI or with
// an unknown name (or a refusal, when configured). An ECDSA and an RSA certificate for the same
// names share one SSL_CTX, so the client's signature algorithms choose between them.
//
// Defaults follow Mozilla's "intermediate" profile: TLS 1.2 and 1.3, forward-secret AEAD
// ciphers, X25519/P-256/P-384. TLS 1.2 renegotiation, compression and 0-RTT are off.
//
// Built on the main thread when the config loads; immutable afterwards, so workers share it
// (OpenSSL's SSL_CTX is safe to use from several threads once configured).
#pragma once

#include "tls/ocsp_staple.hpp"
#include "tls/openssl_ptr.hpp"
#include "tls/server_names.hpp"
#include "tls/ticket_keys.hpp"

#include <functional>
#include <memory>
#include <openssl/ssl.h>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

struct TlsCertificateFiles {
    std::string chain; // PEM: the certificate first, then its intermediates
    std::string key;   // PEM private key of the certificate
    // The OCSP response stapled for this certificate, checked when the config loaded; null: none.
    std::shared_ptr<const OcspStaple> ocsp;
};

struct TlsSettings {
    // At least one. The first name set is the default for clients without (or with an unknown) SNI.
    std::vector<TlsCertificateFiles> certificates;
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string ciphers;              // TLS 1.2 cipher list (OpenSSL syntax); empty: the default profile
    std::string ciphersuites;         // TLS 1.3 suites; empty: Mozilla intermediate's order
    std::string groups;               // key-exchange groups; empty: the default profile
    bool refuse_unknown_name = false; // an SNI name no certificate covers ends the handshake
    // In order of preference. http/1.0 too, as nginx: a client that offers only it (curl
    // --http1.0) would otherwise end in a no_application_protocol alert, and proxyd speaks it.
    std::vector<std::string> alpn = {"http/1.1", "http/1.0"};

    // Resumption. Stateless tickets, encrypted with ticket_keys (shared by every worker and every
    // generation; null: OpenSSL's own keys for this context, as `proxyd -t` needs no more).
    bool session_tickets = true;
    std::shared_ptr<TicketKeyRing> ticket_keys;
    long session_timeout_seconds = 3600;
    long session_cache_size = 20480; // sessions kept for TLS 1.2 clients without tickets; 0: none
    // Names the sessions this listener may resume (its address): a session from another listener,
    // or from one whose client-certificate rules differ, is not resumed.
    std::string session_context;

    // Client certificates (mTLS).
    enum class VerifyClient { kOff, kOptional, kRequired };
    VerifyClient verify_client = VerifyClient::kOff;
    std::string client_ca; // PEM bundle of the CAs a client certificate must chain to

    // Where handshakes report, from any worker, what changes while serving (an OCSP staple going
    // stale): the generation's error log at warn; empty: not reported (proxyd -t serves nothing).
    std::function<void(std::string_view)> warn;
};

class TlsServerContext {
  public:
    // Loads every certificate and key; on failure returns nullptr and sets error to a sentence
    // naming the file and OpenSSL's reason.
    static std::unique_ptr<TlsServerContext> create(const TlsSettings &settings, std::string &error);
    ~TlsServerContext();
    TlsServerContext(const TlsServerContext &) = delete;
    TlsServerContext &operator=(const TlsServerContext &) = delete;

    // The context new connections start in (the default certificate's); the SNI callback moves a
    // connection to another one.
    SSL_CTX *initial() const { return sites_.front().ctx; }
    // The SSL_CTX whose certificates cover host (exact name first, then "*.rest" for one label),
    // or nullptr.
    SSL_CTX *find(std::string_view host) const;

  private:
    struct Site {
        SSL_CTX *ctx = nullptr; // for the names of the same number in names_
    };

    TlsServerContext() = default;
    static int on_server_name(SSL *ssl, int *alert, void *arg);
    static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_len, const unsigned char *in,
                       unsigned int in_len, void *arg);

    static int on_ticket_key(SSL *ssl, unsigned char *key_name, unsigned char *iv, EVP_CIPHER_CTX *cipher,
                             EVP_MAC_CTX *mac, int encrypt);
    bool configure_resumption(SSL_CTX *ctx, const TlsSettings &settings, std::string &error);
    bool configure_client_verification(SSL_CTX *ctx, const TlsSettings &settings, std::string &error);
    static int on_status_request(SSL *ssl, void *arg);
    const OcspStaple *staple_for(const X509 *certificate) const;

    std::vector<Site> sites_;
    ServerNameIndex names_; // the DNS names from each site's certificates' SANs
    std::shared_ptr<TicketKeyRing> ticket_keys_;
    std::string alpn_wire_; // the ALPN protocols in wire format (length-prefixed)
    // Each stapled certificate (the X509 its SSL_CTX and every handshake's SSL share) and its
    // response; few, so a handshake finds its own by a linear search. The entry holds a reference
    // of its own: a later certificate of the same key type replaces (and would free) it in the
    // SSL_CTX, and a freed address reused by another certificate must not find this staple.
    struct Stapled {
        OpenSslPtr<X509> certificate;
        std::shared_ptr<const OcspStaple> staple;
    };
    std::vector<Stapled> staples_;
    std::function<void(std::string_view)> warn_;
    bool refuse_unknown_name_ = false;
};

} // namespace proxyd
