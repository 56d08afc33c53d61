// filter/rate_limit: token buckets over a test clock (rate, burst, Retry-After, the bounded
// table and its idle eviction), and the plugin's 429 through its C ABI.
#include "fake_host.hpp"
#include "token_buckets.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::testing;
using proxyd::rate_limit::TokenBuckets;

namespace {
constexpr uint64_t kSecond = 1000000000;
}

TEST_CASE("a bucket lets a burst through, then one request per 1/rate", "[filter_rate_limit]") {
    TokenBuckets buckets(2.0, 3.0, 100); // 2 a second, 3 at once
    uint64_t t = 1000 * kSecond;
    for (int i = 0; i < 3; ++i)
        CHECK(buckets.take("a", t).allowed);
    auto refused = buckets.take("a", t);
    CHECK(!refused.allowed);
    CHECK(refused.retry_after_s == 1);   // half a second, rounded up
    CHECK(buckets.take("b", t).allowed); // another key has its own bucket
    CHECK(!buckets.take("a", t + kSecond / 4).allowed);
    CHECK(buckets.take("a", t + kSecond / 2).allowed);
    CHECK(!buckets.take("a", t + kSecond / 2).allowed);
    // Idle long enough, the bucket is full again, never fuller.
    for (int i = 0; i < 3; ++i)
        CHECK(buckets.take("a", t + 100 * kSecond).allowed);
    CHECK(!buckets.take("a", t + 100 * kSecond).allowed);
}

TEST_CASE("Retry-After is the whole seconds until the next token", "[filter_rate_limit]") {
    TokenBuckets slow(1.0 / 30.0, 1.0, 10); // "2r/m"
    CHECK(slow.take("k", 0).allowed);
    CHECK(slow.take("k", 0).retry_after_s == 30);
    CHECK(slow.take("k", 10 * kSecond).retry_after_s == 20);
    CHECK(slow.take("k", 29 * kSecond + kSecond / 2).retry_after_s == 1);
    CHECK(slow.take("k", 30 * kSecond).allowed);
}

TEST_CASE("the table stays within max_keys and forgets idle keys first", "[filter_rate_limit]") {
    TokenBuckets buckets(1.0, 1.0, 3);
    CHECK(buckets.take("a", 0).allowed);
    CHECK(buckets.take("b", 0).allowed);
    CHECK(buckets.take("c", 0).allowed);
    CHECK(buckets.size() == 3);
    CHECK(buckets.take("d", 0).allowed); // full of busy keys: the coldest ("a") goes
    CHECK(buckets.size() == 3);
    CHECK(buckets.evicted_busy() == 1);
    CHECK(!buckets.take("d", 0).allowed);
    // Two seconds on, every bucket is full again: each call forgets up to two idle ones.
    CHECK(buckets.take("e", 2 * kSecond).allowed);
    CHECK(buckets.size() == 2);
    CHECK(buckets.evicted_busy() == 1);
}

TEST_CASE("rate_limit answers 429 with Retry-After past the burst, per key", "[filter_rate_limit]") {
    PluginModule module("filter_rate_limit.so");
    FakeHost host;
    void *instance = host.create(module, "rate = \"1r/m\"\nburst = 2\nkey = \"header:X-Api-Key\"");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    auto send = [&](std::vector<std::pair<std::string, std::string>> headers,
                    const char *address = "127.0.0.1") {
        FakeRequest request("GET", "/", std::move(headers));
        request.set_client_address(address);
        int rc = filter_request_head(module, instance, worker, request);
        CHECK(request.misuse.empty());
        if (rc == PROXYD_FILTER_CONTINUE) return std::string("pass");
        REQUIRE(rc == PROXYD_FILTER_RESPONDED);
        REQUIRE(request.responded);
        CHECK(request.responded->status == 429);
        return "429 after " + request.responded->header("Retry-After").value_or("?");
    };
    CHECK(send({{"X-Api-Key", "k1"}}) == "pass");
    CHECK(send({{"X-Api-Key", "k1"}}) == "pass");
    std::string third = send({{"X-Api-Key", "k1"}});
    CHECK((third == "429 after 60" || third == "429 after 59"));
    CHECK(send({{"X-Api-Key", "k2"}}) == "pass");
    // Without the header: keyed by the client address, which a header value cannot take over.
    CHECK(send({}) == "pass");
    CHECK(send({{"X-Api-Key", "127.0.0.1"}}) == "pass");
    CHECK(send({}) == "pass");
    CHECK_THAT(send({}), Catch::StartsWith("429 after"));
    CHECK(send({}, "127.0.0.2") == "pass");
}

TEST_CASE("rate_limit checks its settings", "[filter_rate_limit]") {
    PluginModule module("filter_rate_limit.so");
    auto errors_of = [&](const char *toml) {
        FakeHost host;
        CHECK(host.create(module, toml) == nullptr);
        return host.error_text();
    };
    CHECK_THAT(errors_of("burst = 5"), Catch::Contains("'rate' is required"));
    CHECK(errors_of("rate = \"10r/h\"") ==
          "plugin.toml:1:8: 'rate' must be a number of requests a second or \"Nr/s\" / \"Nr/m\"\n");
    CHECK(errors_of("rate = 0") == "plugin.toml:1:8: 'rate' must be above 0\n");
    CHECK(errors_of("rate = 5\nburst = 0") == "plugin.toml:2:9: 'burst' must be within 1..1000000\n");
    CHECK(errors_of("rate = 5\nkey = \"cookie:x\"") ==
          "plugin.toml:2:7: 'key' must be \"client_address\" or \"header:NAME\"\n");
    FakeHost ok;
    CHECK(ok.create(module, "rate = 2.5\nburst = 10\nmax_keys = 50") != nullptr);
}
