// filter/rate_limit: a token bucket per client address (or per value of a header), refusing what
// goes past it with 429 and Retry-After (whole seconds until the next token).
//
//   filters = [{ plugin = "rate_limit", rate = "10r/s", burst = 20 }]
//   filters = [{ plugin = "rate_limit", rate = 100, burst = 100, key = "header:X-Api-Key" }]
//
// rate: tokens a second (a number), or "Nr/s" / "Nr/m". burst: the bucket's size, the requests
// a key may send at once after being idle (default 1: one request per 1/rate seconds). key:
// "client_address" (default) or "header:NAME"; a request without that header is keyed by its
// client address. max_keys: buckets each worker keeps (default 10000; the least recently used go
// first, idle ones as they cool down).
//
// Per worker: each worker thread keeps its own buckets and takes no lock. With workers = N a key
// whose connections land on several workers gets up to N times the rate (the kernel spreads
// connections over the workers; one keep-alive connection stays on one worker). A fleet-wide or
// process-wide limit is not what this filter does. Written on plugin.hpp's C++ helper.
#include "token_buckets.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <proxyd/plugin.hpp>
#include <string>

namespace proxyd::rate_limit {
namespace {

using sdk::Config;

// "10r/s" -> 10, "30r/m" -> 0.5; nullopt when it is not that form.
std::optional<double> parse_rate_text(std::string_view text) {
    size_t r = text.find("r/");
    if (r == std::string_view::npos || r == 0 || r + 3 != text.size()) return std::nullopt;
    double count = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + r, count);
    if (ec != std::errc() || end != text.data() + r) return std::nullopt;
    switch (text.back()) {
    case 's':
        return count;
    case 'm':
        return count / 60.0;
    default:
        return std::nullopt;
    }
}

uint64_t now_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

class RateLimitFilter {
  public:
    struct Worker {
        explicit Worker(const RateLimitFilter &filter)
            : buckets(filter.rate_, filter.burst_, filter.max_keys_) {}
        TokenBuckets buckets;
        std::string key; // reused for each request's key
    };

    static std::unique_ptr<RateLimitFilter> create(Config &config) {
        config.check_keys({"rate", "burst", "key", "max_keys"});
        auto self = std::make_unique<RateLimitFilter>();
        Config rate = config.child("rate");
        if (!rate.present()) {
            config.error("'rate' is required: requests a second (10), or \"10r/s\", \"600r/m\"");
        } else if (rate.type() == PROXYD_CONFIG_STRING) {
            auto parsed = parse_rate_text(*rate.as_string());
            if (!parsed) rate.error("'rate' must be a number of requests a second or \"Nr/s\" / \"Nr/m\"");
            self->rate_ = parsed.value_or(1);
        } else {
            self->rate_ = rate.as_number("rate").value_or(1);
        }
        if (!(self->rate_ > 0) || !std::isfinite(self->rate_)) rate.error("'rate' must be above 0");
        int64_t burst = config.integer("burst").value_or(1);
        if (burst < 1 || burst > 1000000) config.child("burst").error("'burst' must be within 1..1000000");
        self->burst_ = static_cast<double>(burst);
        int64_t max_keys = config.integer("max_keys").value_or(10000);
        if (max_keys < 1 || max_keys > 100000000)
            config.child("max_keys").error("'max_keys' must be within 1..100000000");
        self->max_keys_ = static_cast<size_t>(max_keys);
        if (auto key = config.string("key")) {
            if (key->starts_with("header:") && key->size() > 7)
                self->header_ = std::string(key->substr(7));
            else if (*key != "client_address")
                config.child("key").error("'key' must be \"client_address\" or \"header:NAME\"");
        }
        return self;
    }

    int request_head(Worker *worker, const sdk::FilterRequest &request) const {
        if (!worker) return PROXYD_ESTATE; // a core that made no worker state: 500, not a crash
        // Prefixed so that a header value cannot take the bucket of a client address.
        std::optional<std::string_view> value;
        if (!header_.empty()) value = request.header(header_);
        worker->key.assign(value ? "h:" : "a:");
        worker->key.append(value ? *value : request.client_address());
        TokenBuckets::Decision decision = worker->buckets.take(worker->key, now_ns());
        if (decision.allowed) return PROXYD_FILTER_CONTINUE;
        std::string retry_after = std::to_string(decision.retry_after_s);
        if (request.respond(429, {{"Retry-After", retry_after}, {"Content-Type", "text/plain"}},
                            "Too Many Requests\n") != PROXYD_OK)
            return PROXYD_EPLUGIN;
        return PROXYD_FILTER_RESPONDED;
    }

  private:
    double rate_ = 1;
    double burst_ = 1;
    size_t max_keys_ = 10000;
    std::string header_; // empty: key by client address
};

} // namespace
} // namespace proxyd::rate_limit

PROXYD_FILTER_PLUGIN(proxyd::rate_limit::RateLimitFilter, "rate_limit", "0.1.0")
