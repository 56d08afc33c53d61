// A client connection's end of a request (client_connection.hpp): an exchange finished, the
// access log, the next request on the connection, and the answers proxyd writes itself (errors,
// redirects, OPTIONS *, Max-Forwards at 0), with the unread body dropped after them.
#include "http/basic_user.hpp"
#include "http/https_redirect.hpp"
#include "http/max_forwards.hpp"
#include "http/request_id.hpp"
#include "http/response_head_writer.hpp"
#include "http/status_text.hpp"
#include "log/access_line.hpp"
#include "net/socket_names.hpp"
#include "plugin/plugin_registry.hpp"
#include "server/client_connection.hpp"
#include "server/h2_connection.hpp"
#include "server/worker.hpp"

#include <algorithm>
#include <ctime>
#include <sys/socket.h>

namespace proxyd {

namespace {

// A body an answer left unread is read and dropped to keep the connection up to this size when
// the listener sets no max_body_size (nginx's default client_max_body_size); a larger one closes
// the connection instead.
constexpr uint64_t kMaxDiscardedBodyBytes = 1024 * 1024;

} // namespace

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
    std::string user = basic_user(header("authorization"));
    entry.user = user;
    entry.upstream = record.upstream;
    entry.upstream_status = record.upstream_status;
    entry.earlier_upstream_statuses = record.earlier_upstream_statuses;
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
    send_redirect(308, location);
}

void ClientConnection::send_redirect(int status, std::string_view location) {
    start_discarding_body();
    send_own_response(status, "text/plain; charset=utf-8", location,
                      "Moved to " + std::string(location) + "\n", !wants_keep_alive());
}

// 301 is what nginx sends for its own "/images" to "/images/" redirect, but user agents turn a
// POST that gets a 301 into a GET (RFC 9110 §15.4.2): any method other than GET and HEAD gets
// 308, which keeps it and the body. The routing plugin chose the location; it is checked here as
// any field value a plugin hands the core is (no control byte, no CR or LF to split the head),
// and must not be empty. It is held to a URI reference's bytes (RFC 3986: visible ASCII, what a
// plugin must percent-encode otherwise), so no blank, control or non-ASCII byte.
void ClientConnection::send_route_redirect(proxyd_str location) {
    std::string_view value = location.ptr ? std::string_view(location.ptr, location.len) : std::string_view();
    bool sendable = !value.empty() && std::all_of(value.begin(), value.end(), [](char ch) {
        auto byte = static_cast<unsigned char>(ch);
        return byte > 0x20 && byte < 0x7f;
    });
    if (!sendable) {
        worker_.logger().error(
            listener_.router->label() + " (routing plugin '" + listener_.router->module().name() +
            "') answered a redirect without a usable location: " +
            (value.empty() ? std::string("it is empty") : "it holds a byte outside visible ASCII"));
        start_discarding_body();
        send_error(500, !wants_keep_alive());
        return;
    }
    std::string_view method = request_->parser.view().method;
    send_redirect(method == "GET" || method == "HEAD" ? 301 : 308, value);
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
    if (record.start_ns == 0) record.start_ns = request_began_ns();
    finish_exchange(keep);
}

} // namespace proxyd
