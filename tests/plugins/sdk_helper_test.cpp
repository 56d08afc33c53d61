// plugin.hpp's C++ helper through the ABI: two probe plugins (tests/plugins/sdk/) written against
// it, driven by the SDK's test host. What 1.1 added to the helper, and that the unknown-key check
// points at the key.
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <iterator>
#include <mutex>
#include <proxyd/plugin.hpp>
#include <string>

using namespace proxyd::testing;

static_assert(std::forward_iterator<proxyd::sdk::HeaderRange::iterator>);

namespace {

std::string probe(const char *file) { return std::string(PROXYD_SDK_PROBE_DIR) + "/" + file; }

} // namespace

TEST_CASE("the helper's is_token accepts RFC 9110 tokens only: a header name from config", "[sdk_helper]") {
    using proxyd::sdk::is_token;
    static_assert(is_token("X-Backend")); // usable at compile time, for a plugin's fixed names
    CHECK(is_token("x!#$%&'*+-.^_`|~09AZaz"));
    CHECK_FALSE(is_token(""));
    CHECK_FALSE(is_token("X Backend"));
    CHECK_FALSE(is_token("X:Backend"));
    CHECK_FALSE(is_token("X-Backend\r\nSet-Cookie"));
    CHECK_FALSE(is_token(std::string_view("X\0", 2)));
    CHECK_FALSE(is_token("caf\xc3\xa9")); // no byte outside ASCII
    for (char c : std::string_view("\"(),/:;<=>?@[\\]{}\x7f"))
        CHECK_FALSE(is_token(std::string(1, c)));
}

TEST_CASE("the helper reads floats, integers as floats, and the plugin's name", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_content.so"));
    FakeHost host;
    host.plugin_name = "probe_under_plugins";
    void *instance = host.create(module, "ratio = 2\nlabel = \"x\"");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance, 2, 4);
    FakeRequest request("GET", "/");
    FakeResponse response;
    REQUIRE(handle(module, instance, worker, request, response) == PROXYD_OK);
    CHECK_THAT(response.body, Catch::StartsWith("name=probe_under_plugins label=x ratio=2.000000 worker=2/4\n"));

    FakeHost unnamed;
    void *second = unnamed.create(module, "ratio = 0.25");
    REQUIRE(second);
    FakeWorker first(module.descriptor(), second);
    FakeResponse answer;
    REQUIRE(handle(module, second, first, request, answer) == PROXYD_OK);
    CHECK_THAT(answer.body, Catch::StartsWith("name=sdk_probe_content label= ratio=0.250000 worker=0/1\n"));

    FakeHost bad;
    CHECK(bad.create(module, "ratio = \"high\"") == nullptr);
    REQUIRE(bad.errors().size() == 1);
    CHECK(bad.errors()[0].message == "'ratio' must be a number");
    CHECK(bad.errors()[0].column == 9);
}

TEST_CASE("an unknown key is reported at the key, not at its value", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_content.so"));
    FakeHost host;
    CHECK(host.create(module, "ratio = 1\ncolour   =   \"red\"\nnested = { deep = 1 }") == nullptr);
    REQUIRE(host.errors().size() == 2);
    CHECK(host.error_text() == "plugin.toml:2:1: unknown key 'colour'\nplugin.toml:3:1: unknown key 'nested'\n");
}

TEST_CASE("the helper iterates request headers in order and reads the body up to max_body", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_content.so"));
    REQUIRE(module.descriptor().content->max_body == 16);
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest request("POST", "/", {{"Accept", "a"}, {"X-Two", "1"}, {"x-two", "2"}});
    request.body = "small body";
    FakeResponse response;
    REQUIRE(handle(module, instance, worker, request, response) == PROXYD_OK);
    CHECK_THAT(response.body, Catch::EndsWith("\nAccept: a\nX-Two: 1\nx-two: 2\nbody=small body\n"));

    FakeRequest big("POST", "/");
    big.body = std::string(17, 'b');
    FakeResponse refused;
    REQUIRE(handle(module, instance, worker, big, refused) == PROXYD_OK);
    CHECK(refused.status == 413);
    CHECK(refused.body.empty());

    FakeRequest none("GET", "/");
    FakeResponse plain;
    REQUIRE(handle(module, instance, worker, none, plain) == PROXYD_OK);
    CHECK_THAT(plain.body, !Catch::Contains("body="));
}

TEST_CASE("the helper reads the request's TLS, and nothing over cleartext", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_content.so"));
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest request("GET", "/");
    proxyd_tls_info tls{};
    tls.version = {"TLSv1.3", 7};
    tls.client_verify = PROXYD_TLS_VERIFY_SUCCESS;
    tls.client_subject = {"CN=alice", 8};
    request.tls = tls;
    FakeResponse response;
    REQUIRE(handle(module, instance, worker, request, response) == PROXYD_OK);
    CHECK_THAT(response.body, Catch::EndsWith("tls=TLSv1.3 verified=1 subject=CN=alice\n"));

    FakeRequest cleartext("GET", "/");
    FakeResponse plain;
    REQUIRE(handle(module, instance, worker, cleartext, plain) == PROXYD_OK);
    CHECK_THAT(plain.body, !Catch::Contains("tls="));
}

TEST_CASE("a content plugin answers later through WorkerContext::post, or drops the response when cancelled",
          "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_content.so"));
    REQUIRE(module.descriptor().create_worker_ex != nullptr);
    REQUIRE(module.descriptor().content->cancelled != nullptr);
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest request("GET", "/later");
    FakeResponse response;
    REQUIRE(handle(module, instance, worker, request, response) == PROXYD_OK);
    CHECK_FALSE(response.finished);
    CHECK(worker.posted() == 1);
    CHECK(worker.run_posted() == 1);
    CHECK(response.finished);
    CHECK(response.body == "later");

    FakeRequest left("GET", "/later");
    FakeResponse abandoned;
    REQUIRE(handle(module, instance, worker, left, abandoned) == PROXYD_OK);
    CHECK(cancel(module, instance, worker.get(), abandoned));
    CHECK(worker.run_posted() == 1); // the callback finds nothing parked and answers nothing
    CHECK_FALSE(abandoned.finished);
    CHECK(abandoned.misuse.empty());
}

TEST_CASE("a balancer sees its peers at create time and every attempt's end", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_balancer.so"));
    REQUIRE(module.descriptor().balancing->attempt_done != nullptr);
    REQUIRE(module.descriptor().balancing->outcome == nullptr);
    CHECK(module.descriptor().create_worker_ex == nullptr); // its Worker takes no context: the 1.0 path

    FakeHost empty;
    CHECK(empty.create(module, "") == nullptr);
    CHECK(empty.error_text() == "plugin.toml:1:1: no peers\n");

    FakeHost host;
    host.peers = {{"127.0.0.1:9001", 1}, {"127.0.0.1:9002", 3}};
    void *instance = host.create(module, "");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    auto peers = host.peer_array();
    const bool tried[2] = {};
    FakeRequest request("GET", "/");
    auto pick = [&] { return hooks.pick(instance, worker.get(), peers.data(), peers.size(), tried, request.raw()); };
    CHECK(pick() == 0);
    CHECK(pick() == 1);
    CHECK(attempt_done(module, instance, worker.get(), 1, PROXYD_OUTCOME_ABORTED, 0));
    CHECK(pick() == 1); // peer 1 is free again, peer 0 still busy
    CHECK(attempt_done(module, instance, worker.get(), 0, PROXYD_OUTCOME_SUCCESS));
    CHECK(pick() == 0);
}

TEST_CASE("the 1.3 filter helper edits, answers and marks every response head", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_filter.so"));
    REQUIRE(module.descriptor().kind == PROXYD_KIND_FILTER);
    REQUIRE(module.descriptor().filter);
    CHECK(module.descriptor().filter->struct_size == sizeof(proxyd_filter_hooks));
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest plain("GET", "/a?b=1");
    plain.set_request_id("r-1");
    plain.set_scheme("https");
    CHECK(filter_request_head(module, instance, worker, plain) == PROXYD_FILTER_CONTINUE);
    CHECK(plain.header("X-Seen") == "GET /a");
    FakeResponseHead head(200, {{"Content-Type", "text/html"}});
    filter_response_head(module, instance, worker, plain, head);
    CHECK(head.header("X-Probe") == "r-1 https");
    proxyd_exchange_summary summary{};
    summary.struct_size = sizeof summary;
    summary.status = 200;
    filter_log(module, instance, worker, plain, summary);

    FakeRequest refused("POST", "/", {{"X-Refuse", "1"}});
    CHECK(filter_request_head(module, instance, worker, refused) == PROXYD_FILTER_RESPONDED);
    REQUIRE(refused.responded);
    CHECK(refused.responded->status == 418);
    CHECK(refused.responded->body == "no\n");
    CHECK(refused.responded->header("Content-Type") == "text/plain");
    CHECK(plain.misuse.empty());
    CHECK(refused.misuse.empty());
}

TEST_CASE("a filter's Timer resumes the request on the fake clock, or dies with a cancelled one",
          "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_filter.so"));
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest waiting("GET", "/", {{"X-Delay", "250"}});
    REQUIRE(filter_request_head(module, instance, worker, waiting) == PROXYD_FILTER_PENDING);
    CHECK(waiting.pending);
    CHECK(worker.timers_pending() == 1);
    CHECK(worker.advance(249) == 0);
    CHECK(waiting.resumed == -1);
    CHECK(worker.advance(1) == 1);
    CHECK(worker.now_ms() == 250);
    CHECK(waiting.resumed == PROXYD_FILTER_CONTINUE);
    CHECK(waiting.header("X-Waited") == "250"); // edited while pending, before the resume
    CHECK(!waiting.pending);
    CHECK(waiting.misuse.empty());

    auto leaving = std::make_unique<FakeRequest>(
        "GET", "/", std::vector<std::pair<std::string, std::string>>{{"X-Delay", "1000"}});
    REQUIRE(filter_request_head(module, instance, worker, *leaving) == PROXYD_FILTER_PENDING);
    CHECK(worker.timers_pending() == 1);
    CHECK(filter_cancel(module, instance, worker, *leaving));
    leaving.reset(); // its state goes, and with it the Timer, which cancels itself
    CHECK(worker.timers_pending() == 0);
    CHECK(worker.advance(5000) == 0);
}

TEST_CASE("an instance's Logger writes under its declared name, at the level asked", "[sdk_helper]") {
    PluginModule module(probe("sdk_probe_content.so"));
    FakeHost host;
    host.plugin_name = "files_logger";
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/log?first");
    FakeResponse response;
    size_t before = 0;
    {
        std::lock_guard<std::mutex> lock(FakeHost::logs_mutex());
        before = FakeHost::logs().size();
    }
    REQUIRE(handle(module, instance, worker, request, response) == PROXYD_OK);
    CHECK(response.body == "logged");
    std::lock_guard<std::mutex> lock(FakeHost::logs_mutex());
    const auto &logs = FakeHost::logs();
    REQUIRE(logs.size() == before + 2);
    CHECK(logs[before] == "files_logger: asked to log first");
    CHECK(logs[before + 1] == "files_logger: and once more at debug");
    REQUIRE(FakeHost::log_levels().size() == logs.size());
    CHECK(FakeHost::log_levels()[before] == PROXYD_LOG_WARN);
    CHECK(FakeHost::log_levels()[before + 1] == PROXYD_LOG_DEBUG);
}
