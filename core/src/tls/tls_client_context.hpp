// The client side of TLS for one upstream group: an OpenSSL 3 SSL_CTX that verifies the peers'
// certificates (against the system store or the group's own CA file), presents a client
// certificate when configured (mTLS to the backend), and hands every new session to the
// connection that received it, so the next connection to that peer can resume it.
//
// Built on the main thread when the config loads; immutable afterwards, so workers share it.
// The sessions it produces are not cached in the SSL_CTX (whose cache every worker would lock):
// each worker keeps the last one per peer (upstream_pool).
#pragma once

#include <memory>
#include <openssl/ssl.h>
#include <string>
#include <string_view>

namespace proxyd {

struct TlsClientSettings {
    bool verify = true;      // check the peer's chain and name
    std::string ca;          // PEM file of trusted CAs; empty: the system store
    std::string certificate; // PEM chain presented to peers that ask (empty: none)
    std::string key;         // its private key
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string ciphers; // TLS 1.2 cipher list (OpenSSL syntax); empty: OpenSSL's default
};

// Told of each session a connection's peer issued (TLS 1.3 sends them after the handshake).
class TlsSessionKeeper {
  public:
    // Takes ownership of session (one reference).
    virtual void keep_session(SSL_SESSION *session) = 0;

  protected:
    ~TlsSessionKeeper() = default;
};

class TlsClientContext {
  public:
    // Loads the CA file and the client certificate; on failure returns nullptr and sets error to
    // a sentence naming the file and OpenSSL's reason.
    static std::unique_ptr<TlsClientContext> create(const TlsClientSettings &settings, std::string &error);
    ~TlsClientContext();
    TlsClientContext(const TlsClientContext &) = delete;
    TlsClientContext &operator=(const TlsClientContext &) = delete;

    SSL_CTX *ctx() const { return ctx_; }

    // Readies a new client SSL for a peer: name is sent as SNI and checked against the certificate
    // (DNS names), or, when is_ip, checked against its IP address SANs and not sent (RFC 6066 §3
    // allows only host names in SNI). resume, when not null, is offered for resumption. keeper
    // hears of the sessions the peer issues; it must outlive ssl.
    bool prepare(SSL *ssl, const std::string &name, bool is_ip, SSL_SESSION *resume,
                 TlsSessionKeeper *keeper) const;

    // Why a client handshake failed, as proxyd reports it: "TLS handshake: " and the refused
    // certificate's reason when verification refused it, else session_error (the session's own
    // account: OpenSSL's queued errors).
    std::string handshake_failure(const SSL *ssl, const std::string &session_error) const;

  private:
    TlsClientContext() = default;
    static int on_new_session(SSL *ssl, SSL_SESSION *session);
    // Why a client handshake failed, when the peer's certificate was refused ("certificate verify
    // failed: self-signed certificate", "... hostname mismatch"); empty otherwise.
    std::string verify_failure(const SSL *ssl) const;

    SSL_CTX *ctx_ = nullptr;
    bool verify_ = true;
};

} // namespace proxyd
