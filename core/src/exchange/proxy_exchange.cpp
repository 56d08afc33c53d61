#include "exchange/proxy_exchange.hpp"

#include "exchange/exchange_client.hpp"
#include "exchange/exchange_worker.hpp"
#include "exchange/tunnel.hpp"
#include "http/combined_field.hpp"
#include "http/header_rules.hpp"
#include "http/idempotent_methods.hpp"
#include "http/max_forwards.hpp"
#include "http/response_head_writer.hpp"
#include "http/trailer_fields.hpp"
#include "upstream/upstream_pool.hpp"

#include <cassert>
#include <cstdio>

namespace proxyd {

namespace {

const ResponseLimits kResponseLimits{.max_head_bytes = 64 * 1024};

std::string hex(size_t n) {
    char buf[32];
    int len = std::snprintf(buf, sizeof buf, "%zx", n);
    return std::string(buf, static_cast<size_t>(len));
}

// What the client's certificate proved: the verify result always, the subject and fingerprint
// only when the chain verified (an unverified subject is only a claim).
void append_client_cert_fields(std::string &out, const ClientCertHeaders &fields,
                               const TlsClientCertificate &cert) {
    bool verified = cert.verify == TlsClientCertificate::Verify::kSuccess;
    if (verified && !fields.subject.empty())
        out.append(fields.subject).append(": ").append(cert.subject).append("\r\n");
    if (verified && !fields.fingerprint.empty())
        out.append(fields.fingerprint).append(": ").append(cert.fingerprint).append("\r\n");
    if (!fields.verify.empty())
        out.append(fields.verify).append(": ").append(cert.verify_text()).append("\r\n");
}

} // namespace

ProxyExchange::ProxyExchange(ExchangeClient &client, UpstreamPool &pool)
    : client_(&client), pool_(pool), buffer_pool_(client.worker().exchange_buffers()),
      buffers_(buffer_pool_.take()), response_(buffers_->response), to_client_(buffers_->to_client),
      tried_(new bool[pool.peer_count()]()), parser_(kResponseLimits, response_, *this) {}

ProxyExchange::~ProxyExchange() {
    if (queued_) pool_.leave_queue(*this);
    close_queue_timer();
    if (upstream_) upstream_->close();
    buffer_pool_.give_back(std::move(buffers_));
}

void ProxyExchange::start() {
    client_keep_alive_ = client_->wants_keep_alive();
    upgrade_ = wants_upgrade(*client_);
    try_next_peer();
}

void ProxyExchange::enter(Phase next) {
    [[maybe_unused]] auto legal = [this](Phase to) {
        switch (phase_) {
        case Phase::kConnecting:
            return to == Phase::kConnecting || to == Phase::kAwaitingResponse;
        case Phase::kAwaitingResponse:
            return to == Phase::kConnecting || to == Phase::kReadingHead;
        case Phase::kReadingHead:
            return to == Phase::kConnecting || to == Phase::kRelayingBody || to == Phase::kTunnel;
        case Phase::kRelayingBody:
            return to == Phase::kComplete;
        case Phase::kComplete:
        case Phase::kTunnel:
            return false;
        }
        return false;
    };
    assert(legal(next));
    phase_ = next;
}

const std::string &ProxyExchange::peer_address() const { return pool_.peer(attempt_.peer()).address_text; }

void ProxyExchange::log_upstream_entry(std::string_view entry) {
    AccessRecord &record = client_->record();
    if (logged_upstreams_++ == 0) {
        record.upstream.assign(entry);
    } else {
        // "-" for an attempt that got no answer (a refused connect, a timeout, a pooled
        // connection that closed under it), as for the last one.
        record.earlier_upstream_statuses +=
            record.upstream_status ? std::to_string(record.upstream_status) : "-";
        record.earlier_upstream_statuses += ',';
        record.upstream.append(",").append(entry);
    }
    record.upstream_status = 0;
}

// ---- choosing a peer and connecting ---------------------------------------------------------

void ProxyExchange::try_next_peer(bool queue_turn) {
    if (!counted_) {
        counted_ = true;
        pool_.count_request();
    }
    bool busy = false;
    Attempt attempt = pool_.pick(tried_.get(), &client_->request(), &busy);
    if (!attempt.open() && busy) return wait_in_queue(queue_turn);
    close_queue_timer(); // its wait, if any, is over
    if (!attempt.open()) {
        client_->worker().logger().error("upstream " + pool_.config().name + ": no peer available for " +
                                         std::string(client_->head().target()));
        pool_.metrics().gateway_error(502);
        client_->send_error(502, !request_complete_);
        return;
    }
    // The attempt before this one ended where it failed.
    assert(!attempt_.open());
    attempt_ = std::move(attempt);
    tried_[attempt_.peer()] = true;
    ++tries_;
    enter(Phase::kConnecting);
    upstream_paused_ = false;
    parser_.reset({.head_request = client_->method() == "HEAD", .upgrade_offered = upgrade_});

    log_upstream_entry(peer_address());

    if (UpstreamConnection *idle = pool_.take_idle(attempt_.peer())) {
        upstream_ = idle;
        upstream_->attach(this);
        on_upstream_connected(0);
        return;
    }
    upstream_ = new UpstreamConnection(pool_, attempt_.peer());
    int rc = upstream_->connect(this, static_cast<uint64_t>(pool_.config().connect_timeout.count()));
    if (rc != 0) {
        upstream_ = nullptr; // connect() closed it
        fail(PROXYD_OUTCOME_CONNECT_FAILED, rc, "connect");
    }
}

bool ProxyExchange::any_untried() const {
    for (size_t i = 0; i < pool_.peer_count(); ++i)
        if (!tried_[i]) return true;
    return false;
}

// ---- the queue (max_connections, queue_size, queue_timeout) ---------------------------------

namespace {

// A slot freed by another worker is not announced here: a waiter's timer looks for one this often.
constexpr uint64_t kQueuePollMs = 10;

} // namespace

void ProxyExchange::wait_in_queue(bool queue_turn) {
    const UpstreamPolicies &policies = pool_.config().policies;
    if (queue_turn) {
        // The slot went to another worker first: wait on, at the front, until the deadline.
        pool_.requeue_front(*this);
        queued_ = true;
        return;
    }
    if (!pool_.enqueue(*this)) return refuse_from_queue("queue-full", pool_.metrics().queue_full);
    queued_ = true;
    uv_loop_t *loop = client_->worker().loop();
    uint64_t timeout = static_cast<uint64_t>(policies.queue_timeout.count());
    queue_deadline_ms_ = uv_now(loop) + timeout;
    if (!queue_timer_) {
        queue_timer_ = new uv_timer_t;
        uv_timer_init(loop, queue_timer_);
    }
    queue_timer_->data = this;
    bool others = client_->worker().config().workers > 1;
    uv_timer_start(queue_timer_, on_queue_timer, others ? std::min(timeout, kQueuePollMs) : timeout, 0);
}

void ProxyExchange::on_queue_timer(uv_timer_t *timer) {
    auto *self = static_cast<ProxyExchange *>(timer->data);
    uint64_t now = uv_now(timer->loop);
    if (now >= self->queue_deadline_ms_) {
        self->pool_.leave_queue(*self);
        self->queued_ = false;
        return self->refuse_from_queue("queue-timeout", self->pool_.metrics().queue_timeout);
    }
    self->pool_.serve_queue();
    // Served (its timer closed), or even finished and gone: the timer's data says so.
    if (!timer->data) return;
    uint64_t left = self->queue_deadline_ms_ - now;
    uv_timer_start(timer, on_queue_timer, std::min(left, kQueuePollMs), 0);
}

void ProxyExchange::close_queue_timer() {
    if (!queue_timer_) return;
    queue_timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(std::exchange(queue_timer_, nullptr)),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
}

void ProxyExchange::refuse_from_queue(const char *why, Counter &counter) {
    close_queue_timer();
    counter.add();
    log_upstream_entry(why);
    client_->worker().logger().info("upstream " + pool_.config().name + ": " + why + ", 503 for " +
                                    std::string(client_->head().target()));
    auto seconds = (pool_.config().policies.queue_timeout.count() + 999) / 1000;
    client_->send_unavailable(static_cast<unsigned>(std::max<int64_t>(seconds, 1)), !request_complete_);
}

void ProxyExchange::on_upstream_connected(int status) {
    if (status != 0) return fail(PROXYD_OUTCOME_CONNECT_FAILED, status, "connect");
    enter(Phase::kAwaitingResponse);
    upstream_->read_start();
    upstream_->send(build_request_head());
    for (auto &chunk : unsent_)
        upstream_->send(chunk);
    std::vector<std::string>().swap(unsent_);
    unsent_bytes_ = 0;
    // The body may have been paused while waiting for the connection; when the socket took it
    // all at once no write completion will come to resume it.
    if (upstream_->queued_bytes() <= UpstreamConnection::kLowWater) client_->resume_body();
    rearm_upstream_timer();
}

std::string_view ProxyExchange::build_request_head() {
    const ExchangeClient &c = *client_;
    const ListenerConfig &listener = c.listener();
    const MessageHead &head = c.head();
    const proxyd_request &request = c.request();
    std::string &out = buffers_->head_text;
    out.clear();
    out.reserve(head.size() + 256);

    out.append(c.method()).append(" ");
    std::string_view target = head.target();
    std::string_view path(request.path.ptr, request.path.len);
    bool absolute_form = is_absolute_form(target);
    if (c.path_rewritten() || target.front() != '/') {
        // A routing plugin rewrote the path, or the target was absolute-form: send origin-form.
        out.append(path.empty() ? "/" : path);
        if (request.query.len) out.append("?").append(request.query.ptr, request.query.len);
    } else {
        out.append(target);
    }
    out.append(" HTTP/1.1\r\n");

    // The fields as filters left them, when one changed any; else as parsed (no copy).
    const HeaderList *edited = c.edited_headers();
    ConnectionOptions connection_options = edited ? ConnectionOptions(*edited) : ConnectionOptions(head);

    // Every line the client sent of each (RFC 9110 §5.3), this proxy's entry appended after them.
    CombinedField prior_xff, prior_forwarded, prior_via;
    // An OPTIONS or TRACE goes on with one hop fewer (RFC 9110 §7.6.2); at 0 the client
    // connection answered it instead.
    std::optional<uint64_t> hops =
        edited ? max_forwards(c.method(), *edited) : max_forwards(c.method(), head);
    bool has_host = false;
    bool announce_trailers = request_trailers_go_on();
    const ClientCertHeaders &cert_fields = listener.client_cert_headers;
    // Only proxyd sets these: one the client sent could claim a certificate it never showed.
    auto is_cert_field = [&](std::string_view name) {
        for (const std::string &field : listener.client_cert_fields_removed)
            if (iequals(name, field)) return true;
        return false;
    };
    // One switch on each field's kind (classified once, with the head) instead of a compare per
    // name asked about.
    auto forward_fields = [&](const auto &fields) {
        for (size_t i = 0; i < fields.header_count(); ++i) {
            std::string_view name = fields.header_name(i);
            FieldKind kind = fields.header_kind(i);
            if (must_drop_when_forwarding(kind, name, connection_options) ||
                kind == FieldKind::kContentLength || is_cert_field(name))
                continue;
            switch (kind) {
            case FieldKind::kXRequestId: // sent once, below: the request's id (the client's own when valid)
                continue;
            case FieldKind::kXForwardedFor:
                if (!listener.add_x_forwarded) break;
                prior_xff.add(fields.header_value(i));
                continue;
            case FieldKind::kXForwardedProto:
            case FieldKind::kXForwardedHost:
                if (listener.add_x_forwarded) continue;
                break;
            case FieldKind::kForwarded:
                if (!listener.add_forwarded) break;
                prior_forwarded.add(fields.header_value(i));
                continue;
            case FieldKind::kVia:
                if (!listener.add_via) break;
                prior_via.add(fields.header_value(i));
                continue;
            case FieldKind::kHost:
                // The target's authority replaces it (RFC 9112 §3.2.2): the upstream must see
                // the host proxyd routed by, not a second one the client also sent. view.host,
                // written below, is that authority, or a Host a filter set.
                if (absolute_form) continue;
                has_host = true;
                break;
            case FieldKind::kTrailer:
                if (!announce_trailers) continue;
                break;
            case FieldKind::kExpect: // ignored in HTTP/1.0 (RFC 9110 §10.1.1), not made HTTP/1.1's
                if (c.http_minor() == 0) continue;
                break;
            default:
                if (hops && *hops > 0 && iequals(name, kMaxForwards)) {
                    out.append(name).append(": ").append(std::to_string(*hops - 1)).append("\r\n");
                    continue;
                }
                break;
            }
            out.append(name).append(": ").append(fields.header_value(i)).append("\r\n");
        }
    };
    if (edited)
        forward_fields(*edited);
    else
        forward_fields(head);
    std::string_view host(request.host.ptr, request.host.len);
    if (!has_host) {
        // HTTP/1.1 upstream requests need a Host; an HTTP/1.0 client may have sent none, and an
        // absolute-form target's authority is written here.
        std::string_view authority = pool_.peer(attempt_.peer()).authority;
        out.append("Host: ").append(host.empty() ? authority : host).append("\r\n");
    }
    std::string_view ip = c.client_ip();
    // The host the client asked for (RFC 7239 §5.3), not one a filter gave the upstream instead.
    std::string_view received_host = c.received_host();
    if (listener.add_x_forwarded) {
        out.append("X-Forwarded-For: ");
        if (!prior_xff.empty()) out.append(prior_xff.value()).append(", ");
        out.append(ip).append(listener.tls ? "\r\nX-Forwarded-Proto: https\r\n"
                                           : "\r\nX-Forwarded-Proto: http\r\n");
        if (!received_host.empty()) out.append("X-Forwarded-Host: ").append(received_host).append("\r\n");
    }
    if (listener.add_forwarded) {
        out.append("Forwarded: ");
        if (!prior_forwarded.empty()) out.append(prior_forwarded.value()).append(", ");
        bool v6 = ip.find(':') != std::string_view::npos;
        out.append("for=").append(v6 ? "\"[" : "").append(ip).append(v6 ? "]\"" : "");
        if (!received_host.empty()) out.append(";host=\"").append(received_host).append("\"");
        out.append(listener.tls ? ";proto=https\r\n" : ";proto=http\r\n");
    }
    if (listener.add_via) {
        out.append("Via: ");
        if (!prior_via.empty()) out.append(prior_via.value()).append(", ");
        // The version the request came in (RFC 9110 §7.6.3), not the HTTP/1.1 it goes on in.
        out.append(c.frames_body() ? "2" : request.http_minor == 0 ? "1.0" : "1.1").append(" proxyd\r\n");
    }
    out.append("X-Request-ID: ").append(request.request_id.ptr, request.request_id.len).append("\r\n");
    if (c.encrypted() && !cert_fields.none())
        append_client_cert_fields(out, cert_fields, client_->tls_client_certificate());
    if (upgrade_) out.append(upgrade_request_fields(head));
    if (c.request_chunked())
        out.append("Transfer-Encoding: chunked\r\n");
    else if (c.request_content_length() >= 0)
        out.append("Content-Length: ").append(std::to_string(c.request_content_length())).append("\r\n");
    out.append("\r\n");
    return out;
}

// ---- the request body -----------------------------------------------------------------------

void ProxyExchange::forward_to_upstream(std::string_view data) {
    uv_buf_t buf = uv_buf_init(const_cast<char *>(data.data()), static_cast<unsigned>(data.size()));
    forward_to_upstream(&buf, 1);
}

void ProxyExchange::forward_to_upstream(const uv_buf_t *bufs, size_t count) {
    if (connected() && upstream_ && upstream_->write_failed()) {
        // The upstream closed its side after an early answer that still goes out to the client
        // (its read side waits for the client, so the failure is not heard yet): the rest of the
        // body goes nowhere, and counts against the client's discard limit, past which it is no
        // longer read; else a client not reading the answer could push an unbounded body.
        size_t bytes = 0;
        for (size_t i = 0; i < count; ++i)
            bytes += bufs[i].len;
        return client_->drop_request_body(bytes);
    }
    if (connected() && upstream_) {
        bool was_idle = upstream_->queued_bytes() == 0;
        upstream_->send(bufs, count);
        if (was_idle) rearm_upstream_timer();
        if (upstream_->queued_bytes() > UpstreamConnection::kHighWater) client_->pause_body();
    } else {
        // Joined into the last piece while it is small: an HTTP/2 client's body comes a DATA
        // frame at a time, and frames of a byte each, a string each, would cost many times the
        // bytes its window lets it send.
        if (unsent_.empty() || unsent_.back().size() >= kUnsentPiece) unsent_.emplace_back();
        std::string &piece = unsent_.back();
        for (size_t i = 0; i < count; ++i) {
            piece.append(bufs[i].base, bufs[i].len);
            unsent_bytes_ += bufs[i].len;
        }
        if (unsent_bytes_ > UpstreamConnection::kHighWater) client_->pause_body();
    }
}

void ProxyExchange::on_request_body(std::string_view data) {
    if (data.empty()) return;
    if (!client_->request_chunked()) return forward_to_upstream(data);
    // Re-framed as one chunk without copying the data: size line, data, CRLF in one write.
    char size_line[24];
    int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    uv_buf_t framed[3] = {uv_buf_init(size_line, static_cast<unsigned>(n)),
                          uv_buf_init(const_cast<char *>(data.data()), static_cast<unsigned>(data.size())),
                          uv_buf_init(const_cast<char *>("\r\n"), 2)};
    forward_to_upstream(framed, 3);
}

void ProxyExchange::on_request_complete() {
    request_complete_ = true;
    if (!client_->request_chunked()) return; // a body framed by its length has no trailers
    const MessageHead *trailers = client_->request_trailers();
    if (trailers && request_trailers_go_on()) return forward_request_trailers(*trailers);
    forward_to_upstream("0\r\n\r\n");
}

// A body framed by its length (an HTTP/2 request with content-length) has no place for trailers.
// Filters edit and judge the head only (no trailer phase yet): a trailer could bring back a field
// one removed or set (an auth filter's X-User, say) to an upstream that merges trailers into the
// head (RFC 9110 §6.5.2 allows it; CVE-2013-5704 was this in Apache).
bool ProxyExchange::request_trailers_go_on() const {
    return client_->request_chunked() && !client_->filters_request_heads();
}

void ProxyExchange::forward_request_trailers(const MessageHead &trailers) {
    std::string last;
    append_last_chunk(trailers, ConnectionOptions(client_->head()), last);
    forward_to_upstream(last);
}

void ProxyExchange::on_upstream_write_done() {
    if (client_ && upstream_ && upstream_->queued_bytes() <= UpstreamConnection::kLowWater)
        client_->resume_body();
    if (upstream_ && connected()) rearm_upstream_timer();
}

// One timer per upstream connection: send_timeout while request bytes wait to be written,
// read_timeout while waiting for the response; each restarts on progress.
void ProxyExchange::rearm_upstream_timer() {
    const UpstreamConfig &config = pool_.config();
    auto timeout = upstream_->queued_bytes() > 0 ? config.send_timeout : config.read_timeout;
    upstream_->arm_timeout(static_cast<uint64_t>(timeout.count()));
}

// ---- the response ---------------------------------------------------------------------------

void ProxyExchange::on_upstream_read(const char *data, size_t len) {
    if (phase_ == Phase::kAwaitingResponse) enter(Phase::kReadingHead);
    size_t offered = std::exchange(read_space_offered_, 0);
    if (offered == len) read_space_hint_ = UpstreamWorker::kReadBufferSize;
    rearm_upstream_timer();
    ResponseParser::Result result = parser_.execute(data, len);
    flush_to_client();
    // Only now are the read's body bytes in the stream's queue; a read that held none (a chunk's
    // CRLF or size line alone) gives its space back all the same.
    if (offered > 0 && client_) client_->return_body_space();
    switch (result) {
    case ResponseParser::Result::kNeedMore:
        return;
    case ResponseParser::Result::kSwitched:
        return start_tunnel(data + parser_.consumed(), data + len);
    case ResponseParser::Result::kMessageEnd: {
        // Bytes after the response mean the peer is out of step: never reuse it.
        bool extra = parser_.consumed() != len;
        return release_upstream(!extra && parser_.keep_alive()), finish_response();
    }
    case ResponseParser::Result::kError:
        if (retry_status_) return retry_after_status();
        if (!unusable_upgrade_.empty()) return refuse_upgrade_answer();
        if (!head_sent()) {
            std::string why = "invalid response (" + parser_.error_text() + ")";
            return fail(PROXYD_OUTCOME_BROKEN, 0, why.c_str()); // logged there, once
        }
        cut_mid_response(PROXYD_OUTCOME_BROKEN, "invalid response (" + parser_.error_text() + ")");
    }
}

// Body bytes for a client that frames them itself (an HTTP/2 stream) are read into its queue,
// where they become DATA frames without a copy; the head's read, before the stream takes body
// bytes, goes to the worker's buffer. A read's bytes go to the client in one send
// (flush_to_client). The space asked for grows to the worker buffer's size once a read filled
// it, so a small body without a length does not take a block sized for a large one.
std::span<char> ProxyExchange::upstream_read_space() {
    if (phase_ != Phase::kRelayingBody || !client_ || !client_->frames_body()) return {};
    std::span<char> space = client_->body_space(read_space_hint_);
    read_space_offered_ = space.size();
    return space;
}

void ProxyExchange::on_upstream_read_nothing() {
    if (std::exchange(read_space_offered_, 0) > 0 && client_) client_->return_body_space();
}

void ProxyExchange::on_upstream_closed(int status) {
    if (phase_ == Phase::kRelayingBody && status == UV_EOF &&
        parser_.finish() == ResponseParser::Result::kMessageEnd) {
        // A response delimited by the connection's end: EOF completed it.
        flush_to_client();
        release_upstream(false);
        return finish_response();
    }
    if (!head_sent()) return fail(PROXYD_OUTCOME_BROKEN, status, "read");
    std::string tls_error = upstream_ ? upstream_->tls_error() : std::string();
    cut_mid_response(PROXYD_OUTCOME_BROKEN,
                     "closed mid-response (" + (tls_error.empty() ? uv_strerror(status) : tls_error) + ")");
}

void ProxyExchange::on_upstream_timeout() {
    if (!connected()) return fail(PROXYD_OUTCOME_TIMEOUT, UV_ETIMEDOUT, "connect");
    if (!head_sent()) return fail(PROXYD_OUTCOME_TIMEOUT, UV_ETIMEDOUT, "read");
    cut_mid_response(PROXYD_OUTCOME_TIMEOUT, "read timed out mid-response");
}

// The response broke after its head went out: the client must see a truncated message, never a
// complete-looking one, so its connection is cut.
void ProxyExchange::cut_mid_response(proxyd_outcome outcome, const std::string &why) {
    client_->worker().logger().warn("upstream " + pool_.config().name + " " + peer_address() + ": " + why);
    attempt_.end(outcome);
    release_upstream(false);
    if (client_framing_ == Framing::UntilClose) return client_->abort_with_reset();
    client_->abort();
}

// Interim responses (100 Continue, 103 Early Hints) go on to HTTP/1.1 clients (RFC 9110 §15.2);
// an HTTP/1.0 client would not expect one.
void ProxyExchange::on_interim_response() {
    if (client_->http_minor() < 1) return;
    int status = parser_.status();
    std::string &out = buffers_->head_text;
    // The upstream's reason phrase, as for a final response: proxyd's table lacks many 1xx (102).
    ResponseHeadWriter head = client_->start_head(out, status, response_.reason());
    for (size_t i = 0; i < response_.header_count(); ++i) {
        std::string_view name = response_.header_name(i);
        FieldKind kind = response_.header_kind(i);
        // A 1xx has no content, so no trailer section for a Trailer field to announce.
        if (is_hop_by_hop(kind) || kind == FieldKind::kContentLength || kind == FieldKind::kTrailer) continue;
        head.field(name, response_.header_value(i));
    }
    client_->end_interim_head(head);
    to_client_.own(out);
}

bool ProxyExchange::on_response_head() {
    if (upgrade_) {
        // An answer the client cannot take stops the parser; on_upstream_read then answers 502.
        unusable_upgrade_ = upgrade_refusal();
        if (!unusable_upgrade_.empty()) return false;
        if (parser_.status() == 101) {
            switch_protocols();
            return true;
        }
    }
    // Refused here, retried from on_upstream_read once the parser has returned.
    if (retry_status(parser_.status())) {
        retry_status_ = parser_.status();
        return false;
    }
    send_response_head();
    return true;
}

void ProxyExchange::send_response_head() {
    ExchangeClient &c = *client_;
    const ListenerConfig &listener = c.listener();
    int status = parser_.status();
    pool_.record_outcome(attempt_, PROXYD_OUTCOME_SUCCESS, status);

    HeadEnding ending;
    ending.client_minor = c.http_minor();
    switch (parser_.framing()) {
    case ResponseFraming::kNone:
        // A HEAD or 304 answer keeps the length of the representation it describes (RFC 9110
        // §8.6); the writer drops it from a 204.
        client_framing_ = Framing::None;
        ending.content_length = parser_.declared_length();
        break;
    case ResponseFraming::kContentLength:
        client_framing_ = Framing::ContentLength;
        ending.content_length = parser_.declared_length();
        break;
    case ResponseFraming::kChunked:
    case ResponseFraming::kUntilClose:
        // Re-chunked for HTTP/1.1 clients, so the connection outlives the response; an HTTP/1.0
        // client reads to the end of the connection. An HTTP/2 stream gets the bare payload and
        // ends when the exchange finishes.
        if (c.frames_body())
            client_framing_ = Framing::Bare;
        else
            client_framing_ = c.http_minor() >= 1 ? Framing::Chunked : Framing::UntilClose;
        ending.chunked = client_framing_ == Framing::Chunked;
        break;
    }
    // A response before the whole request body (a 401 or 413 to Expect: 100-continue) ends with
    // the connection: the unread rest of the body could not be told from a next request.
    if (client_framing_ == Framing::UntilClose || !request_complete_) client_keep_alive_ = false;
    // A stop or reload that began while the upstream worked closes the connection after this
    // response: the head says so.
    if (!c.wants_keep_alive()) client_keep_alive_ = false;
    ending.keep_alive = client_keep_alive_;

    std::string &out = buffers_->head_text;
    out.reserve(response_.size() + 160);
    int client_status = status;
    if (c.filters_response_heads() || pool_.balancer_edits_response_heads()) {
        // Response-head filters see the fields the client would get, and change them; the
        // balancer's hook first, as the innermost.
        FilteredResponseHead filtered{status, false, {}};
        filtered.fields.reserve(response_.header_count() + 4, response_.size());
        forward_response_fields(
            [&](std::string_view name, std::string_view value) { filtered.fields.add(name, value); });
        if (pool_.balancer_edits_response_heads()) {
            RequestFilters &f = c.filters();
            f.response_head = &filtered;
            pool_.balancer_response_head(attempt_.peer(), &c.request());
            f.response_head = nullptr;
        }
        c.filter_response_head(filtered);
        client_status = filtered.status;
        ResponseHeadWriter head = c.start_head(
            out, client_status, filtered.status_changed ? std::string_view() : response_.reason());
        head.strict_transport_security(listener.strict_transport_security);
        head.fields(filtered.fields);
        c.record().status = client_status; // before the head: an HTTP/2 stream may answer 502 instead
        c.end_head(head, c.worker().dates().http_date(), ending);
    } else {
        ResponseHeadWriter head = c.start_head(out, status, response_.reason());
        head.strict_transport_security(listener.strict_transport_security);
        forward_response_fields(
            [&head](std::string_view name, std::string_view value) { head.field(name, value); });
        c.record().status = client_status;
        c.end_head(head, c.worker().dates().http_date(), ending);
    }

    enter(Phase::kRelayingBody);
    attempt_.set_status(status);
    c.record().upstream_status = status;
    // Sent with the body bytes of the same read by flush_to_client(): one write, and one TCP
    // segment for a small response instead of two.
    to_client_.own(out);
}

// The response's fields as the client gets them: hop-by-hop ones and the length dropped (the
// core frames the body), Via extended.
template <class Sink> void ProxyExchange::forward_response_fields(Sink &&sink) {
    ConnectionOptions connection_options(response_);
    bool add_via = client_->listener().add_via;
    bool announce_trailers = response_trailers_go_on();
    CombinedField prior_via; // every Via line the upstream sent, in order (RFC 9110 §5.3)
    for (size_t i = 0; i < response_.header_count(); ++i) {
        std::string_view name = response_.header_name(i);
        FieldKind kind = response_.header_kind(i);
        if (must_drop_when_forwarding(kind, name, connection_options) || kind == FieldKind::kContentLength ||
            (kind == FieldKind::kTrailer && !announce_trailers))
            continue;
        if (add_via && kind == FieldKind::kVia) {
            prior_via.add(response_.header_value(i));
            continue;
        }
        sink(name, response_.header_value(i));
    }
    if (add_via) {
        std::string via(prior_via.value());
        // The version the response came in (RFC 9110 §7.6.3).
        via.append(prior_via.empty() ? "" : ", ").append(parser_.http_minor() == 0 ? "1.0" : "1.1");
        sink("Via", via.append(" proxyd"));
    }
}

// Why the upstream's answer to an upgrade cannot reach the client (empty when it can). An
// HTTP/1.1 client takes any answer but a 101 that names no protocol or one the request did not
// offer upstream; an HTTP/2 stream's WebSocket
// (RFC 8441) needs a 101 that switched to websocket with the right accept key, and its client would
// take any other 2xx for an open WebSocket.
std::string ProxyExchange::upgrade_refusal() const {
    int status = parser_.status();
    if (!client_->frames_body()) {
        return status == 101 ? protocol_refusal(client_->head(), response_) : std::string();
    }
    if (status == 101) return websocket_refusal(client_->head(), response_);
    if (status / 100 == 2)
        return "it answered " + std::to_string(status) + " instead of switching protocols (101)";
    return {};
}

// The peer answered with a whole, valid head that this client cannot be given: 502 for this
// request alone. The peer is not at fault for its other traffic (one application's WebSocket
// endpoint, not the server, is wrong), so its health and outlier counts take the answer as the
// response it is, and the request is not tried elsewhere. The connection is closed unread: a 2xx
// body may never end (a stream of events).
void ProxyExchange::refuse_upgrade_answer() {
    std::string why = std::exchange(unusable_upgrade_, std::string());
    int status = parser_.status();
    client_->worker().logger().warn("upstream " + pool_.config().name + " " + peer_address() + ": " +
                                    (client_->frames_body() ? "WebSocket for an HTTP/2 stream: " : "") + why +
                                    ", answering 502");
    release_upstream(false);
    attempt_.set_status(status);
    attempt_.end(PROXYD_OUTCOME_SUCCESS);
    pool_.record_outcome(attempt_, PROXYD_OUTCOME_SUCCESS, status);
    client_->record().upstream_status = status;
    pool_.metrics().gateway_error(502);
    client_->send_error(502, !request_complete_);
}

void ProxyExchange::switch_protocols() {
    // An HTTP/2 stream's WebSocket (RFC 8441): the client gets 200, its DATA the tunnel's bytes.
    bool stream = client_->frames_body();
    pool_.record_outcome(attempt_, PROXYD_OUTCOME_SUCCESS, 101);
    enter(Phase::kTunnel);
    // The peer serves the tunnel as long as it lasts: the attempt ends when the tunnel closes,
    // which the exchange does not watch, so it ends as SUCCESS whenever it goes.
    attempt_.set_status(101);
    attempt_.end_when_dropped(PROXYD_OUTCOME_SUCCESS);
    client_framing_ = Framing::None;
    client_->record().status = client_->record().upstream_status = 101;
    if (stream) {
        client_->record().status = 200;
        std::string head;
        ResponseHeadWriter writer = client_->start_head(head, 200, {});
        ConnectionOptions options(response_);
        for (size_t i = 0; i < response_.header_count(); ++i)
            if (stream_tunnel_field(response_, i, options))
                writer.field(response_.header_name(i), response_.header_value(i));
        HeadEnding ending;
        ending.opens_tunnel = true;
        client_->end_head(writer, client_->worker().dates().http_date(), ending);
        return; // the head went out as the stream's HEADERS
    }
    to_client_.own(switching_protocols_head(response_));
}

void ProxyExchange::start_tunnel(const char *rest, const char *end) {
    UpstreamConnection *upstream = upstream_;
    upstream_ = nullptr;
    upstream_paused_ = false;
    tunnel_ = std::make_unique<Tunnel>(*client_, *upstream,
                                       static_cast<uint64_t>(pool_.config().read_timeout.count()));
    tunnel_->start({rest, static_cast<size_t>(end - rest)});
}

void ProxyExchange::on_tunnel_bytes(std::string_view data) {
    if (tunnel_) tunnel_->from_client(data);
}

void ProxyExchange::on_tunnel_client_ended() {
    if (tunnel_) tunnel_->client_ended();
}

void ProxyExchange::on_response_body(std::string_view data) {
    client_->record().body_bytes += data.size();
    // Borrowed from the read buffer: flush_to_client() writes it before the buffer is reused.
    if (client_framing_ == Framing::Chunked) {
        to_client_.own(hex(data.size()).append("\r\n"));
        to_client_.borrow(data.data(), data.size());
        to_client_.own("\r\n");
    } else {
        to_client_.borrow(data.data(), data.size());
    }
}

void ProxyExchange::on_response_complete() {
    enter(Phase::kComplete);
    const MessageHead *trailers = parser_.trailers();
    if (trailers && client_ && response_trailers_go_on()) return forward_response_trailers(*trailers);
    if (client_framing_ == Framing::Chunked) to_client_.own("0\r\n\r\n");
}

// Only a chunked body brings trailers. They reach a client whose body is chunked, or an HTTP/2
// stream; an HTTP/1.0 client's body, delimited by the connection's end, has no place for them.
// As for requests: a response head a filter or balancer edited gets no trailers to undo it.
bool ProxyExchange::response_trailers_go_on() const {
    return parser_.framing() == ResponseFraming::kChunked &&
           (client_framing_ == Framing::Chunked || client_framing_ == Framing::Bare) &&
           !client_->filters_response_heads() && !pool_.balancer_edits_response_heads();
}

void ProxyExchange::forward_response_trailers(const MessageHead &trailers) {
    if (client_framing_ == Framing::Chunked) {
        std::string last;
        append_last_chunk(trailers, ConnectionOptions(response_), last);
        to_client_.own(last);
    } else {
        // Kept by the stream until its last body bytes (still in to_client_) have gone.
        client_->send_trailers(trailers, ConnectionOptions(response_));
    }
}

void ProxyExchange::flush_to_client() {
    if (to_client_.empty()) return;
    if (!client_) return to_client_.clear();
    ExchangeClient &c = *client_;
    const std::vector<uv_buf_t> &bufs = to_client_.bufs();
    c.send(bufs.data(), bufs.size());
    to_client_.clear();
    if (c.queued_bytes() > ExchangeClient::kHighWater && upstream_ && !upstream_paused_) {
        upstream_paused_ = true;
        upstream_->read_stop();
    }
}

void ProxyExchange::on_client_drained() {
    if (tunnel_) return tunnel_->client_drained();
    if (upstream_paused_ && upstream_ && client_->queued_bytes() <= ExchangeClient::kLowWater) {
        upstream_paused_ = false;
        upstream_->read_start();
    }
}

void ProxyExchange::release_upstream(bool reusable) {
    if (!upstream_) return;
    UpstreamConnection *c = upstream_;
    upstream_ = nullptr;
    // Reusable only after a complete exchange in both directions.
    if (reusable && phase_ == Phase::kComplete && request_complete_ && unsent_.empty() &&
        c->queued_bytes() == 0 && !c->write_failed())
        pool_.put_idle(c);
    else
        c->close();
}

void ProxyExchange::finish_response() {
    attempt_.end(PROXYD_OUTCOME_SUCCESS);
    // Must be the last thing this exchange does: the connection may delete it.
    client_->finish_exchange(client_keep_alive_);
}

// ---- failures -------------------------------------------------------------------------------

void ProxyExchange::fail(proxyd_outcome outcome, int uv_status, const char *what) {
    const UpstreamConfig &config = pool_.config();
    size_t peer = attempt_.peer();
    // A request body is streamed, not kept: once part of it went to the dead connection it
    // cannot be sent again, so only a bodiless request is taken for such a race.
    bool stale_reuse = upstream_ && upstream_->reused() && !response_started() &&
                       outcome == PROXYD_OUTCOME_BROKEN && !client_->request_has_body();
    // The peer may have read the request and acted on it before it closed: only an idempotent
    // one goes again (RFC 9110 §9.2.2: a proxy MUST NOT retry a non-idempotent request).
    bool resend_stale = stale_reuse && is_idempotent_method(client_->method());
    // OpenSSL's reason (a refused certificate, an alert) says more than the socket's status.
    std::string tls_error = upstream_ ? upstream_->tls_error() : std::string();
    if (upstream_) {
        upstream_->close();
        upstream_ = nullptr;
    }
    // A stale pooled connection ends its pick too (BROKEN), so that picks and ends stay paired
    // when the retry picks again.
    attempt_.end(outcome);
    ExchangeWorker &worker = client_->worker();
    if (resend_stale) {
        // The peer closed a pooled connection as we reused it: an ordinary race, not a failure
        // of the peer. Try again (a fresh connection unless another idle one is there).
        tried_[peer] = false;
        --tries_;
    } else if (stale_reuse) {
        // The same race, not held against the peer either; the client gets 502.
        worker.logger().warn("upstream " + config.name + " " + pool_.peer(peer).address_text +
                             ": a reused connection closed before any answer to " +
                             std::string(client_->method()) + ", which is not retried: it is not idempotent");
    } else if (!tls_error.empty()) {
        // Unlike a refused connect, a refused certificate does not go away by itself: an error.
        worker.logger().error("upstream " + config.name + " " + pool_.peer(peer).address_text + ": " +
                              tls_error);
        pool_.record_outcome(attempt_, outcome);
    } else {
        worker.logger().warn("upstream " + config.name + " " + pool_.peer(peer).address_text + ": " + what +
                             (uv_status ? std::string(": ") + uv_strerror(uv_status) : std::string()));
        pool_.record_outcome(attempt_, outcome);
    }
    // Safe to try another peer when nothing reached this one (connect failed), or when the
    // request is idempotent, bodiless and no response byte came back; worth it when retry_on
    // names the failure and the retry budget allows one more.
    bool nothing_sent =
        outcome == PROXYD_OUTCOME_CONNECT_FAILED || (outcome == PROXYD_OUTCOME_TIMEOUT && !connected());
    bool replayable =
        is_idempotent_method(client_->method()) && !client_->request_has_body() && !response_started();
    bool safe = resend_stale || ((nothing_sent || replayable) && retry_wanted(outcome));
    if (safe && tries_ < config.max_tries && any_untried() && (resend_stale || pool_.allow_retry()))
        return try_next_peer();
    client_->record().upstream_status = 0;
    int status = outcome == PROXYD_OUTCOME_TIMEOUT ? 504 : 502;
    pool_.metrics().gateway_error(status);
    client_->send_error(status, !request_complete_);
}

bool ProxyExchange::retry_wanted(proxyd_outcome outcome) const {
    const RetryOn &on = pool_.config().policies.retry_on;
    switch (outcome) {
    case PROXYD_OUTCOME_CONNECT_FAILED:
        return on.connect_failure;
    case PROXYD_OUTCOME_TIMEOUT:
        return connected() ? on.timeout : on.connect_failure;
    case PROXYD_OUTCOME_BROKEN:
        return on.invalid_response;
    default:
        return false;
    }
}

// A status retry_on names, for a request that can be sent again as it was (idempotent, bodiless:
// a body is streamed, not kept), while tries, peers and the retry budget last.
bool ProxyExchange::retry_status(int status) {
    const UpstreamConfig &config = pool_.config();
    return config.policies.retry_on.status(status) && !upgrade_ && is_idempotent_method(client_->method()) &&
           !client_->request_has_body() && tries_ < config.max_tries && any_untried() && pool_.allow_retry();
}

void ProxyExchange::retry_after_status() {
    int status = std::exchange(retry_status_, 0);
    client_->worker().logger().info("upstream " + pool_.config().name + " " + peer_address() + ": answered " +
                                    std::to_string(status) + ", retried on another peer");
    // Its body is not read: the connection cannot be reused.
    release_upstream(false);
    attempt_.set_status(status);
    attempt_.end(PROXYD_OUTCOME_SUCCESS);
    pool_.record_outcome(attempt_, PROXYD_OUTCOME_SUCCESS, status);
    client_->record().upstream_status = status;
    try_next_peer();
}

bool ProxyExchange::on_client_gone() {
    if (queued_) {
        pool_.leave_queue(*this);
        queued_ = false;
    }
    close_queue_timer();
    // After a complete response the attempt has ended already; otherwise the client left, or a
    // stop, a reload's end or a bad request body closed its connection.
    attempt_.drop();
    client_ = nullptr;
    if (upstream_) {
        // Mid-message: the connection is out of step and cannot go back to the pool.
        upstream_->close();
        upstream_ = nullptr;
    }
    return false;
}

} // namespace proxyd
