#include "exchange/subrequest.hpp"

#include "exchange/exchange_worker.hpp"
#include "http/header_rules.hpp"
#include "http/idempotent_methods.hpp"
#include "upstream/upstream_pool.hpp"

#include <algorithm>

namespace proxyd {

namespace {

const ResponseLimits kSubrequestLimits{.max_head_bytes = 64 * 1024};

} // namespace

Subrequest::Subrequest(SubrequestSet &set, UpstreamPool &pool, const proxyd_request &client, Spec spec,
                       Done done, void *arg)
    : set_(set), pool_(pool), client_(client), spec_(std::move(spec)), done_(done), arg_(arg),
      tried_(new bool[pool.peer_count()]()), parser_(kSubrequestLimits, response_, *this) {}

// The balancer sees the subrequest's own line (a hash on the path hashes this path), and the
// client's fields through the handle. Made again for each pick: filters may have changed the
// client's view since.
const proxyd_request &Subrequest::view() {
    std::string_view path = spec_.path;
    size_t q = path.find('?');
    view_ = client_;
    view_.method = {spec_.method.data(), spec_.method.size()};
    view_.target = {spec_.path.data(), spec_.path.size()};
    view_.path = {path.data(), std::min(q, path.size())};
    std::string_view query = q == std::string_view::npos ? std::string_view() : path.substr(q + 1);
    view_.query = {query.data(), query.size()};
    return view_;
}

Subrequest::~Subrequest() {
    // Cancelled (or finished): a connection still held is mid-message, never pooled. attempt_
    // ends as ABORTED unless it was reported already.
    if (upstream_) upstream_->close();
}

bool Subrequest::start() {
    starting_ = true;
    try_next_peer();
    starting_ = false;
    return !failed_at_start_;
}

void Subrequest::try_next_peer() {
    Attempt attempt = pool_.pick(tried_.get(), &view());
    if (!attempt.open()) {
        pool_.worker().logger().warn("upstream " + pool_.config().name +
                                     ": no peer available for subrequest " + spec_.method + " " + spec_.path);
        return deliver(PROXYD_SUBREQUEST_FAILED);
    }
    attempt_ = std::move(attempt);
    tried_[attempt_.peer()] = true;
    ++tries_;
    connected_ = false;
    response_started_ = false;
    truncated_ = false;
    body_.clear();
    parser_.reset({.head_request = spec_.method == "HEAD", .upgrade_offered = false});
    if (UpstreamConnection *idle = pool_.take_idle(attempt_.peer())) {
        upstream_ = idle;
        upstream_->attach(this);
        return on_upstream_connected(0);
    }
    upstream_ = new UpstreamConnection(pool_, attempt_.peer());
    int rc = upstream_->connect(this, static_cast<uint64_t>(pool_.config().connect_timeout.count()));
    if (rc != 0) {
        upstream_ = nullptr; // connect() closed it
        fail(PROXYD_OUTCOME_CONNECT_FAILED, rc, "connect");
    }
}

std::string Subrequest::build_head() const {
    std::string out;
    out.append(spec_.method).append(" ").append(spec_.path).append(" HTTP/1.1\r\n");
    bool has_host = false;
    for (size_t i = 0; i < spec_.fields.header_count(); ++i) {
        std::string_view name = spec_.fields.header_name(i);
        if (iequals(name, "x-request-id")) continue; // the request's own, below
        has_host = has_host || iequals(name, "host");
        out.append(name).append(": ").append(spec_.fields.header_value(i)).append("\r\n");
    }
    if (!has_host) out.append("Host: ").append(pool_.peer(attempt_.peer()).authority).append("\r\n");
    out.append("X-Request-ID: ").append(client_.request_id.ptr, client_.request_id.len).append("\r\n\r\n");
    return out;
}

void Subrequest::on_upstream_connected(int status) {
    if (status != 0) return fail(PROXYD_OUTCOME_CONNECT_FAILED, status, "connect");
    connected_ = true;
    upstream_->read_start();
    upstream_->send(build_head());
    rearm_timer();
}

void Subrequest::rearm_timer() {
    const UpstreamConfig &config = pool_.config();
    auto timeout = upstream_->queued_bytes() > 0 ? config.send_timeout : config.read_timeout;
    upstream_->arm_timeout(static_cast<uint64_t>(timeout.count()));
}

void Subrequest::on_upstream_write_done() {
    if (upstream_) rearm_timer();
}

void Subrequest::on_upstream_read(const char *data, size_t len) {
    response_started_ = true;
    rearm_timer();
    ResponseParser::Result result = parser_.execute(data, len);
    if (result == ResponseParser::Result::kMessageEnd)
        return finish_response(parser_.consumed() == len && parser_.keep_alive());
    if (truncated_) return finish_response(false); // enough read: the rest is not wanted
    if (result == ResponseParser::Result::kNeedMore) return;
    // An error (a 101 too: no upgrade was offered).
    std::string why = "invalid response (" + parser_.error_text() + ")";
    if (!parser_.head_complete()) return fail(PROXYD_OUTCOME_BROKEN, 0, why.c_str()); // logged there, once
    pool_.worker().logger().warn("upstream " + pool_.config().name + " " +
                                 pool_.peer(attempt_.peer()).address_text + ": subrequest " + why);
    attempt_.end(PROXYD_OUTCOME_BROKEN);
    deliver(PROXYD_SUBREQUEST_FAILED);
}

bool Subrequest::on_response_head() {
    pool_.record_outcome(attempt_, PROXYD_OUTCOME_SUCCESS, parser_.status());
    attempt_.set_status(parser_.status());
    return true;
}

void Subrequest::on_response_body(std::string_view data) {
    size_t room = PROXYD_SUBREQUEST_MAX_BODY - body_.size();
    if (data.size() > room) truncated_ = true;
    body_.append(data.substr(0, room));
}

void Subrequest::on_upstream_closed(int status) {
    if (parser_.head_complete() && status == UV_EOF &&
        parser_.finish() == ResponseParser::Result::kMessageEnd)
        return finish_response(false); // a body delimited by the connection's end
    if (!parser_.head_complete()) return fail(PROXYD_OUTCOME_BROKEN, status, "read");
    // The body broke after the head: the answer is not whole, so not trusted.
    attempt_.end(PROXYD_OUTCOME_BROKEN);
    deliver(PROXYD_SUBREQUEST_FAILED);
}

void Subrequest::on_upstream_timeout() {
    if (!connected_) return fail(PROXYD_OUTCOME_TIMEOUT, UV_ETIMEDOUT, "connect");
    if (!parser_.head_complete()) return fail(PROXYD_OUTCOME_TIMEOUT, UV_ETIMEDOUT, "read");
    attempt_.end(PROXYD_OUTCOME_TIMEOUT);
    deliver(PROXYD_SUBREQUEST_TIMEOUT);
}

void Subrequest::finish_response(bool reusable) {
    UpstreamConnection *c = std::exchange(upstream_, nullptr);
    if (reusable && c->queued_bytes() == 0 && !c->write_failed())
        pool_.put_idle(c);
    else
        c->close();
    attempt_.end(PROXYD_OUTCOME_SUCCESS);
    deliver(PROXYD_SUBREQUEST_RESPONSE);
}

// The same retry rules as a proxied request (ProxyExchange::fail), for a bodiless request.
void Subrequest::fail(proxyd_outcome outcome, int uv_status, const char *what) {
    size_t peer = attempt_.peer();
    bool stale_reuse =
        upstream_ && upstream_->reused() && !response_started_ && outcome == PROXYD_OUTCOME_BROKEN;
    // The peer may have acted on it before it closed (RFC 9110 §9.2.2).
    bool resend_stale = stale_reuse && is_idempotent_method(spec_.method);
    if (upstream_) {
        upstream_->close();
        upstream_ = nullptr;
    }
    if (resend_stale) {
        tried_[peer] = false;
        --tries_;
    } else if (stale_reuse) {
        // The race is not held against the peer.
        pool_.worker().logger().warn("upstream " + pool_.config().name + " " + pool_.peer(peer).address_text +
                                     ": a reused connection closed before any answer to subrequest " +
                                     spec_.method + ", which is not retried: it is not idempotent");
    } else {
        pool_.worker().logger().warn(
            "upstream " + pool_.config().name + " " + pool_.peer(peer).address_text + ": subrequest " + what +
            (uv_status ? std::string(": ") + uv_strerror(uv_status) : std::string()));
        pool_.record_outcome(attempt_, outcome);
    }
    attempt_.end(outcome);
    bool nothing_sent =
        outcome == PROXYD_OUTCOME_CONNECT_FAILED || (outcome == PROXYD_OUTCOME_TIMEOUT && !connected_);
    bool replayable = is_idempotent_method(spec_.method) && !response_started_;
    bool any_untried = false;
    for (size_t i = 0; i < pool_.peer_count(); ++i)
        any_untried = any_untried || !tried_[i];
    if ((nothing_sent || replayable || resend_stale) && tries_ < pool_.config().max_tries && any_untried)
        return try_next_peer();
    deliver(outcome == PROXYD_OUTCOME_TIMEOUT ? PROXYD_SUBREQUEST_TIMEOUT : PROXYD_SUBREQUEST_FAILED);
}

void Subrequest::deliver(proxyd_subrequest_result result) {
    if (starting_) {
        // Inside subrequest_start: it returns the failure instead, and the set drops this one.
        failed_at_start_ = true;
        return;
    }
    // Out of the set first: done may end the request, and the set with it.
    std::unique_ptr<Subrequest> self = set_.take(this);
    std::vector<proxyd_header> fields;
    proxyd_subrequest_response response{};
    response.struct_size = sizeof response;
    response.result = result;
    if (result == PROXYD_SUBREQUEST_RESPONSE) {
        response.status = parser_.status();
        fields.reserve(response_.header_count());
        for (size_t i = 0; i < response_.header_count(); ++i) {
            std::string_view name = response_.header_name(i), value = response_.header_value(i);
            fields.push_back(proxyd_header{{name.data(), name.size()}, {value.data(), value.size()}});
        }
        response.headers = fields.data();
        response.header_count = fields.size();
        response.body = {body_.data(), body_.size()};
        response.body_truncated = truncated_;
    }
    done_(arg_, &response);
}

// ---- the set --------------------------------------------------------------------------------

Subrequest *SubrequestSet::start(std::unique_ptr<Subrequest> subrequest) {
    Subrequest *raw = subrequest.get();
    running_.push_back(std::move(subrequest));
    if (raw->start()) return raw;
    running_.pop_back();
    return nullptr;
}

bool SubrequestSet::cancel(const proxyd_subrequest *handle) {
    auto it = std::find_if(running_.begin(), running_.end(), [handle](const auto &s) {
        return static_cast<const proxyd_subrequest *>(s.get()) == handle;
    });
    if (it == running_.end()) return false;
    std::unique_ptr<Subrequest> gone = std::move(*it);
    running_.erase(it);
    return true;
}

void SubrequestSet::cancel_all() {
    closed_ = true;
    if (running_.empty()) return; // the usual case, at every request's end
    // Moved out first: a destructor that reaches the set again finds it empty.
    std::vector<std::unique_ptr<Subrequest>> gone = std::move(running_);
    running_.clear();
}

std::unique_ptr<Subrequest> SubrequestSet::take(Subrequest *subrequest) {
    for (auto it = running_.begin(); it != running_.end(); ++it) {
        if (it->get() != subrequest) continue;
        std::unique_ptr<Subrequest> owned = std::move(*it);
        running_.erase(it);
        return owned;
    }
    return nullptr;
}

} // namespace proxyd
