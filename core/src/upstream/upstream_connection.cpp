#include "upstream/upstream_connection.hpp"

#include "net/half_close.hpp"
#include "tls/tls_session.hpp"
#include "upstream/upstream_pool.hpp"
#include "upstream/upstream_worker.hpp"

namespace proxyd {

UpstreamConnection::UpstreamConnection(UpstreamPool &pool, size_t peer)
    : pool_(pool), peer_(peer), discovered_(pool.discovered(peer)), epoch_(pool.epoch(peer)),
      writer_(pool.worker().write_blocks(), reinterpret_cast<uv_stream_t *>(&tcp_), *this) {
    uv_loop_t *loop = pool.worker().loop();
    uv_tcp_init(loop, &tcp_);
    tcp_.data = this;
    timer_.init(loop, this, [](void *owner) {
        auto *self = static_cast<UpstreamConnection *>(owner);
        if (self->idle_) return self->on_idle_event();
        if (self->owner_) self->owner_->on_upstream_timeout();
    });
    pool.metrics().peers[peer].open.add();
}

UpstreamConnection::~UpstreamConnection() = default;

const PeerConfig &UpstreamConnection::peer_config() const {
    return discovered_ ? *discovered_ : pool_.config().peers[peer_];
}

int UpstreamConnection::connect(Owner *owner, uint64_t timeout_ms) {
    owner_ = owner;
    const auto &address = peer_config().address;
    connect_req_.data = this;
    int rc = uv_tcp_connect(&connect_req_, &tcp_, address.sockaddr_ptr(), [](uv_connect_t *req, int status) {
        auto *self = static_cast<UpstreamConnection *>(req->data);
        if (self->closing_) return;
        // A failed connect must not also come back as a read error.
        if (status != 0) self->read_stop();
        if (status == 0) uv_tcp_nodelay(&self->tcp_, 1);
        if (status == 0 && self->peer_config().tls) return self->start_tls();
        if (self->owner_) self->owner_->on_upstream_connected(status);
    });
    if (rc != 0) {
        owner_ = nullptr;
        close();
        return rc;
    }
    // Every owner reads from the moment it is connected. Asking now makes libuv register the
    // socket for both directions at once; asked in the connect callback, it costs one more
    // epoll_ctl per connection (libuv forgets the socket's events when the connect's POLLOUT
    // stops, then re-adds it: ADD, EEXIST, MOD). libuv reports the connect before any read.
    read_start();
    arm_timeout(timeout_ms);
    return 0;
}

void UpstreamConnection::attach(Owner *owner) {
    owner_ = owner;
    idle_ = false;
    reused_ = true;
    timer_.cancel();
    // Reading stays on: stopping and restarting it costs two epoll_ctl calls per request.
}

void UpstreamConnection::park(uint64_t idle_timeout_ms) {
    owner_ = nullptr;
    idle_ = true;
    tls_output_ = std::string(); // an idle connection keeps no ciphertext buffer (a request's worth)
    // Reading while idle notices the peer closing (EOF) so the pool drops the connection. Usually
    // a no-op: the connection was reading while attached.
    read_start();
    timer_.arm(idle_timeout_ms);
}

void UpstreamConnection::on_idle_event() {
    pool_.forget_idle(this);
    close();
}

void UpstreamConnection::send(std::string_view data) {
    uv_buf_t buf = uv_buf_init(const_cast<char *>(data.data()), static_cast<unsigned>(data.size()));
    send(&buf, 1);
}

void UpstreamConnection::send(const uv_buf_t *bufs, size_t count) {
    if (closing_ || count == 0) return;
    if (tls_) {
        // A chunk's size line, data and CRLF share a record rather than making three.
        if (tls_->send(bufs, count, pool_.worker().tls_buffers().gathered, tls_output_) !=
            TlsSession::Status::kOk) {
            // Reported through the read side, as a socket's write failure is.
            tls_output_.clear();
            tls_error_ = tls_->error_text();
            write_failed_ = true;
            return;
        }
        return flush_tls_output();
    }
    // A failure here is reported through the read side: a broken socket also fails its reads.
    // Until then (the read side may be paused while the response waits for the client),
    // write_failed() tells the owner its bytes go nowhere.
    if (writer_.write(bufs, count) < 0) write_failed_ = true;
}

void UpstreamConnection::on_write_done(int status, size_t) {
    if (closing_ || !owner_) return;
    if (tls_ && !handshake_done_) {
        // The owner knows nothing of the handshake's writes.
        if (status < 0) handshake_failed(status, std::string("TLS handshake: ") + uv_strerror(status));
        return;
    }
    if (status < 0) {
        // Heard through the read side, as a failure in send() is: what the peer sent before it
        // closed (an early answer, the rest of a response the client is slow to take) is still
        // in the socket's buffer, and reading it first delivers it whole before the error.
        write_failed_ = true;
        return;
    }
    owner_->on_upstream_write_done();
}

void UpstreamConnection::shutdown_write() {
    if (closing_) return;
    if (tls_) {
        // The TLS layer ends first (close_notify), so the peer sees a clean end, not a truncation.
        tls_->close(tls_output_);
        flush_tls_output();
    }
    half_close_after_writes(reinterpret_cast<uv_stream_t *>(&tcp_));
}

void UpstreamConnection::on_alloc(uv_handle_t *h, size_t, uv_buf_t *buf) {
    auto *self = static_cast<UpstreamConnection *>(h->data);
    // A TLS peer's records are decrypted into tls_plaintext_ before the owner sees them.
    if (self->owner_ && !self->tls_ && !self->idle_) {
        std::span<char> space = self->owner_->upstream_read_space();
        if (!space.empty()) {
            *buf = uv_buf_init(space.data(), static_cast<unsigned>(space.size()));
            return;
        }
    }
    *buf = uv_buf_init(self->pool_.worker().read_buffer(), UpstreamWorker::kReadBufferSize);
}

void UpstreamConnection::on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    auto *self = static_cast<UpstreamConnection *>(s->data);
    if (self->closing_) return;
    if (nread == 0) {
        // libuv reads until a read does not fill its buffer; one that did ends with this empty one.
        if (self->owner_ && !self->tls_ && !self->idle_) self->owner_->on_upstream_read_nothing();
        return;
    }
    if (self->tls_) return self->on_tls_read(nread, buf->base);
    if (self->idle_) {
        // An idle connection must be silent: EOF, an error or stray bytes all end it.
        self->pool_.forget_idle(self);
        self->close();
        return;
    }
    if (!self->owner_) return;
    if (nread < 0) {
        self->read_stop();
        self->owner_->on_upstream_closed(static_cast<int>(nread));
        return;
    }
    self->owner_->on_upstream_read(buf->base, static_cast<size_t>(nread));
}

void UpstreamConnection::read_start() {
    if (reading_ || closing_) return;
    if (uv_read_start(reinterpret_cast<uv_stream_t *>(&tcp_), on_alloc, on_read) == 0) reading_ = true;
}

void UpstreamConnection::read_stop() {
    if (!reading_) return;
    uv_read_stop(reinterpret_cast<uv_stream_t *>(&tcp_));
    reading_ = false;
}

void UpstreamConnection::arm_timeout(uint64_t ms) {
    if (closing_) return;
    timer_.arm(ms);
}

void UpstreamConnection::close() {
    if (closing_) return;
    closing_ = true;
    owner_ = nullptr;
    // A session whose connection ends without close_notify is not resumable for OpenSSL (a
    // truncation could hide there). proxyd ends its own connections on purpose, so it says
    // goodbye first: sent when the socket takes it at once, not worth a queued write otherwise.
    if (tls_ && handshake_done_) {
        tls_output_.clear();
        tls_->close(tls_output_);
        if (writer_.queued_bytes() == 0 && !tls_output_.empty()) {
            uv_buf_t buf = uv_buf_init(tls_output_.data(), static_cast<unsigned>(tls_output_.size()));
            (void)uv_try_write(reinterpret_cast<uv_stream_t *>(&tcp_), &buf, 1);
        }
    }
    pool_.metrics().peers[peer_].open.sub();
    auto on_closed = [](uv_handle_t *h) {
        auto *self = static_cast<UpstreamConnection *>(h->data);
        if (--self->handles_open_ == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), on_closed);
    uv_close(timer_.handle(), on_closed);
}

// ---- TLS ---------------------------------------------------------------------------------------

void UpstreamConnection::start_tls() {
    const PeerConfig &peer = peer_config();
    const TlsClientContext &context = *pool_.config().tls;
    tls_ = std::make_unique<TlsSession>(context.ctx());
    if (!context.prepare(tls_->native(), peer.tls_name, peer.tls_name_is_ip, pool_.tls_session(peer_), this))
        return handshake_failed(UV_EPROTO, "TLS: cannot use the name '" + peer.tls_name + "'");
    read_start();
    // The first call writes the ClientHello.
    TlsSession::Status status = tls_->receive(nullptr, 0, tls_plaintext_, tls_output_);
    flush_tls_output();
    if (status == TlsSession::Status::kError) handshake_failed(UV_EPROTO, tls_->error_text());
}

void UpstreamConnection::handshake_failed(int status, std::string why) {
    tls_error_ = std::move(why);
    read_stop();
    Owner *owner = owner_;
    if (owner) owner->on_upstream_connected(status);
}

void UpstreamConnection::on_tls_read(ssize_t nread, const char *data) {
    if (nread < 0) {
        if (!handshake_done_)
            return handshake_failed(static_cast<int>(nread),
                                    nread == UV_EOF ? "TLS handshake: the peer closed the connection"
                                                    : std::string("TLS handshake: ") +
                                                          uv_strerror(static_cast<int>(nread)));
        return tls_stream_ended(static_cast<int>(nread));
    }
    tls_plaintext_.clear();
    TlsSession::Status status = tls_->receive(data, static_cast<size_t>(nread), tls_plaintext_, tls_output_);
    flush_tls_output(); // the handshake's next flight, or an alert
    if (status == TlsSession::Status::kError) {
        std::string why = tls_->error_text();
        if (!handshake_done_)
            return handshake_failed(UV_EPROTO, pool_.config().tls->handshake_failure(tls_->native(), why));
        tls_error_ = why;
        return tls_stream_ended(UV_EPROTO);
    }
    if (!handshake_done_) {
        if (!tls_->handshake_complete()) return;
        handshake_done_ = true;
        if (owner_) owner_->on_upstream_connected(0);
        if (closing_) return;
    }
    if (idle_) {
        // Post-handshake messages (session tickets, key updates) are fine; data or an end is not.
        if (!tls_plaintext_.empty() || status == TlsSession::Status::kClosed) tls_stream_ended(UV_EOF);
        return;
    }
    if (owner_ && !tls_plaintext_.empty())
        owner_->on_upstream_read(tls_plaintext_.data(), tls_plaintext_.size());
    if (closing_) return;
    // close_notify: the peer's end of the stream, as EOF is for cleartext.
    if (status == TlsSession::Status::kClosed) return tls_stream_ended(UV_EOF);
    // A parked connection keeps no plaintext buffer (a response's worth).
    if (idle_) tls_plaintext_ = std::string();
}

void UpstreamConnection::tls_stream_ended(int status) {
    if (idle_) {
        pool_.forget_idle(this);
        return close();
    }
    read_stop();
    if (owner_) owner_->on_upstream_closed(status);
}

void UpstreamConnection::flush_tls_output() {
    if (tls_output_.empty()) return;
    uv_buf_t buf = uv_buf_init(tls_output_.data(), static_cast<unsigned>(tls_output_.size()));
    if (writer_.write(&buf, 1) < 0) write_failed_ = true; // it copies what the socket does not take
    tls_output_.clear();
}

void UpstreamConnection::keep_session(SSL_SESSION *session) { pool_.keep_tls_session(peer_, session); }

} // namespace proxyd
