#include "server/client_connection.hpp"

#include "exchange/make_exchange.hpp"
#include "http/header_rules.hpp"
#include "http/https_redirect.hpp"
#include "http/max_forwards.hpp"
#include "http/request_id.hpp"
#include "http/response_head_writer.hpp"
#include "http/status_text.hpp"
#include "log/access_line.hpp"
#include "net/half_close.hpp"
#include "server/h2_connection.hpp"
#include "server/worker.hpp"

#include <arpa/inet.h>
#include <cassert>
#include <cstring>
#include <ctime>
#include <memory>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace proxyd {

namespace {

constexpr uint64_t kLingerMs = 2000;

// A body an answer left unread is read and dropped to keep the connection up to this size when
// the listener sets no max_body_size (nginx's default client_max_body_size); a larger one closes
// the connection instead.
constexpr uint64_t kMaxDiscardedBodyBytes = 1024 * 1024;

// RFC 9113 §3.4: what an HTTP/2 client with prior knowledge sends first.
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string address_ip(const sockaddr_storage &ss) {
    char buf[INET6_ADDRSTRLEN] = "-";
    if (ss.ss_family == AF_INET)
        uv_ip4_name(reinterpret_cast<const sockaddr_in *>(&ss), buf, sizeof buf);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name(reinterpret_cast<const sockaddr_in6 *>(&ss), buf, sizeof buf);
    return buf;
}

std::string peer_ip(const uv_tcp_t *tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return "-";
    return address_ip(ss);
}

// The address the client reached, as a URL host ("[::1]" for IPv6): what a redirect names when
// the request has no Host (HTTP/1.0).
std::string local_url_host(const uv_tcp_t *tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return "localhost";
    std::string ip = address_ip(ss);
    return ss.ss_family == AF_INET6 ? "[" + ip + "]" : ip;
}

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

// ---- reading and parsing --------------------------------------------------------------------

void ClientConnection::on_alloc(uv_handle_t *h, size_t, uv_buf_t *buf) {
    auto *c = static_cast<ClientConnection *>(h->data);
    *buf = uv_buf_init(c->worker_.read_buffer(), Worker::kReadBufferSize);
}

void ClientConnection::start_reading() {
    if (reading_) return;
    if (h2_stream_) {
        reading_ = true;
        if (peer_) peer_->stream_resume_input();
        return;
    }
    if (uv_read_start(reinterpret_cast<uv_stream_t *>(&tcp_), on_alloc, on_read) == 0) reading_ = true;
}

void ClientConnection::stop_reading() {
    if (!reading_) return;
    if (h2_stream_) {
        reading_ = false;
        return;
    }
    uv_read_stop(reinterpret_cast<uv_stream_t *>(&tcp_));
    reading_ = false;
    if (RequestFilters *f = filters_if_any(); f && f->pending()) watch_hangup();
}

void ClientConnection::on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    auto *c = static_cast<ClientConnection *>(s->data);
    if (nread == 0) return;
    const char *data = buf->base;
    size_t len = nread > 0 ? static_cast<size_t>(nread) : 0;
    if (c->tls_ && nread > 0) {
        c->metrics_.bytes_received.add(len);
        if (!c->decrypt(data, len)) return;
        data = c->worker_.tls_buffers().plaintext.data();
        len = c->worker_.tls_buffers().plaintext.size();
        if (len == 0) return; // handshake bytes, or a record still incomplete
    } else if (nread > 0) {
        c->metrics_.bytes_received.add(len);
    }
    if (c->connection_phase_ == ConnectionPhase::kTunnel && c->exchange_) {
        if (nread == UV_EOF) {
            c->reading_ = false; // libuv stopped reading at EOF
            c->read_ended_ = true;
            c->exchange_->on_tunnel_client_ended();
        } else if (nread < 0) {
            c->close_now();
        } else {
            c->exchange_->on_tunnel_bytes({data, len});
        }
        return;
    }
    if (nread < 0) {
        // EOF or error: the client is gone (a half-close is treated as gone too: a proxy cannot
        // tell it from a client that will never read the answer).
        c->close_now();
        return;
    }
    if (c->connection_phase_ == ConnectionPhase::kLingering) return; // discard
    if (c->h2_) return c->h2_->receive(data, len);
    if (c->h2c_possible_ && !c->probe_h2c(data, len)) return;
    c->feed(data, len);
}

bool ClientConnection::decrypt(const char *data, size_t len) {
    TlsBuffers &buffers = worker_.tls_buffers();
    buffers.plaintext.clear();
    bool was_handshaking = !tls_->session.handshake_complete();
    TlsSession::Status status = tls_->session.receive(data, len, buffers.plaintext, buffers.records);
    flush_tls_output(); // the handshake's answers, or an alert
    if (status == TlsSession::Status::kOk) {
        if (was_handshaking && tls_->session.handshake_complete() && timer_mode_ == kTimerHandshake)
            arm_timer(static_cast<uint64_t>(listener_.limits.header_timeout.count()), kTimerHeader);
        // ALPN offers h2 only on a listener with http2 on.
        if (was_handshaking && tls_->session.handshake_complete() && tls_->session.alpn() == "h2") start_h2();
        return true;
    }
    if (status == TlsSession::Status::kError && worker_.logger().enabled(PROXYD_LOG_INFO))
        worker_.logger().info("client " + client_ip_ + " on " + listener_.listen_text +
                              ": TLS: " + tls_->session.error_text() + ", closing");
    // close_notify is the client's end of sending, treated as its EOF on a cleartext connection:
    // the client is gone.
    close_now();
    return false;
}

// Before the write side shuts: close_notify tells a TLS client the responses ended by design, not
// by a cut. Nothing on a cleartext connection.
void ClientConnection::send_close_notify() {
    if (!tls_) return;
    tls_->session.close(worker_.tls_buffers().records);
    flush_tls_output();
}

const TlsClientCertificate &ClientConnection::tls_client_certificate() {
    if (h2_stream_) {
        static const TlsClientCertificate kNone{};
        return parent_ ? parent_->tls_client_certificate() : kNone;
    }
    if (!tls_->client_certificate) tls_->client_certificate = tls_->session.client_certificate();
    return *tls_->client_certificate;
}

// The socket takes the records or the write queue copies them: the worker's buffer is free again.
void ClientConnection::flush_tls_output() {
    std::string &records = worker_.tls_buffers().records;
    if (records.empty()) return;
    uv_buf_t buf = uv_buf_init(records.data(), static_cast<unsigned>(records.size()));
    write_to_socket(&buf, 1);
    records.clear();
}

void ClientConnection::feed(const char *data, size_t len) {
    if (request_phase_ == RequestPhase::kComplete || !pending_.empty() || in_parser_) {
        pending_.append(data, len);
        if (pending_.size() > kMaxPending) stop_reading();
    } else {
        execute(data, len);
    }
    resume_parsing();
}

// Pipelined requests whose exchanges finished at once (content handlers) follow one another here,
// in a loop rather than by recursion: completing an exchange inside execute() leaves the bytes
// after it for this loop.
void ClientConnection::resume_parsing() {
    while (request_phase_ != RequestPhase::kComplete && !in_parser_ &&
           connection_phase_ != ConnectionPhase::kClosed && !pending_.empty()) {
        std::string chunk;
        chunk.swap(pending_);
        execute(chunk.data(), chunk.size());
    }
    if (stream_body_end_due_ && pending_.empty() && !in_parser_ && request_ &&
        request_phase_ != RequestPhase::kComplete && connection_phase_ != ConnectionPhase::kClosed) {
        stream_body_end_due_ = false;
        in_parser_ = true;
        RequestParser::Result result = request_->parser.end_body();
        in_parser_ = false;
        after_parse(result, nullptr, 0);
    }
}

void ClientConnection::execute(const char *data, size_t len) {
    if (!request_) take_request();
    in_parser_ = true;
    RequestParser::Result result = request_->parser.execute(data, len);
    in_parser_ = false;
    after_parse(result, data, len);
}

void ClientConnection::after_parse(RequestParser::Result result, const char *data, size_t len) {
    if (connection_phase_ == ConnectionPhase::kClosed) return;
    if (result == RequestParser::Result::kMessageEnd) {
        // The message ended; keep what follows for after the response.
        assert(request_phase_ == RequestPhase::kComplete);
        size_t used = request_->parser.consumed();
        if (used < len) pending_.insert(0, data + used, len - used);
    } else if (result == RequestParser::Result::kError) {
        int status = request_->parser.error_status();
        bool answered = request_->record.status != 0;
        if (worker_.logger().enabled(PROXYD_LOG_INFO))
            worker_.logger().info(
                "client " + client_ip_ + " on " + listener_.listen_text + ": bad request (" +
                request_->parser.error_text() + "), " +
                (answered ? "closing (a response already began)" : "answering " + std::to_string(status)));
        if (answered) {
            // Mid-body, and a response already went out: only ending the connection is left. One
            // still being written is cut, so the client never takes it as complete; a complete one
            // (its request's body being discarded) is followed by an orderly close.
            discarding_body_ = false;
            if (exchange_) return abort();
            stop_reading(); // the parser refuses what follows; the close's linger drops it
            close_after_output();
            return;
        }
        // A body that broke before any answer (a bad chunk): the exchange goes, taking its
        // upstream connection with it mid-message, so the backend never sees a complete request,
        // and the client still hears why.
        release_exchange();
        send_error(status, true);
        return;
    }
    if (response_phase_ == ResponsePhase::kFinishedInParser) complete_exchange();
    if (discarding_body_) check_discarded_body();
}

void ClientConnection::on_request_begin() {
    set_request_phase(RequestPhase::kHead);
    request_->record.start_ns = uv_hrtime();
    // An HTTP/2 stream's head arrives whole, in the call that begins it (its HEADERS, as fields):
    // no header timeout to run, nor a libuv timer to start and stop for it.
    if (timer_mode_ != kTimerHeader && !h2_stream_)
        arm_timer(static_cast<uint64_t>(listener_.limits.header_timeout.count()), kTimerHeader);
}

void ClientConnection::on_head_received() { arm_timer(0, kTimerNone); }

void ClientConnection::on_request_head() {
    set_request_phase(RequestPhase::kBody);
    discarded_bytes_ = 0;
    fill_request_view();
    if (request_->parser.has_body()) arm_body_timer();
    dispatch();
}

void ClientConnection::on_request_body(std::string_view data) {
    if (timer_mode_ == kTimerBody) arm_body_timer();
    if (exchange_)
        exchange_->on_request_body(data);
    else if (request_->filters && request_->filters->pending())
        hold_request_body(data);
    else
        drop_request_body(data.size());
}

void ClientConnection::drop_request_body(size_t bytes) {
    discarded_bytes_ += bytes;
    // Bytes read to be dropped while the connection is kept are checked after the parse
    // (check_discarded_body); these come to an answer that closes the connection anyway.
    if (!discarding_body_ && discarded_bytes_ > discard_limit() && !body_reading_stopped_) {
        if (worker_.logger().enabled(PROXYD_LOG_INFO))
            worker_.logger().info("client " + client_ip_ + " on " + listener_.listen_text +
                                  ": request body over the " + std::to_string(discard_limit()) +
                                  " bytes read and dropped, no longer read");
        stop_reading_body();
    }
}

void ClientConnection::stop_reading_body() {
    body_reading_stopped_ = true;
    if (timer_mode_ == kTimerBody) arm_timer(0, kTimerNone);
    stop_reading();
}

void ClientConnection::on_request_complete() {
    set_request_phase(RequestPhase::kComplete);
    if (timer_mode_ == kTimerBody) arm_timer(0, kTimerNone);
    if (exchange_) exchange_->on_request_complete();
}

// A client that stops sending its body mid-way (nginx's client_body_timeout). Not while the
// body is paused for backpressure: then the wait is the backend's, not the client's.
void ClientConnection::arm_body_timer() {
    arm_timer(static_cast<uint64_t>(listener_.limits.body_timeout.count()), kTimerBody);
}

// Fills the plugin-facing request view from the parser's checked one.
void ClientConnection::fill_request_view() {
    const RequestParser &parser = request_->parser;
    const RequestView &view = parser.view();
    proxyd_request &out = request_->view; // all zero until now: new, or cleared by give_back
    out.struct_size = sizeof(proxyd_request);
    out.method = {view.method.data(), view.method.size()};
    out.target = {view.target.data(), view.target.size()};
    out.path = {view.path.data(), view.path.size()};
    out.query = {view.query.data(), view.query.size()};
    out.host = {view.host.data(), view.host.size()};
    out.http_major = parser.http_major();
    out.http_minor = parser.http_minor();
    out.client_address = {client_ip_.data(), client_ip_.size()};
    out.handle = &request_->handle;
    // The client's id when it is one, so a request keeps its id across proxies; else ours.
    auto sent_id = parser.head().find(FieldKind::kXRequestId);
    if (sent_id && is_valid_request_id(*sent_id)) {
        out.request_id = {sent_id->data(), sent_id->size()};
    } else {
        worker_.make_request_id(request_->made_id);
        out.request_id = {request_->made_id, sizeof request_->made_id};
    }
    out.scheme = encrypted() ? proxyd_str{"https", 5} : proxyd_str{"http", 4};
    std::string_view protocol = protocol_name(h2_stream_ ? 2 : 1, out.http_minor);
    out.protocol = {protocol.data(), protocol.size()};
    out.received_ns = request_->record.start_ns;
}

void ClientConnection::dispatch() {
    if (listener_.redirect_https_port) return send_https_redirect();
    if (listener_.filters.empty()) return route_request();
    filters().reach(listener_.filters);
    run_request_filters();
}

void ClientConnection::route_request() {
    Target target = listener_.target;
    bool whole_server = request_->parser.view().path == "*"; // only the asterisk form's
    if (request_->filters && request_->filters->route_to) {
        target = *request_->filters->route_to;
    } else if (listener_.router && !whole_server) {
        proxyd_route route{};
        const auto &hooks = *listener_.router->descriptor().routing;
        if (hooks.route(listener_.router->raw(), worker_.plugin_worker(listener_.router), &request_->view,
                        &route) == PROXYD_ROUTE_MATCH) {
            target = Target::from_id(route.target);
            if (route.rewritten_path.ptr) {
                request_->view.path = route.rewritten_path;
                request_->path_rewritten = true;
            }
        }
    }
    if (whole_server && target.kind != Target::Kind::Upstream) return answer_server_options();
    request_->record.target = target;
    if (request_->filters) request_->filters->set_routed();
    if (!target) {
        start_discarding_body(); // a body on its way is read and dropped, the connection kept
        send_error(404, !wants_keep_alive());
        return;
    }
    const FilterChain *chain = worker_.config().target_filters(target);
    if (chain && !chain->empty()) {
        filters().set_routed();
        request_->filters->reach(*chain);
        return run_request_filters();
    }
    start_exchange(target);
}

void ClientConnection::start_exchange(Target target) {
    if (target.kind == Target::Kind::Upstream && answer_last_hop()) return;
    std::unique_ptr<Exchange> exchange = make_exchange(*this, target);
    if (!exchange) {
        send_error(500, true);
        return;
    }
    Exchange *started = exchange.get();
    exchange_ = std::move(exchange);
    // After a pending filter (outside the parser) the exchange may answer at once and be gone,
    // and the next pipelined request's exchange may stand where it stood: requests_served_ tells.
    uint32_t served = requests_served_;
    auto still_running = [&] { return requests_served_ == served && exchange_.get() == started; };
    started->start();
    // After a pending filter: what of the request arrived meanwhile goes to the exchange now.
    if (!still_running() || !request_->filters) return;
    std::string held = std::move(request_->filters->held_body);
    if (!held.empty()) exchange_->on_request_body(held);
    if (still_running() && request_phase_ == RequestPhase::kComplete && !request_->filters->body_delivered) {
        request_->filters->body_delivered = true;
        exchange_->on_request_complete();
    }
    if (still_running() && request_->filters->body_held_paused) {
        request_->filters->body_held_paused = false;
        resume_body();
    }
}

// ---- finishing a request --------------------------------------------------------------------

void ClientConnection::finish_exchange(bool keep_alive) {
    finished_keep_alive_ = keep_alive;
    // Inside llhttp_execute the parser's state must not change: execute() completes the exchange
    // once the parser has returned, and the loop that called it parses what follows.
    if (in_parser_) return set_response_phase(ResponsePhase::kFinishedInParser);
    // After an asynchronous finish, parse what was pipelined meanwhile.
    if (complete_exchange()) resume_parsing();
}

bool ClientConnection::complete_exchange() {
    if (response_phase_ == ResponsePhase::kFinishedInParser) set_response_phase(ResponsePhase::kPending);
    write_access_log();
    if (request_->filters) run_log_filters(request_->record.status, true);
    release_exchange();
    ++requests_served_;
    if (h2_stream_) {
        finish_stream(); // one request per stream
        return false;
    }
    // The rest of the body is read and dropped first; check_discarded_body goes on from there.
    if (discarding_body_ && finished_keep_alive_ && request_phase_ == RequestPhase::kBody &&
        !worker_.draining(listener_))
        return false;
    discarding_body_ = false;
    if (!finished_keep_alive_ || request_phase_ != RequestPhase::kComplete || worker_.draining(listener_)) {
        if (connection_phase_ < ConnectionPhase::kClosingAfterFlush)
            set_connection_phase(ConnectionPhase::kClosingAfterFlush);
        if (queued_bytes() == 0) begin_close();
        return false;
    }
    start_next_request();
    return true;
}

// The connection is idle: the request's state goes back to the worker, and the next request's
// first bytes take one again (execute).
void ClientConnection::start_next_request() {
    set_request_phase(RequestPhase::kIdle);
    request_->parser.reset(); // where a next message on a kept connection starts, on any connection
    release_request();
    body_reading_stopped_ = false;
    if (body_paused_) resume_body();
    if (connection_phase_ != ConnectionPhase::kClosed) start_reading();
    arm_timer(static_cast<uint64_t>(listener_.limits.keepalive_timeout.count()), kTimerIdle);
}

void ClientConnection::release_exchange() {
    if (!exchange_) return;
    if (exchange_->on_client_gone())
        (void)exchange_.release(); // it deletes itself when its plugin finishes
    else
        exchange_.reset();
}

void ClientConnection::write_access_log() {
    const AccessRecord &record = request_->record;
    const RequestParser &parser = request_->parser;
    // Metrics hear of every request the access log would, whether the log is on or not.
    if (record.status == 0) return;
    FinishedRequest finished{&metrics_, worker_.metrics().target_slot(record.target), record.status,
                             record.start_ns};
    bool logs = listener_.access_log && worker_.access_log().enabled();
    // Only a request whose bytes wait for a window or a file's read ends later (its line held, a
    // copy, written when the stream ends): bytes already in frames leave as the socket takes
    // them, as on HTTP/1.1.
    bool held = peer_ && peer_->stream_body_waits();
    if (!held) finished.observe();
    if (!logs) {
        if (held) peer_->stream_end_when_sent(nullptr, finished);
        return;
    }
    auto header = [&parser](std::string_view name) {
        auto v = parser.head().find(name);
        return v ? *v : std::string_view();
    };
    AccessEntry entry = access_entry();
    entry.method = parser.method();
    entry.target = parser.head().target();
    entry.http_minor = parser.sent_minor();
    entry.http_major = h2_stream_ ? 2 : 1;
    entry.status = record.status;
    entry.body_bytes = record.body_bytes;
    entry.referer = header("referer");
    entry.user_agent = header("user-agent");
    entry.upstream = record.upstream;
    entry.upstream_status = record.upstream_status;
    entry.request_time = static_cast<double>(uv_hrtime() - record.start_ns) / 1e9;
    entry.request_id = {request_->view.request_id.ptr, request_->view.request_id.len};
    if (held) return peer_->stream_end_when_sent(&entry, finished);
    write_access_entry(entry);
}

// What every line says of the connection: the client, the time, the listener.
AccessEntry ClientConnection::access_entry() const {
    AccessEntry entry;
    entry.client = client_ip_;
    entry.time = std::time(nullptr);
    entry.clf_time = worker_.dates().log_date();
    entry.listener = listener_.name;
    return entry;
}

void ClientConnection::write_access_entry(const AccessEntry &entry) {
    worker_.access_log().write_line(format_access_line(entry, worker_.config().log.access_format));
}

void ClientConnection::log_answered_stream(std::string_view method, std::string_view target, int status) {
    metrics_.request_finished(worker_.metrics().target_slot(Target{}), status, 0);
    if (!listener_.access_log || !worker_.access_log().enabled()) return;
    // No request id, as for HTTP/1.1's refused heads: no request began.
    AccessEntry entry = access_entry();
    entry.method = method;
    entry.target = target;
    entry.http_major = 2;
    entry.http_minor = 0;
    entry.status = status;
    entry.upstream = "-";
    write_access_entry(entry);
}

// OPTIONS is answered for this server (200, no content), as an origin answers OPTIONS *. TRACE
// gets 501: the reflection of the request that RFC 9110 §9.3.8 suggests would echo the client's
// credentials back to a script that can send it ("cross-site tracing"), so this proxy makes none.
bool ClientConnection::answer_last_hop() {
    const HeaderList *edited = edited_headers();
    std::optional<uint64_t> hops =
        edited ? max_forwards(method(), *edited) : max_forwards(method(), request_->parser.head());
    if (!hops || *hops != 0) return false;
    start_discarding_body();
    if (method() == "TRACE")
        send_error(501, !wants_keep_alive());
    else
        send_own_response(200, {}, {}, {}, !wants_keep_alive());
    return true;
}

// `OPTIONS *` (RFC 9112 §3.2.4; :path "*" over HTTP/2, RFC 9113 §8.3.1) asks about the server
// in general, not a resource (RFC 9110 §9.3.7): a "ping", which Max-Forwards (§7.6.2) may aim at
// any hop. "*" has no path, so no routing plugin sees it. A listener whose own target is an
// upstream group has that group as the server behind it: the request goes there, as HAProxy
// forwards it (Max-Forwards counted down, answered here at 0). Any other listener (routed
// without such a default, or serving a content handler) has no one server behind it: proxyd,
// the server its client talks to, answers itself, 200 without content, after the listener's
// filters (which may refuse it). A 404 (no route matches "*") or a handler's 405 would tell a
// client probing the server that it is broken; nginx and Envoy answer 400, which RFC 9112 §3.2.4
// keeps for "*" with any other method (the parser's rule; a malformed stream over HTTP/2).
void ClientConnection::answer_server_options() {
    start_discarding_body();
    send_own_response(200, {}, {}, {}, !wants_keep_alive());
}

namespace {

std::string error_page(int status) {
    std::string_view reason = status_text(status);
    return "<html><head><title>" + std::to_string(status) + " " + std::string(reason) +
           "</title></head><body><h1>" + std::to_string(status) + " " + std::string(reason) +
           "</h1><hr>proxyd</body></html>\n";
}

} // namespace

void ClientConnection::send_error(int status, bool close) {
    send_own_response(status, "text/html; charset=utf-8", {}, error_page(status), close);
}

void ClientConnection::send_unavailable(unsigned retry_after_seconds, bool close) {
    send_own_response(503, "text/html; charset=utf-8", {}, error_page(503), close,
                      std::to_string(retry_after_seconds));
}

// 308 keeps the method and body (RFC 9110 §15.4.9), so a POST is resent as a POST over HTTPS.
// The body itself is not wanted here: it is read and dropped after the answer, as nginx does,
// so a form posted to http:// does not cost the client its connection.
void ClientConnection::send_https_redirect() {
    const RequestView &view = request_->parser.view();
    std::string fallback_host = view.host.empty() ? local_url_host(&tcp_) : std::string();
    // The parser's query view is null when the target had no '?', empty when it ended in one.
    std::string location =
        https_location(view.host.empty() ? std::string_view(fallback_host) : view.host,
                       listener_.redirect_https_port, view.path, view.query, view.query.data() != nullptr);
    std::string body = "Moved to " + location + "\n";
    start_discarding_body();
    send_own_response(308, "text/plain; charset=utf-8", location, std::move(body), !wants_keep_alive());
}

void ClientConnection::start_discarding_body() {
    const RequestParser &parser = request_->parser;
    if (!parser.has_body() || request_phase_ == RequestPhase::kComplete || parser.body_in_input()) return;
    // A client that waits for 100 Continue may never send the body, and a next request of its
    // own would then be read as that body: its connection closes after the answer. (Expect is
    // HTTP/1.1's: an HTTP/1.0 request's is ignored.)
    if (h2_stream_ || body_reading_stopped_ || !wants_keep_alive() ||
        (parser.http_minor() > 0 && parser.head().find(FieldKind::kExpect)))
        return;
    if (parser.content_length() > 0 && static_cast<uint64_t>(parser.content_length()) > discard_limit())
        return;
    discarding_body_ = true;
    // Bytes a waiting filter held count as dropped, and reading, paused while they piled up,
    // resumes: nothing else would read the rest of the body now.
    if (RequestFilters *f = filters_if_any(); f && !f->pending()) {
        discarded_bytes_ += f->held_body.size();
        std::string().swap(f->held_body);
        if (std::exchange(f->body_held_paused, false)) resume_body();
    }
}

uint64_t ClientConnection::discard_limit() const {
    uint64_t listener_limit = listener_.limits.max_body_bytes;
    return listener_limit ? listener_limit : kMaxDiscardedBodyBytes;
}

// While the exchange that answered still runs (a large file going out, a handler that answered
// at the head and goes on), the request's state is its: the step to the next request, or the
// close, is complete_exchange()'s when it finishes.
void ClientConnection::check_discarded_body() {
    if (request_phase_ == RequestPhase::kComplete) {
        if (exchange_) return;
        discarding_body_ = false;
        if (!worker_.draining(listener_)) return start_next_request();
    } else if (discarded_bytes_ > discard_limit()) {
        if (worker_.logger().enabled(PROXYD_LOG_INFO))
            worker_.logger().info("client " + client_ip_ + " on " + listener_.listen_text +
                                  ": request body over the " + std::to_string(discard_limit()) +
                                  " bytes read and dropped after the answer, closing");
        discarding_body_ = false;
        if (exchange_) return stop_reading_body();
    } else {
        return;
    }
    stop_reading();
    close_after_output();
}

void ClientConnection::send_own_response(int status, std::string_view content_type, std::string_view location,
                                         std::string body, bool close, std::string_view retry_after) {
    // The request ends here (a stalled or broken body): a filter still waiting is told.
    if (request_->filters && request_->filters->pending()) cancel_pending_filter();
    // A body not read to its end could not be told from a next request: the connection closes
    // after this answer, and the answer says so, unless the caller had the rest read and dropped
    // (start_discarding_body: a 404 with no route, a redirect_https answer). A body whose last
    // byte came with the head is read to its end after the answer, in the same call, so that
    // connection stays open.
    if (request_->parser.has_body() && request_phase_ != RequestPhase::kComplete &&
        !request_->parser.body_in_input() && !discarding_body_)
        close = true;
    if (filters_response_heads()) {
        HeaderList fields;
        fields.add("Server", "proxyd");
        if (!content_type.empty()) fields.add("Content-Type", content_type);
        if (!location.empty()) fields.add("Location", location);
        if (!retry_after.empty()) fields.add("Retry-After", retry_after);
        return send_filtered_response(status, std::move(fields), std::move(body), close);
    }
    bool keep = !close && wants_keep_alive();
    std::string out;
    ResponseHeadWriter head = start_head(out, status, {});
    head.strict_transport_security(listener_.strict_transport_security);
    const std::string &date = worker_.dates().http_date();
    head.origin_fields(date);
    if (!content_type.empty()) head.field("Content-Type", content_type);
    if (!location.empty()) head.field("Location", location);
    if (!retry_after.empty()) head.field("Retry-After", retry_after);
    end_head(head, date,
             HeadEnding{.content_length = body.size(),
                        .keep_alive = keep,
                        .client_minor = request_->view.http_minor});
    AccessRecord &record = request_->record;
    record.status = status;
    bool head_only = request_->parser.method() == "HEAD";
    record.body_bytes = head_only ? 0 : body.size();
    if (!head_only) out += body;
    send(std::move(out));
    if (record.start_ns == 0) record.start_ns = uv_hrtime();
    finish_exchange(keep);
}

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
