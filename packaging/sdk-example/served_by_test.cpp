// Unit test of the served_by filter against the SDK's test host (<proxyd/testing/fake_host.hpp>):
// the built served_by.so driven through its C ABI, without proxyd. No test framework: each CHECK
// prints what failed, and the exit status is the number of failures.
#include <cstdio>
#include <proxyd/testing/fake_host.hpp>
#include <string>

namespace {

int failures = 0;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                    \
            ++failures;                                                                                      \
        }                                                                                                    \
    } while (0)

using namespace proxyd::testing;

} // namespace

int main() {
    PluginModule module(SERVED_BY_SO);
    CHECK(module.descriptor().kind == PROXYD_KIND_FILTER);

    FakeHost bad;
    CHECK(bad.create(module, "deny_methods = [\"DELETE\"]") == nullptr);
    CHECK(bad.error_text() == "plugin.toml:1:1: 'name' is required\n");

    FakeHost host;
    void *instance = host.create(module, "name = \"web-1\"\ndeny_methods = [\"DELETE\"]");
    CHECK(instance != nullptr);
    if (!instance) return failures;
    FakeWorker worker(module.descriptor(), instance);

    // A GET continues, and its response (here a backend's 404) gets the stamp.
    FakeRequest get("GET", "/");
    CHECK(filter_request_head(module, instance, worker, get) == PROXYD_FILTER_CONTINUE);
    FakeResponseHead head(404, {{"Content-Type", "text/html"}});
    filter_response_head(module, instance, worker, get, head);
    CHECK(head.header("X-Served-By") == "web-1");
    CHECK(head.status == 404);

    // A DELETE is answered by the filter itself.
    FakeRequest del("DELETE", "/thing");
    CHECK(filter_request_head(module, instance, worker, del) == PROXYD_FILTER_RESPONDED);
    CHECK(del.responded && del.responded->status == 405);
    CHECK(get.misuse.empty() && del.misuse.empty());

    if (failures == 0) std::printf("PASS: served_by\n");
    return failures;
}
