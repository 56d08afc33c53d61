// Unit test of the echo_json plugin against the SDK's test host (<proxyd/testing/fake_host.hpp>):
// the built echo_json.so is loaded with dlopen and driven through its C ABI, as proxyd would, but
// without proxyd. No test framework: each CHECK prints what failed, and the exit status is the
// number of failures. Run it with `ctest --test-dir build` (or build/echo_json_test).
#include <proxyd/testing/fake_host.hpp>

#include <cstdio>
#include <string>

namespace {

int failures = 0;

#define CHECK(cond)                                                                                        \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                  \
            ++failures;                                                                                    \
        }                                                                                                  \
    } while (0)

using namespace proxyd::testing;

// Each mistake in the handler's table is reported where proxyd -t would point: file:line:col.
void config_errors(const PluginModule &module) {
    FakeHost host;
    CHECK(host.create(module, "service = 42\nstatus = 99\ncolour = \"red\"") == nullptr);
    const std::string text = host.error_text();
    std::fprintf(stderr, "expected config errors:\n%s", text.c_str());
    CHECK(text.find("plugin.toml:1:11: 'service' must be a string\n") != std::string::npos);
    CHECK(text.find("plugin.toml:2:10: 'status' must be within 200..599\n") != std::string::npos);
    CHECK(text.find("plugin.toml:3:1: unknown key 'colour'\n") != std::string::npos); // at the key

    FakeHost missing;
    CHECK(missing.create(module, "status = 200") == nullptr);
    CHECK(missing.error_text() == "plugin.toml:1:1: 'service' is required\n");
}

// The answer describes the request, and each worker counts its own requests.
void answers(const PluginModule &module) {
    FakeHost host;
    void *instance = host.create(module, "service = \"unit\"\nstatus = 203");
    CHECK(instance != nullptr);
    if (!instance) return;
    FakeWorker worker(module.descriptor(), instance);
    for (int i = 1; i <= 2; ++i) {
        FakeRequest request("GET", "/hi?x=1", {{"Host", "example.test"}, {"X-Test", "a \"quoted\" value"}});
        FakeResponse response;
        CHECK(handle(module, instance, worker, request, response) == PROXYD_OK);
        CHECK(response.finished);
        CHECK(response.misuse.empty());
        CHECK(response.status == 203);
        CHECK(response.header("content-type") == "application/json");
        const std::string &body = response.body;
        CHECK(body.find("\"service\":\"unit\"") != std::string::npos);
        CHECK(body.find("\"path\":\"/hi\",\"query\":\"x=1\",\"host\":\"example.test\"") != std::string::npos);
        CHECK(body.find("[\"X-Test\",\"a \\\"quoted\\\" value\"]") != std::string::npos);
        CHECK(body.find("\"worker_requests\":" + std::to_string(i)) != std::string::npos);
        if (i == 2) std::printf("answer: %s", body.c_str());
    }
}

} // namespace

int main() {
    try {
        PluginModule module(ECHO_JSON_SO);
        CHECK(module.descriptor().kind == PROXYD_KIND_CONTENT);
        config_errors(module);
        answers(module);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    std::printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures;
}
