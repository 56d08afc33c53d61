// A client connection's input (client_connection.hpp): reading the socket, TLS records, the
// request parser's events, the plugins' request view, and the dispatch of a complete head
// through the filters and the router to an exchange.
#include "exchange/make_exchange.hpp"
#include "http/request_id.hpp"
#include "log/access_line.hpp"
#include "plugin/abi_sizes.hpp"
#include "plugin/plugin_registry.hpp"
#include "server/client_connection.hpp"
#include "server/h2_connection.hpp"
#include "server/worker.hpp"

#include <cassert>
#include <ctime>
#include <memory>
#include <sys/socket.h>

namespace proxyd {

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
    request_->record.start_ns = request_began_ns();
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
        const proxyd_plugin_descriptor &router = listener_.router->descriptor();
        proxyd_route_result result = router.routing->route(
            listener_.router->raw(), worker_.plugin_worker(listener_.router), &request_->view, &route);
        if (result == PROXYD_ROUTE_REDIRECT && router.abi_minor >= kRouteRedirectMinor)
            return send_route_redirect(route.location);
        if (result == PROXYD_ROUTE_MATCH) {
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

} // namespace proxyd
