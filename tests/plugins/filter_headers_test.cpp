// filter/headers: value templates, and the plugin through its C ABI with the SDK's test host:
// request and response edits, variables, HSTS in one line, and edits refused at load.
#include "fake_host.hpp"
#include "value_template.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::testing;
using proxyd::headers::ValueTemplate;
using proxyd::headers::Variables;

TEST_CASE("a value template renders variables, ${name} and $$", "[filter_headers]") {
    std::string error;
    Variables v{"192.0.2.7", "abc-123", "https", "example.org", "HTTP/2.0", "0.012"};
    auto t = ValueTemplate::parse("$scheme://${host}/x?c=$client_address&id=$request_id costs $$5", &error);
    REQUIRE(t);
    CHECK(!t->is_literal());
    CHECK(!t->uses_request_time());
    CHECK(t->render(v) == "https://example.org/x?c=192.0.2.7&id=abc-123 costs $5");
    auto timed = ValueTemplate::parse("$protocol took ${request_time}s", &error);
    REQUIRE(timed);
    CHECK(timed->uses_request_time());
    CHECK(timed->render(v) == "HTTP/2.0 took 0.012s");
    auto literal = ValueTemplate::parse("max-age=63072000; includeSubDomains", &error);
    REQUIRE(literal);
    CHECK(literal->is_literal());
    CHECK(literal->literal() == "max-age=63072000; includeSubDomains");
    auto dollar = ValueTemplate::parse("$$", &error);
    REQUIRE(dollar);
    CHECK(dollar->is_literal());
    CHECK(dollar->literal() == "$");
    CHECK(ValueTemplate::parse("", &error)->render(v).empty());
}

TEST_CASE("a value template refuses unknown variables and a lone $", "[filter_headers]") {
    std::string error;
    CHECK(!ValueTemplate::parse("$hots", &error));
    CHECK(error.starts_with("unknown variable '$hots'"));
    CHECK(!ValueTemplate::parse("5 $", &error));
    CHECK_THAT(error, Catch::Contains("write $$ for a dollar sign"));
    CHECK(!ValueTemplate::parse("${host", &error));
    CHECK_THAT(error, Catch::Contains("unclosed"));
}

TEST_CASE("headers edits requests: remove, then set, then add, with variables", "[filter_headers]") {
    PluginModule module("filter_headers.so");
    REQUIRE(module.descriptor().kind == PROXYD_KIND_FILTER);
    FakeHost host;
    void *instance = host.create(module, R"(
        request.remove = ["X-Debug"]
        request.set = { "X-Client" = "$client_address", "X-Request-Id" = "$request_id", "X-Twice" = "one" }
        request.add = { "Via-Filter" = ["a", "b"] }
    )");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/", {{"X-Debug", "1"}, {"x-twice", "1"}, {"X-Twice", "2"}, {"Host", "h"}});
    request.set_client_address("2001:db8::5");
    request.set_request_id("rid-9");
    CHECK(filter_request_head(module, instance, worker, request) == PROXYD_FILTER_CONTINUE);
    CHECK(request.misuse.empty());
    CHECK(!request.header("X-Debug"));
    CHECK(request.header("X-Client") == "2001:db8::5");
    CHECK(request.header("X-Request-Id") == "rid-9");
    CHECK(request.header_count("X-Twice") == 1);
    CHECK(request.header("X-Twice") == "one");
    CHECK(request.header_count("Via-Filter") == 2);
    CHECK(!request.responded);
}

TEST_CASE("headers edits every response head, HSTS is one line", "[filter_headers]") {
    PluginModule module("filter_headers.so");
    FakeHost host;
    void *instance = host.create(module, R"(
        response.set = { "Strict-Transport-Security" = "max-age=63072000; includeSubDomains" }
        response.add = { "X-Served-By" = "$scheme://$host" }
        response.remove = ["Server"]
    )");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/", {{"Host", "example.org"}});
    request.set_scheme("https");
    CHECK(filter_request_head(module, instance, worker, request) == PROXYD_FILTER_CONTINUE);
    FakeResponseHead head(502, {{"Server", "backend"}, {"Strict-Transport-Security", "max-age=1"}});
    filter_response_head(module, instance, worker, request, head);
    CHECK(request.misuse.empty());
    CHECK(head.status == 502);
    CHECK(!head.header("Server"));
    CHECK(head.header_count("Strict-Transport-Security") == 1);
    CHECK(head.header("Strict-Transport-Security") == "max-age=63072000; includeSubDomains");
    CHECK(head.header("X-Served-By") == "https://example.org");
}

TEST_CASE("headers renders $protocol and $request_time from the request view (ABI 1.6)", "[filter_headers]") {
    PluginModule module("filter_headers.so");
    FakeHost host;
    void *instance = host.create(module, R"(
        response.set = { "X-Protocol" = "$protocol", "X-Time" = "$request_time" }
    )");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/");
    request.set_protocol("HTTP/2.0");
    // Began 1.5 s ago: the value is seconds to the millisecond, at least that.
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    request.set_received_ns(uint64_t(now.tv_sec) * 1000000000u + uint64_t(now.tv_nsec) - 1500000000u);
    CHECK(filter_request_head(module, instance, worker, request) == PROXYD_FILTER_CONTINUE);
    FakeResponseHead head(200);
    filter_response_head(module, instance, worker, request, head);
    CHECK(head.header("X-Protocol") == "HTTP/2.0");
    std::string time = head.header("X-Time").value_or("");
    INFO(time);
    REQUIRE(time.size() >= 5);
    CHECK(time[time.size() - 4] == '.');
    double seconds = std::stod(time);
    CHECK(seconds >= 1.5);
    CHECK(seconds < 60); // a bound, not a timing: the machine may be slow

    // A view without a start time (received_ns 0) renders "-", as the access log writes an
    // absent value.
    FakeRequest unstarted("GET", "/");
    unstarted.set_received_ns(0);
    FakeResponseHead second(200);
    filter_response_head(module, instance, worker, unstarted, second);
    CHECK(second.header("X-Time") == "-");

    // The test host's view follows the protocol as the core's does: HTTP/1.0's rules for 1.0.
    FakeRequest old_client("GET", "/");
    old_client.set_protocol("HTTP/1.0");
    CHECK(old_client.raw()->http_minor == 0);
    CHECK(request.raw()->http_minor == 1); // HTTP/2.0 reads 1.1's rules
}

TEST_CASE("headers refuses at load what the core would refuse at run time", "[filter_headers]") {
    PluginModule module("filter_headers.so");
    auto errors_of = [&](const char *toml) {
        FakeHost host;
        CHECK(host.create(module, toml) == nullptr);
        return host.error_text();
    };
    CHECK(errors_of("response.set = { \"Content-Length\" = \"5\" }") ==
          "plugin.toml:1:37: 'Content-Length' is the core's (it frames the message)\n");
    CHECK(errors_of("request.remove = [\"Host\"]") ==
          "plugin.toml:1:19: Host can only be set on requests (a request has exactly one)\n");
    CHECK(errors_of("response.remove = [\"Connection\"]") ==
          "plugin.toml:1:20: 'Connection' is the core's on responses\n");
    CHECK_THAT(errors_of("request.set = { \"X-A\" = \"$hots\" }"),
               Catch::StartsWith("plugin.toml:1:25: unknown variable '$hots'"));
    CHECK(errors_of("request.set = { \"Bad Name\" = \"x\" }") ==
          "plugin.toml:1:30: 'Bad Name' is not a valid header name\n");
    CHECK(errors_of("request.set = { \"X-A\" = \"a\\nb\" }") ==
          "plugin.toml:1:25: a header value cannot hold CR, LF or NUL\n");
    CHECK(errors_of("request.set = { \"x-request-id\" = \"two words\" }") ==
          "plugin.toml:1:34: not a valid request id (1 to 200 characters of A-Z a-z 0-9 . _ : -): the core "
          "would refuse it on every request\n");
    CHECK(errors_of("request.sett = {}") == "plugin.toml:1:9: unknown key 'sett'\n");
    CHECK(errors_of("") ==
          "plugin.toml:1:1: nothing to do: give request or response edits (set, add, remove)\n");
}
