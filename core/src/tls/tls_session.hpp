// One TLS connection's record layer, without any I/O: the connection that owns the socket hands
// in the ciphertext it read and writes out the ciphertext this produces, and the event loop never
// blocks on OpenSSL (the way Node.js and H2O put TLS over libuv). Handshake, records, alerts and
// close_notify are appended to the output buffer of the call that produced them.
//
// OpenSSL reads and writes through a BIO of this class's own that holds no bytes: it reads the
// caller's ciphertext where it lies and appends records to the caller's buffer. Memory BIOs would
// keep two buffers per connection, grown to the largest flight and never shrunk, and cost one
// more copy of every byte each way; OpenSSL keeps an incomplete record in its own read buffer,
// which SSL_MODE_RELEASE_BUFFERS frees once empty.
//
// One session per connection, used on that connection's thread only.
#pragma once

#include <openssl/ssl.h>
#include <string>
#include <string_view>
#include <uv.h>

namespace proxyd {

// What a client's certificate proved (server side, mTLS), read once the handshake completed.
struct TlsClientCertificate {
    enum class Verify { kNone, kSuccess, kFailed };
    Verify verify = Verify::kNone;
    std::string subject;     // RFC 4514 distinguished name; with a certificate only
    std::string fingerprint; // SHA-256 of the DER certificate, lower-case hex; with a certificate only
    std::string failure;     // why verification failed (OpenSSL's words), with kFailed
    // As nginx's $ssl_client_verify: "SUCCESS", "NONE" or "FAILED:reason".
    std::string verify_text() const;
};

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

    // Ciphertext read from the socket, all of it consumed. Decrypted application data is
    // appended to plaintext; the handshake's answers (or an alert) to output, for the socket.
    Status receive(const char *data, size_t len, std::string &plaintext, std::string &output);
    // Plaintext to send, encrypted into records appended to output. Only after the handshake
    // completed (a server sends nothing before the client's request).
    Status send(std::string_view plaintext, std::string &output);
    // One write's gather list, encrypted into records appended to output. Small slices are joined
    // in gathered (emptied again) so that they share a record, as a record costs one seal and 22
    // bytes; a slice of a full record or more is encrypted where it lies, without a copy.
    Status send(const uv_buf_t *bufs, size_t count, std::string &gathered, std::string &output);
    // Appends close_notify (a graceful end of the TLS layer) to output.
    void close(std::string &output);

    bool handshake_complete() const { return SSL_is_init_finished(ssl_) == 1; }
    // The negotiated ALPN protocol ("http/1.1"), empty when the client offered none.
    std::string_view alpn() const;
    // The SNI name the client sent, empty without one.
    std::string_view server_name() const;
    std::string_view version() const { return SSL_get_version(ssl_); }
    // The negotiated cipher suite, e.g. "TLS_AES_128_GCM_SHA256".
    std::string_view cipher() const;
    // The handshake resumed an earlier session (ticket or cache).
    bool session_reused() const { return SSL_session_reused(ssl_) == 1; }
    // The client's certificate and its verification; kNone without one. A resumed session
    // reports what its first handshake verified.
    TlsClientCertificate client_certificate() const;
    const std::string &error_text() const { return error_; }
    // For the setup one side needs beyond the constructor's (a client's name, session, keeper).
    SSL *native() const { return ssl_; }

  private:
    // The BIO's view of the caller's buffers, for the length of one call (Exchange).
    class Exchange;
    static const BIO_METHOD *network_method();
    static int network_read(BIO *bio, char *out, size_t len, size_t *read);
    static int network_write(BIO *bio, const char *in, size_t len, size_t *written);
    static long network_ctrl(BIO *bio, int cmd, long num, void *ptr);
    Status fail(const char *what, int ssl_error);

    SSL *ssl_;
    std::string_view input_;        // ciphertext not yet read by OpenSSL, during receive() only
    std::string *output_ = nullptr; // where records go, during a call only
    std::string error_;
};

} // namespace proxyd
