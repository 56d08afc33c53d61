#include "health/probe_exchange.hpp"

#include "tls/tls_client_context.hpp"
#include "tls/tls_session.hpp"

#include <utility>

namespace proxyd {

namespace {

// What a check reads of a body, at most: enough for a status page's marker, bounded so that a
// peer answering with a large body costs the checker nothing more.
constexpr size_t kMaxBodyKept = 64 * 1024;

const ResponseLimits &probe_limits() {
    static const ResponseLimits kLimits{};
    return kLimits;
}

} // namespace

ProbeExchange::ProbeExchange(const HealthCheckConfig &config, std::string request,
                             const TlsClientContext *tls, const std::string &tls_name, bool tls_name_is_ip)
    : config_(config), request_(std::move(request)), tls_context_(tls),
      parser_(probe_limits(), head_, *this) {
    ResponseContext context;
    context.head_request = config.method == "HEAD";
    parser_.reset(context);
    if (!tls) return;
    tls_ = std::make_unique<TlsSession>(tls->ctx());
    // No session to resume and no keeper: a session the peer issues is dropped with the check.
    if (!tls->prepare(tls_->native(), tls_name, tls_name_is_ip, nullptr, nullptr))
        tls_setup_error_ = "TLS: cannot use the name '" + tls_name + "'";
}

ProbeExchange::~ProbeExchange() = default;

std::optional<ProbeVerdict> ProbeExchange::start(std::string &output) {
    if (!tls_) {
        output.append(request_);
        request_sent_ = true;
        return std::nullopt;
    }
    if (!tls_setup_error_.empty()) return failed(tls_setup_error_);
    // The first call writes the ClientHello.
    if (tls_->receive(nullptr, 0, plaintext_, output) == TlsSession::Status::kError)
        return failed(tls_->error_text());
    return std::nullopt;
}

std::optional<ProbeVerdict> ProbeExchange::receive(const char *data, size_t len, std::string &output) {
    if (!tls_) return judge(parser_.execute(data, len));
    plaintext_.clear();
    TlsSession::Status status = tls_->receive(data, len, plaintext_, output);
    if (status == TlsSession::Status::kError)
        return failed(request_sent_ ? tls_->error_text()
                                    : tls_context_->handshake_failure(tls_->native(), tls_->error_text()));
    if (!request_sent_ && tls_->handshake_complete()) {
        if (tls_->send(request_, output) != TlsSession::Status::kOk) return failed(tls_->error_text());
        request_sent_ = true;
    }
    if (!plaintext_.empty())
        if (auto verdict = judge(parser_.execute(plaintext_.data(), plaintext_.size()))) return verdict;
    // close_notify: the peer's end of the stream, as EOF is for cleartext.
    if (status == TlsSession::Status::kClosed) return end_of_stream();
    return std::nullopt;
}

ProbeVerdict ProbeExchange::end_of_stream() {
    if (in_tls_handshake()) return failed("TLS handshake: the peer closed the connection");
    // judge() always has a verdict once the parser is told the stream ended.
    return judge(parser_.finish()).value_or(failed("response cut short"));
}

std::optional<ProbeVerdict> ProbeExchange::judge(ResponseParser::Result result) {
    switch (result) {
    case ResponseParser::Result::kNeedMore:
        return std::nullopt;
    case ResponseParser::Result::kError:
        return failed(parser_.head_complete() ? "response cut short: " + parser_.error_text()
                                              : "invalid response: " + parser_.error_text());
    case ResponseParser::Result::kSwitched:
        return failed("status 101");
    case ResponseParser::Result::kMessageEnd:
        break;
    }
    int status = parser_.status();
    if (status < config_.status_min || status > config_.status_max)
        return failed("status " + std::to_string(status));
    if (!config_.expect_body.empty() && body_.find(config_.expect_body) == std::string::npos)
        return failed("status " + std::to_string(status) + ", body without \"" + config_.expect_body + "\"");
    return ProbeVerdict{true, ""};
}

void ProbeExchange::on_response_body(std::string_view data) {
    if (!config_.expect_body.empty() && body_.size() < kMaxBodyKept)
        body_.append(data.substr(0, kMaxBodyKept - body_.size()));
}

} // namespace proxyd
