#include "tls/tls_session.hpp"

#include "tls/openssl_errors.hpp"

#include <algorithm>
#include <cstring>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace proxyd {

// Points the BIO at the caller's buffers for one call, and away from them after it.
class TlsSession::Exchange {
  public:
    Exchange(TlsSession &session, std::string_view input, std::string &output) : session_(session) {
        session_.input_ = input;
        session_.output_ = &output;
    }
    ~Exchange() {
        session_.input_ = {};
        session_.output_ = nullptr;
    }
    Exchange(const Exchange &) = delete;
    Exchange &operator=(const Exchange &) = delete;

  private:
    TlsSession &session_;
};

// Made once per process and never changed after: a table of functions, like BIO_s_mem()'s.
const BIO_METHOD *TlsSession::network_method() {
    static const BIO_METHOD *method = [] {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "proxyd connection");
        BIO_meth_set_read_ex(m, network_read);
        BIO_meth_set_write_ex(m, network_write);
        BIO_meth_set_ctrl(m, network_ctrl);
        return m;
    }();
    return method;
}

int TlsSession::network_read(BIO *bio, char *out, size_t len, size_t *read) {
    auto *self = static_cast<TlsSession *>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (self->input_.empty()) {
        BIO_set_retry_read(bio); // more may arrive: "retry", not end-of-file
        *read = 0;
        return 0;
    }
    size_t n = std::min(len, self->input_.size());
    std::memcpy(out, self->input_.data(), n);
    self->input_.remove_prefix(n);
    *read = n;
    return 1;
}

int TlsSession::network_write(BIO *bio, const char *in, size_t len, size_t *written) {
    auto *self = static_cast<TlsSession *>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (!self->output_) { // OpenSSL writing outside a call of ours: never seen, but not a crash
        BIO_set_retry_write(bio);
        *written = 0;
        return 0;
    }
    self->output_->append(in, len);
    *written = len;
    return 1;
}

long TlsSession::network_ctrl(BIO *, int cmd, long, void *) {
    // Writes are complete when they return, so a flush has nothing to do; nothing else applies.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

TlsSession::TlsSession(SSL_CTX *ctx) : ssl_(SSL_new(ctx)) {
    BIO *network = BIO_new(network_method());
    BIO_set_data(network, this);
    BIO_set_init(network, 1);
    SSL_set_bio(ssl_, network, network); // the SSL owns the BIO from here (one reference for both)
    SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::Status TlsSession::fail(const char *what, int ssl_error) {
    std::string detail = take_openssl_errors();
    error_ = std::string(what) + " failed (SSL error " + std::to_string(ssl_error) + ")";
    if (!detail.empty()) error_ += ": " + detail;
    return Status::kError;
}

TlsSession::Status TlsSession::receive(const char *data, size_t len, std::string &plaintext,
                                       std::string &output) {
    ERR_clear_error();
    Exchange exchange(*this, {data, len}, output);
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

TlsSession::Status TlsSession::send(std::string_view plaintext, std::string &output) {
    if (!handshake_complete()) {
        error_ = "application data before the TLS handshake completed";
        return Status::kError;
    }
    ERR_clear_error();
    Exchange exchange(*this, {}, output);
    while (!plaintext.empty()) {
        // The BIO's writes always succeed, so a write takes everything or fails.
        size_t written = 0;
        int rc = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written);
        if (rc != 1) return fail("writing a TLS record", SSL_get_error(ssl_, rc));
        plaintext.remove_prefix(written);
    }
    return Status::kOk;
}

TlsSession::Status TlsSession::send(const uv_buf_t *bufs, size_t count, std::string &gathered,
                                    std::string &output) {
    constexpr size_t kRecordPlaintext = 16 * 1024; // the most one TLS record carries
    gathered.clear();
    Status status = Status::kOk;
    for (size_t i = 0; i < count && status == Status::kOk; ++i) {
        std::string_view slice(bufs[i].base, bufs[i].len);
        // Joined bytes are topped up to a full record before a large slice goes out in place,
        // unless the slice is whole records (an HTTP/2 DATA frame of H2DataQueue's, a 64 KiB
        // piece of a file): topping up would then copy a record only to leave its tail alone in
        // one, the same count of records as sending the joined bytes on their own.
        size_t take = slice.size() < kRecordPlaintext        ? slice.size()
                      : gathered.empty()                     ? 0
                      : slice.size() % kRecordPlaintext == 0 ? 0
                                                             : kRecordPlaintext - gathered.size();
        gathered.append(slice.substr(0, take));
        slice.remove_prefix(take);
        if (gathered.size() >= kRecordPlaintext || (!slice.empty() && !gathered.empty())) {
            status = send(gathered, output);
            gathered.clear();
        }
        if (status == Status::kOk && !slice.empty()) status = send(slice, output);
    }
    if (status == Status::kOk && !gathered.empty()) status = send(gathered, output);
    gathered.clear();
    return status;
}

void TlsSession::close(std::string &output) {
    ERR_clear_error();
    Exchange exchange(*this, {}, output);
    // One call queues close_notify; the peer's answer is not waited for (as browsers and nginx
    // do), since the TCP connection closes next.
    SSL_shutdown(ssl_);
    ERR_clear_error();
}

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

std::string_view TlsSession::cipher() const {
    const char *name = SSL_get_cipher_name(ssl_);
    return name && handshake_complete() ? name : "";
}

namespace {

// The subject in RFC 4514 (2253) form, every byte outside printable ASCII escaped by OpenSSL, so
// it can go into a header field as it is.
std::string subject_text(X509 *cert) {
    BIO *out = BIO_new(BIO_s_mem());
    if (!out) return {};
    X509_NAME_print_ex(out, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char *data = nullptr;
    long len = BIO_get_mem_data(out, &data);
    std::string text = len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
    BIO_free(out);
    // ESC_CTRL and ESC_MSB leave none, but a header must never carry a control byte.
    for (char &ch : text)
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
    return text;
}

std::string sha256_hex(X509 *cert) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), digest, &len) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        hex.push_back(kHex[digest[i] >> 4]);
        hex.push_back(kHex[digest[i] & 15]);
    }
    return hex;
}

} // namespace

TlsClientCertificate TlsSession::client_certificate() const {
    TlsClientCertificate out;
    if (!handshake_complete()) return out;
    X509 *cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return out;
    out.subject = subject_text(cert);
    out.fingerprint = sha256_hex(cert);
    X509_free(cert);
    long result = SSL_get_verify_result(ssl_);
    if (result == X509_V_OK) {
        out.verify = TlsClientCertificate::Verify::kSuccess;
    } else {
        out.verify = TlsClientCertificate::Verify::kFailed;
        out.failure = X509_verify_cert_error_string(result);
    }
    return out;
}

std::string TlsClientCertificate::verify_text() const {
    switch (verify) {
    case Verify::kSuccess:
        return "SUCCESS";
    case Verify::kFailed:
        return "FAILED:" + failure;
    case Verify::kNone:
        break;
    }
    return "NONE";
}

} // namespace proxyd
