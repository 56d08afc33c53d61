// A client connection's output (client_connection.hpp): response heads, bodies, files and
// trailers to the socket, through TLS when the listener has it, with the write queue's
// backpressure pausing and resuming what feeds it.
#include "http/response_head_writer.hpp"
#include "net/half_close.hpp"
#include "server/client_connection.hpp"
#include "server/h2_connection.hpp"
#include "server/worker.hpp"

#include <cassert>
#include <sys/socket.h>

namespace proxyd {

// ---- writing --------------------------------------------------------------------------------

ResponseHeadWriter ClientConnection::start_head(std::string &out, int status, std::string_view reason) {
    if (!h2_stream_ || !peer_) return ResponseHeadWriter(out, status, reason);
    out.clear();
    return ResponseHeadWriter(peer_->stream_head_fields(), status);
}

void ClientConnection::end_head(ResponseHeadWriter &head, std::string_view date, const HeadEnding &ending) {
    head.end(date, ending);
    const ResponseFields *fields = head.fields_out();
    if (!fields || !peer_ || !writable() || write_shut_) return;
    int status = fields->status();
    // A HEAD's, 204's or 304's head ends the stream, as does an empty body's.
    bool has_body = method() != "HEAD" && status != 204 && status != 304 && fields->content_length() != 0u;
    if (ending.opens_tunnel) peer_->stream_tunnel_opens();
    peer_->stream_head(*fields, has_body);
}

void ClientConnection::end_interim_head(ResponseHeadWriter &head) {
    head.end_interim();
    // Every 1xx goes on, as over HTTP/1.1: RFC 9110 §15.2 has a proxy forward those it did not
    // ask for, and every client must parse them (a browser preloads what a 103's Link names).
    const ResponseFields *fields = head.fields_out();
    if (!fields || !peer_ || !writable() || write_shut_) return;
    peer_->stream_interim_head(*fields);
}

void ClientConnection::send(std::string_view data) {
    uv_buf_t buf = uv_buf_init(const_cast<char *>(data.data()), static_cast<unsigned>(data.size()));
    send(&buf, 1);
}

void ClientConnection::send(const uv_buf_t *bufs, size_t count) {
    if (!writable() || write_shut_) return;
    if (h2_stream_) {
        if (peer_) peer_->stream_response(bufs, count); // its H2Connection times out a stalled stream
        return;
    }
    if (tls_) return send_encrypted(bufs, count);
    write_to_socket(bufs, count);
}

std::span<char> ClientConnection::body_space(size_t hint) {
    if (!h2_stream_ || !peer_ || !writable() || write_shut_) return {};
    return peer_->stream_body_space(hint);
}

void ClientConnection::return_body_space() {
    if (h2_stream_ && peer_) peer_->stream_return_body_space();
}

bool ClientConnection::send_file(int fd, uint64_t offset, uint64_t length) {
    if (!h2_stream_ || !peer_ || !writable() || write_shut_) return false;
    return peer_->stream_file(fd, offset, length);
}

void ClientConnection::send_trailers(const MessageHead &trailers, const ConnectionOptions &options) {
    if (peer_ && writable() && !write_shut_) peer_->stream_trailers(trailers, options);
}

void ClientConnection::encrypt_for_next_send(const uv_buf_t *bufs, size_t count) {
    if (!tls_) return send(bufs, count);
    if (!writable() || write_shut_) return;
    encrypt(bufs, count);
}

// All records of one write go out in one socket write, those encrypt_for_next_send() made too.
void ClientConnection::send_encrypted(const uv_buf_t *bufs, size_t count) {
    if (encrypt(bufs, count)) flush_tls_output();
}

bool ClientConnection::encrypt(const uv_buf_t *bufs, size_t count) {
    TlsBuffers &buffers = worker_.tls_buffers();
    bool ok = tls_->session.send(bufs, count, buffers.gathered, buffers.records) == TlsSession::Status::kOk;
    if (!ok) {
        buffers.records.clear();
        worker_.logger().warn("client " + client_ip_ + ": TLS: " + tls_->session.error_text());
        write_failed();
    }
    return ok;
}

void ClientConnection::write_to_socket(const uv_buf_t *bufs, size_t count) {
    size_t total = 0;
    for (size_t i = 0; i < count; ++i)
        total += bufs[i].len;
    size_t queued_before = writer_.queued_bytes();
    if (writer_.write(bufs, count) != 0) return write_failed();
    // What the socket took at once is sent now; the rest is counted when its write completes.
    metrics_.bytes_sent.add(total - (writer_.queued_bytes() - queued_before));
    // A client that stops reading mid-response is cut off after send_timeout without progress.
    if (writer_.queued_bytes() > 0 && timer_mode_ == kTimerNone)
        arm_timer(static_cast<uint64_t>(listener_.limits.send_timeout.count()), kTimerSend);
}

void ClientConnection::await_writable() {
    if (timer_mode_ == kTimerNone || timer_mode_ == kTimerSend)
        arm_timer(static_cast<uint64_t>(listener_.limits.send_timeout.count()), kTimerSend);
}

void ClientConnection::write_failed() {
    // A second failed write (TLS output made while lingering) has nothing left to do.
    if (connection_phase_ >= ConnectionPhase::kLingering) return;
    // Closed on the next loop turn, not here: the caller may be an exchange mid-call.
    set_connection_phase(ConnectionPhase::kLingering);
    arm_timer(1, kTimerLinger);
}

void ClientConnection::on_write_done(int status, size_t bytes) {
    if (status == 0) metrics_.bytes_sent.add(bytes);
    if (status < 0) {
        close_now();
        return;
    }
    if (connection_phase_ == ConnectionPhase::kClosed) return;
    size_t queued = writer_.queued_bytes();
    if (timer_mode_ == kTimerSend) {
        if (queued == 0)
            arm_timer(0, kTimerNone);
        else
            arm_timer(static_cast<uint64_t>(listener_.limits.send_timeout.count()), kTimerSend);
    }
    if (connection_phase_ == ConnectionPhase::kClosingAfterFlush && queued == 0 && !exchange_) {
        begin_close();
        return;
    }
    if (queued <= kLowWater && exchange_) exchange_->on_client_drained();
    if (queued <= kLowWater && h2_) h2_->on_socket_drained();
    if (h2_ && queued == 0) h2_activity();
}

void ClientConnection::start_tunnel() {
    // A connection whose write already failed stays lingering; its reads are discarded.
    if (connection_phase_ == ConnectionPhase::kOpen) set_connection_phase(ConnectionPhase::kTunnel);
    arm_timer(0, kTimerNone);
    std::string held;
    held.swap(pending_);
    if (connection_phase_ != ConnectionPhase::kClosed && !body_paused_) start_reading();
    if (!held.empty() && exchange_) exchange_->on_tunnel_bytes(held);
    // A WebSocket stream whose client ended its side before the upstream agreed.
    if (h2_stream_ && read_ended_ && exchange_) exchange_->on_tunnel_client_ended();
}

void ClientConnection::shutdown_write() {
    if (!writable() || write_shut_) return;
    assert(connection_phase_ == ConnectionPhase::kTunnel);
    if (h2_stream_) {
        write_shut_ = true;
        if (peer_) peer_->stream_end_response(); // END_STREAM
        return;
    }
    send_close_notify();
    write_shut_ = true;
    half_close_after_writes(reinterpret_cast<uv_stream_t *>(&tcp_));
}

void ClientConnection::pause_body() {
    if (body_paused_) return;
    body_paused_ = true;
    if (timer_mode_ == kTimerBody) arm_timer(0, kTimerNone);
    stop_reading();
}

void ClientConnection::resume_body() {
    if (!body_paused_) return;
    body_paused_ = false;
    if (request_phase_ == RequestPhase::kBody && request_->parser.has_body() && timer_mode_ == kTimerNone)
        arm_body_timer();
    if (connection_phase_ != ConnectionPhase::kClosed && pending_.size() <= kMaxPending && !read_ended_ &&
        !body_reading_stopped_)
        start_reading();
}

} // namespace proxyd
