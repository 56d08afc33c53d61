#include "proxy/upstream_connection.hpp"

#include "net/half_close.hpp"
#include "proxy/upstream_pool.hpp"
#include "server/worker.hpp"

namespace proxyd {

UpstreamConnection::UpstreamConnection(UpstreamPool &pool, size_t peer)
    : pool_(pool), peer_(peer),
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

int UpstreamConnection::connect(Owner *owner, uint64_t timeout_ms) {
    owner_ = owner;
    const auto &address = pool_.config().peers[peer_].address;
    connect_req_.data = this;
    int rc = uv_tcp_connect(&connect_req_, &tcp_, address.sockaddr_ptr(), [](uv_connect_t *req, int status) {
        auto *self = static_cast<UpstreamConnection *>(req->data);
        if (self->closing_) return;
        if (status == 0) uv_tcp_nodelay(&self->tcp_, 1);
        if (self->owner_) self->owner_->on_upstream_connected(status);
    });
    if (rc != 0) {
        owner_ = nullptr;
        close();
        return rc;
    }
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
    if (closing_) return;
    // A failure here is reported through the read side: a broken socket also fails its reads.
    (void)writer_.write(bufs, count);
}

void UpstreamConnection::on_write_done(int status, size_t) {
    if (closing_ || !owner_) return;
    if (status < 0) {
        owner_->on_upstream_closed(status);
        return;
    }
    owner_->on_upstream_write_done();
}

void UpstreamConnection::shutdown_write() {
    if (closing_) return;
    half_close_after_writes(reinterpret_cast<uv_stream_t *>(&tcp_));
}

void UpstreamConnection::on_alloc(uv_handle_t *h, size_t, uv_buf_t *buf) {
    auto *self = static_cast<UpstreamConnection *>(h->data);
    *buf = uv_buf_init(self->pool_.worker().read_buffer(), Worker::kReadBufferSize);
}

void UpstreamConnection::on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    auto *self = static_cast<UpstreamConnection *>(s->data);
    if (nread == 0 || self->closing_) return;
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
    pool_.metrics().peers[peer_].open.sub();
    auto on_closed = [](uv_handle_t *h) {
        auto *self = static_cast<UpstreamConnection *>(h->data);
        if (--self->handles_open_ == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), on_closed);
    uv_close(timer_.handle(), on_closed);
}

} // namespace proxyd
