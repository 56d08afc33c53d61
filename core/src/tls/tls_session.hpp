// One TLS connection's record layer, without any I/O: OpenSSL runs over two memory BIOs, so the
// connection that owns the socket hands in the ciphertext it read and writes out the ciphertext
// this produces, and the event loop never blocks on OpenSSL (the way Node.js and H2O put TLS over
// libuv). Handshake, records, alerts and close_notify all come out of take_output().
//
// One session per connection, used on that connection's thread only.
#pragma once

#include <openssl/ssl.h>
#include <string>
#include <string_view>

namespace proxyd {

class TlsSession {
  public:
    enum class Status {
        kOk,     // progress, or nothing to do until more ciphertext arrives
        kClosed, // the peer sent close_notify: no more plaintext will come
        kError,  // the handshake failed or a record was bad: error_text() says why; close
    };

    // A server-side session in ctx (whose SNI callback may move it to another context). A client
    // session is one that TlsClientContext::prepare() then turns into a client; its first
    // receive(nullptr, 0) produces the ClientHello.
    explicit TlsSession(SSL_CTX *ctx);
    ~TlsSession();
    TlsSession(const TlsSession &) = delete;
    TlsSession &operator=(const TlsSession &) = delete;

    // Ciphertext read from the socket. Decrypted application data is appended to plaintext; the
    // handshake's answers wait in take_output().
    Status receive(const char *data, size_t len, std::string &plaintext);
    // Plaintext to send: encrypted into records that wait in take_output(). Only after the
    // handshake completed (a server sends nothing before the client's request).
    Status send(std::string_view plaintext);
    // Queues close_notify (a graceful end of the TLS layer) for take_output().
    void close();

    // The ciphertext produced since the last call (appended to out), to be written to the socket.
    void take_output(std::string &out);
    bool has_output() const;

    bool handshake_complete() const { return SSL_is_init_finished(ssl_) == 1; }
    // The negotiated ALPN protocol ("http/1.1"), empty when the client offered none.
    std::string_view alpn() const;
    // The SNI name the client sent, empty without one.
    std::string_view server_name() const;
    std::string_view version() const { return SSL_get_version(ssl_); }
    const std::string &error_text() const { return error_; }
    // For the setup one side needs beyond the constructor's (a client's name, session, keeper).
    SSL *native() const { return ssl_; }

  private:
    Status fail(const char *what, int ssl_error);

    SSL *ssl_;
    BIO *network_in_;  // ciphertext from the socket, read by OpenSSL
    BIO *network_out_; // ciphertext OpenSSL wrote, for the socket
    std::string error_;
};

} // namespace proxyd
