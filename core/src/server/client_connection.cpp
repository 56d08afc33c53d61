#include "server/client_connection.hpp"

#include "net/half_close.hpp"
#include "net/socket_names.hpp"
#include "server/h2_connection.hpp"
#include "server/worker.hpp"

#include <cassert>
#include <memory>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace proxyd {

namespace {

constexpr uint64_t kLingerMs = 2000;

// RFC 9113 §3.4: what an HTTP/2 client with prior knowledge sends first.
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

} // namespace

ClientConnection::ClientConnection(Worker &worker, const ListenerConfig &listener)
    : worker_(worker), listener_(listener),
      metrics_(worker.metrics().listener(static_cast<size_t>(&listener - worker.config().listeners.data()))),
      writer_(worker.write_blocks(), reinterpret_cast<uv_stream_t *>(&tcp_), *this) {}

ClientConnection::~ClientConnection() {
    if (request_) request_->parser.restart(); // whatever it saw last, the next taker starts afresh
    release_request();
}

void ClientConnection::take_request() {
    request_ = worker_.client_requests().take(worker_.request_limits(listener_), *this);
    request_->handle.worker = &worker_;
    request_->handle.connection = this;
}

// The filter state goes first, while the request and every member are alive: freeing a plugin's
// request state may call host calls about the request (subrequest_cancel), which then find none.
void ClientConnection::release_request() {
    if (!request_) return;
    // Taken out first, as reset() would: host calls a freed state makes find no filter state.
    if (std::unique_ptr<RequestFilters> f = std::move(request_->filters)) {
        std::destroy_at(f.get()); // every member's own end (states, subrequests, the hang-up watch)
        std::construct_at(f.get());
        request_->spare_filters = std::move(f);
    }
    worker_.client_requests().give_back(std::move(request_));
}

void ClientConnection::accept(Worker &worker, const ListenerConfig &listener, uv_stream_t *server) {
    auto *c = new ClientConnection(worker, listener);
    uv_tcp_init(worker.loop(), &c->tcp_);
    c->tcp_.data = c;
    c->timer_.init(worker.loop(), c, on_timer);
    c->handles_open_ = 2;
    worker.connection_opened(c);
    c->metrics_.connection_opened();
    if (uv_accept(server, reinterpret_cast<uv_stream_t *>(&c->tcp_)) != 0) {
        c->close_now();
        return;
    }
    uv_tcp_nodelay(&c->tcp_, 1);
    c->client_ip_ = peer_ip(&c->tcp_);
    // A TLS client has handshake_timeout for the whole handshake, however it trickles it; the
    // header timeout starts once the handshake completes.
    if (listener.tls) {
        c->tls_ = std::make_unique<TlsState>(listener.tls->initial());
        c->arm_timer(static_cast<uint64_t>(listener.limits.handshake_timeout.count()), kTimerHandshake);
    } else {
        c->arm_timer(static_cast<uint64_t>(listener.limits.header_timeout.count()), kTimerHeader);
        c->h2c_possible_ = listener.http2;
    }
    c->start_reading();
}

ClientConnection *ClientConnection::open_stream(ClientConnection &parent, StreamPeer &peer) {
    auto *c = new ClientConnection(parent.worker_, parent.listener_);
    c->peer_ = &peer;
    c->parent_ = &parent;
    c->h2_stream_ = true;
    c->client_ip_ = parent.client_ip_;
    c->timer_.init(parent.worker_.loop(), c, on_timer);
    c->handles_open_ = 1;
    c->reading_ = true;
    return c;
}

void ClientConnection::feed_stream(std::string_view bytes) {
    if (connection_phase_ == ConnectionPhase::kTunnel && exchange_ && !bytes.empty())
        return exchange_->on_tunnel_bytes(bytes); // a WebSocket stream's DATA after its 200
    if (connection_phase_ != ConnectionPhase::kOpen || bytes.empty()) return;
    feed(bytes.data(), bytes.size());
}

void ClientConnection::start_stream_request(const H2RequestHead &head) {
    if (connection_phase_ != ConnectionPhase::kOpen) return;
    if (!request_) take_request();
    stream_began_ns_ = head.began_ns;
    in_parser_ = true;
    RequestParser::Result result =
        request_->parser.accept_head(head.method, head.path, head.fields, head.has_body);
    in_parser_ = false;
    after_parse(result, nullptr, 0);
    resume_parsing();
}

void ClientConnection::end_stream_body(std::span<const std::pair<std::string, std::string>> trailers) {
    if (request_ && !trailers.empty()) request_->parser.accept_trailers(trailers);
    stream_body_end_due_ = true;
    resume_parsing();
}

void ClientConnection::stream_input_ended() {
    if (read_ended_) return;
    read_ended_ = true;
    // Before the tunnel starts, start_tunnel() passes it on after the bytes held until then.
    if (connection_phase_ == ConnectionPhase::kTunnel && exchange_) exchange_->on_tunnel_client_ended();
}

// As on_write_done does for a socket: the exchange hears that the client takes bytes again (the
// stream's send timeout is its H2Connection's, which also covers a response that completed).
void ClientConnection::stream_drained(size_t queued) {
    if (connection_phase_ == ConnectionPhase::kClosed) return;
    if (queued <= kLowWater && exchange_) exchange_->on_client_drained();
}

void ClientConnection::start_h2() {
    h2c_possible_ = false;
    h2_ = std::make_unique<H2Connection>(*this, h2_limits(listener_));
    // The first request may take as long as an idle connection may wait, not header_timeout.
    arm_timer(static_cast<uint64_t>(listener_.limits.keepalive_timeout.count()), kTimerIdle);
    if (worker_.draining(listener_)) h2_->drain();
}

bool ClientConnection::probe_h2c(const char *data, size_t len) {
    size_t have = h2c_matched_;
    size_t take = std::min(len, kH2Preface.size() - have);
    if (kH2Preface.substr(have, take) != std::string_view(data, take)) {
        h2c_possible_ = false;
        h2c_matched_ = 0;
        if (have == 0) return true;
        // The bytes held were HTTP/1.1 after all: parsed with the rest.
        std::string all(kH2Preface.substr(0, have));
        all.append(data, len);
        feed(all.data(), all.size());
        return false;
    }
    if (have + take < kH2Preface.size()) {
        h2c_matched_ = static_cast<uint8_t>(have + take);
        return false;
    }
    h2c_matched_ = 0;
    start_h2();
    if (have > 0) h2_->receive(kH2Preface.data(), have);
    if (connection_phase_ == ConnectionPhase::kOpen) h2_->receive(data, len);
    return false;
}

void ClientConnection::close_after_output() {
    if (connection_phase_ < ConnectionPhase::kClosingAfterFlush)
        set_connection_phase(ConnectionPhase::kClosingAfterFlush);
    if (queued_bytes() == 0) begin_close();
}

void ClientConnection::h2_activity() {
    if (!h2_ || connection_phase_ != ConnectionPhase::kOpen || timer_mode_ == kTimerSend) return;
    if (!h2_->idle()) {
        uint64_t due = h2_->stall_deadline();
        uint64_t now = uv_now(worker_.loop());
        if (due == 0)
            arm_timer(0, kTimerNone);
        else
            arm_timer(due > now ? due - now : 1, kTimerH2Stall);
    } else if (h2_->take_stream_opened() || timer_mode_ != kTimerIdle) {
        arm_timer(static_cast<uint64_t>(listener_.limits.keepalive_timeout.count()), kTimerIdle);
        h2_->trim();
    }
}

void ClientConnection::drain_started() {
    if (h2_ && connection_phase_ == ConnectionPhase::kOpen) h2_->drain();
}

void ClientConnection::finish_stream() {
    if (StreamPeer *peer = std::exchange(peer_, nullptr)) peer->stream_closed(true);
    close_now();
}

int ClientConnection::fd() const {
    if (h2_stream_) return -1;
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<const uv_handle_t *>(&tcp_), &fd);
    return fd;
}

bool ClientConnection::wants_keep_alive() const {
    // The response to the connection's last allowed request says Connection: close, so the
    // client knows to open a new one rather than finding this one closed under its next request.
    uint32_t limit = listener_.limits.keepalive_requests;
    if (limit && requests_served_ + 1 >= limit) return false;
    return request_->parser.should_keep_alive() && !worker_.draining(listener_);
}

// ---- phases ---------------------------------------------------------------------------------

// The steps each phase may take are those drawn in the header; an assert catches any other.

void ClientConnection::set_request_phase(RequestPhase next) {
    // The enumerators are declared in the order of the cycle.
    [[maybe_unused]] auto follows = [](RequestPhase phase) {
        return phase == RequestPhase::kComplete ? RequestPhase::kIdle
                                                : static_cast<RequestPhase>(static_cast<uint8_t>(phase) + 1);
    };
    assert(next == follows(request_phase_));
    request_phase_ = next;
}

void ClientConnection::set_response_phase(ResponsePhase next) {
    // Two phases, each step goes to the other: an exchange finishes once per request.
    assert(next != response_phase_);
    response_phase_ = next;
}

void ClientConnection::set_connection_phase(ConnectionPhase next) {
    assert(next > connection_phase_);
    connection_phase_ = next;
}

// ---- timers and closing ---------------------------------------------------------------------

void ClientConnection::arm_timer(uint64_t ms, TimerMode mode) {
    timer_mode_ = mode;
    if (mode == kTimerNone || ms == 0)
        timer_.cancel();
    else
        timer_.arm(ms);
}

void ClientConnection::on_timer(void *owner) {
    auto *c = static_cast<ClientConnection *>(owner);
    switch (c->timer_mode_) {
    case kTimerHandshake:
        // Info, not warn: slow or abandoned handshakes are what scanners and lossy networks produce.
        if (c->worker_.logger().enabled(PROXYD_LOG_INFO))
            c->worker_.logger().info("client " + c->client_ip_ + " on " + c->listener_.listen_text +
                                     ": TLS handshake not completed within handshake_timeout, closing");
        c->close_now();
        break;
    case kTimerHeader:
        // A head begun but not finished in time hears why; a connection that sent nothing does not.
        if (c->request_phase_ == RequestPhase::kHead) {
            c->timer_mode_ = kTimerNone;
            c->send_error(408, true);
        } else {
            c->close_now();
        }
        break;
    case kTimerBody:
        c->worker_.logger().info("client " + c->client_ip_ + ": request body stalled for body_timeout, " +
                                 (c->request_->record.status == 0 ? "answering 408" : "closing"));
        c->timer_mode_ = kTimerNone;
        if (c->request_->record.status != 0) {
            c->close_now(); // a response already began: only cutting the connection is left
        } else {
            // The exchange goes first, taking its upstream connection with it mid-message.
            c->release_exchange();
            c->send_error(408, true);
        }
        break;
    case kTimerSend:
        c->worker_.logger().info("client " + c->client_ip_ + ": send timed out with " +
                                 std::to_string(c->queued_bytes()) + " bytes unsent, closing");
        c->close_now();
        break;
    case kTimerH2Stall:
        c->timer_mode_ = kTimerNone;
        c->h2_->expire_stalled();
        break;
    case kTimerIdle:
        if (c->h2_ && c->connection_phase_ == ConnectionPhase::kOpen && c->queued_bytes() == 0) {
            // HTTP/2 says goodbye (GOAWAY NO_ERROR) before the close, as nginx does; the session,
            // finished once it is written, closes the connection. Should it not, close anyway.
            c->timer_mode_ = kTimerNone;
            c->h2_->expire_idle();
            if (c->connection_phase_ != ConnectionPhase::kOpen) break;
        }
        c->close_now();
        break;
    case kTimerLinger:
        c->close_now();
        break;
    default:
        break;
    }
}

bool ClientConnection::idle() const {
    if (h2_ && !h2_->idle()) return false; // its streams finish first (GOAWAY went out at the drain)
    return request_phase_ == RequestPhase::kIdle && !exchange_ && queued_bytes() == 0;
}

void ClientConnection::close_if_idle() {
    if (idle()) close_now();
}

void ClientConnection::abort() { close_now(); }

void ClientConnection::abort_with_reset() {
    reset_on_close_ = true;
    close_now();
}

void ClientConnection::release_request_hold() {
    request_held_ = false;
    if (handles_open_ == 0) delete this; // closed already
}

// Half-closes after the last response byte and lingers briefly, reading and discarding, so
// that unread pipelined bytes do not turn our close into a reset that destroys the response
// (the kernel may still hold much of it in the socket's send buffer).
// A client that itself asked to close (HTTP/1.0, Connection: close), sent its whole request and
// nothing after it will send nothing more: its connection closes at once, as nginx's
// lingering_close "on" does, saving the shutdown, the wait for its FIN and the read of it. A
// client that expected to keep the connection (closed here by keepalive_requests, a stop or a
// response without a length) may have a next request on its way, and gets the linger.
void ClientConnection::begin_close() {
    if (connection_phase_ >= ConnectionPhase::kLingering) return;
    assert(connection_phase_ == ConnectionPhase::kClosingAfterFlush);
    if (write_shut_) return close_now(); // a tunnel already half-closed; both sides have ended
    send_close_notify();
    // The socket refused the close_notify (the client reset the connection): write_failed()
    // already took the step to kLingering and closes on the next turn.
    if (connection_phase_ >= ConnectionPhase::kLingering) return;
    if (request_phase_ == RequestPhase::kComplete && !request_->parser.should_keep_alive() &&
        pending_.empty() && queued_bytes() == 0 && receive_queue_empty())
        return close_now();
    set_connection_phase(ConnectionPhase::kLingering);
    if (queued_bytes() == 0) {
        // Nothing queued (the usual case): shutdown(2) at once. uv_shutdown would arm the write
        // watcher and disarm it again (two epoll_ctl) only to find the queue empty.
        if (::shutdown(fd(), SHUT_WR) != 0) return close_now();
    } else if (!half_close_after_writes(reinterpret_cast<uv_stream_t *>(&tcp_))) {
        return close_now();
    }
    start_reading();
    arm_timer(kLingerMs, kTimerLinger);
}

bool ClientConnection::receive_queue_empty() const {
    int unread = 0;
    return ::ioctl(fd(), FIONREAD, &unread) == 0 && unread == 0;
}

void ClientConnection::close_now() {
    if (connection_phase_ == ConnectionPhase::kClosed) return;
    set_connection_phase(ConnectionPhase::kClosed);
    StreamPeer *peer = std::exchange(peer_, nullptr);
    parent_ = nullptr;
    // Every request is logged: one the client gave up on before any response is 499, as in nginx.
    // Each of finished, exchange_ and a pending filter means a request is in progress.
    bool finished = response_phase_ == ResponsePhase::kFinishedInParser;
    bool filter_pending = filters_if_any() && request_->filters->pending();
    if (finished || exchange_ || filter_pending) {
        AccessRecord &record = request_->record;
        int sent_status = record.status;
        if (!finished && record.status == 0) record.status = 499;
        if (filter_pending) cancel_pending_filter();
        write_access_log();
        if (request_->filters) run_log_filters(sent_status, finished);
    }
    if (filters_if_any()) {
        stop_hangup_watch();
        stop_pending_deadline();
        request_->filters->subrequests.cancel_all();
    }
    release_exchange();
    if (peer) peer->stream_closed(false);
    // A stream's request state goes back to the pool now, not in the close callback: the streams
    // a loop turn finishes (tens of them on a busy HTTP/2 connection) would otherwise all hold
    // one until the loop's close phase, and the pool's spares would run out. Not from inside the
    // parser (its llhttp state is in use), nor while an orphaned exchange holds the request.
    if (h2_stream_ && request_ && !in_parser_ && !request_held_) {
        request_->parser.restart();
        release_request();
    }
    auto on_closed = [](uv_handle_t *h) {
        auto *c = static_cast<ClientConnection *>(h->data);
        if (--c->handles_open_ == 0) {
            Worker &w = c->worker_;
            if (!c->h2_stream_) {
                c->metrics_.connection_closed();
                w.connection_closed(c);
            }
            if (!c->request_held_) delete c;
        }
    };
    if (h2_) {
        ++handles_open_;
        h2_->close(on_closed);
    }
    if (!h2_stream_) {
        // A reset cannot follow a shutdown (a tunnel's half-close): that connection just closes.
        if (!reset_on_close_ || uv_tcp_close_reset(&tcp_, on_closed) != 0)
            uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), on_closed);
    }
    uv_close(timer_.handle(), on_closed);
}

} // namespace proxyd
