#include "tls/tls_session.hpp"

#include "tls/openssl_errors.hpp"

#include <openssl/err.h>

namespace proxyd {

TlsSession::TlsSession(SSL_CTX *ctx)
    : ssl_(SSL_new(ctx)), network_in_(BIO_new(BIO_s_mem())), network_out_(BIO_new(BIO_s_mem())) {
    // A memory BIO that runs dry says "retry" rather than end-of-file: more may arrive.
    BIO_set_mem_eof_return(network_in_, -1);
    BIO_set_mem_eof_return(network_out_, -1);
    SSL_set_bio(ssl_, network_in_, network_out_); // the SSL owns both BIOs from here
    SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::Status TlsSession::fail(const char *what, int ssl_error) {
    std::string detail = take_openssl_errors();
    error_ = std::string(what) + " failed (SSL error " + std::to_string(ssl_error) + ")";
    if (!detail.empty()) error_ += ": " + detail;
    return Status::kError;
}

TlsSession::Status TlsSession::receive(const char *data, size_t len, std::string &plaintext) {
    ERR_clear_error();
    if (len > 0 && BIO_write(network_in_, data, static_cast<int>(len)) != static_cast<int>(len))
        return fail("buffering ciphertext", SSL_ERROR_SSL);
    if (!handshake_complete()) {
        int rc = SSL_do_handshake(ssl_);
        if (rc != 1) {
            int err = SSL_get_error(ssl_, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::kOk;
            return fail("the TLS handshake", err);
        }
    }
    // Application data, possibly in the same read as the handshake's last flight.
    char buf[16 * 1024];
    for (;;) {
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
            plaintext.append(buf, static_cast<size_t>(n));
            continue;
        }
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::kOk;
        if (err == SSL_ERROR_ZERO_RETURN) return Status::kClosed;
        return fail("reading a TLS record", err);
    }
}

TlsSession::Status TlsSession::send(std::string_view plaintext) {
    if (!handshake_complete()) {
        error_ = "application data before the TLS handshake completed";
        return Status::kError;
    }
    ERR_clear_error();
    while (!plaintext.empty()) {
        // A memory BIO grows as needed, so a write takes everything or fails.
        size_t written = 0;
        int rc = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written);
        if (rc != 1) return fail("writing a TLS record", SSL_get_error(ssl_, rc));
        plaintext.remove_prefix(written);
    }
    return Status::kOk;
}

void TlsSession::close() {
    ERR_clear_error();
    // One call queues close_notify; the peer's answer is not waited for (as browsers and nginx
    // do), since the TCP connection closes next.
    SSL_shutdown(ssl_);
    ERR_clear_error();
}

void TlsSession::take_output(std::string &out) {
    char *data = nullptr;
    long len = BIO_get_mem_data(network_out_, &data);
    if (len <= 0) return;
    out.append(data, static_cast<size_t>(len));
    (void)BIO_reset(network_out_);
}

bool TlsSession::has_output() const { return BIO_ctrl_pending(network_out_) > 0; }

std::string_view TlsSession::alpn() const {
    const unsigned char *data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &data, &len);
    return data ? std::string_view(reinterpret_cast<const char *>(data), len) : std::string_view();
}

std::string_view TlsSession::server_name() const {
    const char *name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
}

} // namespace proxyd
