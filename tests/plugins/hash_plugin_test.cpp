// balancing_hash.so through the ABI: its settings and their errors, and picks keyed on a header, a
// cookie and the client address, with the fallback when the key is absent.
#include "fake_host.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

using namespace proxyd::test;

namespace {

void five_peers(FakeHost &host) {
    for (int i = 1; i <= 5; ++i)
        host.peers.push_back(FakePeer{"127.0.0.1:900" + std::to_string(i), 1, false});
}

int pick(const PluginModule &module, void *instance, const FakeWorker &worker,
         const std::vector<proxyd_peer> &peers, const proxyd_request *request) {
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    bool tried[5] = {};
    int chosen = hooks.pick(instance, worker.get(), peers.data(), peers.size(), tried, request);
    if (chosen >= 0)
        attempt_done(module, instance, worker.get(), static_cast<size_t>(chosen), PROXYD_OUTCOME_SUCCESS);
    return chosen;
}

int pick_with(const PluginModule &module, void *instance, const FakeWorker &worker,
              const std::vector<proxyd_peer> &peers,
              std::vector<std::pair<std::string, std::string>> headers) {
    FakeRequest request("GET", "/", std::move(headers));
    return pick(module, instance, worker, peers, request.raw());
}

} // namespace

TEST_CASE("hash checks its settings and names the key at fault", "[hash_plugin]") {
    PluginModule module("balancing_hash.so");
    FakeHost ok;
    five_peers(ok);
    CHECK(ok.create(module, "plugin = \"hash\"") != nullptr);
    CHECK(ok.create(module, "key = \"cookie:session\"\nfallback = \"client_address\"\nbounded_load = 1.25") !=
          nullptr);
    CHECK(ok.create(module, "key = \"uri\"\nbounded_load = 2") != nullptr);

    struct Case {
        const char *toml;
        const char *message;
        int64_t column;
    };
    for (const Case &c : {
             Case{"key = \"cookie:\"", "key 'cookie:': '' is not a valid cookie name", 7},
             Case{"key = \"ip\"",
                  "key must be \"client_address\", \"header:NAME\", \"cookie:NAME\", \"path\" or \"uri\", "
                  "not 'ip'",
                  7},
             Case{"key = 3", "'key' must be a string", 7},
             Case{"fallback = \"random\"",
                  "fallback must be \"round_robin\" or \"client_address\", not 'random'", 12},
             Case{"bounded_load = 0.5", "bounded_load must be a number from 1.0 to 1000 (1.25 is usual)", 16},
             Case{"vnodes = 100", "unknown key 'vnodes'", 1},
         }) {
        FakeHost bad;
        five_peers(bad);
        INFO(c.toml);
        CHECK(bad.create(module, c.toml) == nullptr);
        REQUIRE(bad.errors().size() == 1);
        CHECK(bad.errors()[0].message == c.message);
        CHECK(bad.errors()[0].line == 1);
        CHECK(bad.errors()[0].column == c.column);
    }
}

TEST_CASE("the same header value goes to the same peer, different values spread", "[hash_plugin]") {
    PluginModule module("balancing_hash.so");
    FakeHost host;
    five_peers(host);
    void *instance = host.create(module, "key = \"header:X-User\"");
    REQUIRE(instance);
    auto peers = host.peer_array();
    FakeWorker first(module.descriptor(), instance, 0, 2), second(module.descriptor(), instance, 1, 2);

    int alice = pick_with(module, instance, first, peers, {{"X-User", "alice"}});
    for (int i = 0; i < 20; ++i) {
        REQUIRE(pick_with(module, instance, first, peers, {{"X-User", "alice"}}) == alice);
        REQUIRE(pick_with(module, instance, second, peers, {{"x-user", "alice"}}) ==
                alice); // every worker agrees
    }
    std::set<int> used;
    for (int i = 0; i < 100; ++i)
        used.insert(pick_with(module, instance, first, peers, {{"X-User", "user" + std::to_string(i)}}));
    CHECK(used.size() == 5);

    SECTION("an absent or empty key falls back to round robin by default") {
        std::set<int> without;
        for (int i = 0; i < 10; ++i) {
            without.insert(pick_with(module, instance, first, peers, {}));
            without.insert(pick_with(module, instance, first, peers, {{"X-User", ""}}));
        }
        CHECK(without.size() > 1);
    }
}

TEST_CASE("fallback = client_address hashes the client's address when the key is absent", "[hash_plugin]") {
    PluginModule module("balancing_hash.so");
    FakeHost host;
    five_peers(host);
    void *instance = host.create(module, "key = \"cookie:sid\"\nfallback = \"client_address\"");
    REQUIRE(instance);
    auto peers = host.peer_array();
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest request("GET", "/", {{"Cookie", "theme=dark"}});
    std::set<int> by_client;
    for (int c = 1; c <= 50; ++c) {
        std::string address = "192.0.2." + std::to_string(c);
        proxyd_request raw = *request.raw();
        raw.client_address = proxyd_str{address.data(), address.size()};
        int first = pick(module, instance, worker, peers, &raw);
        REQUIRE(pick(module, instance, worker, peers, &raw) == first);
        by_client.insert(first);
    }
    CHECK(by_client.size() > 1);

    SECTION("the cookie, when sent, decides, in whichever Cookie header it comes") {
        int sticky = pick_with(module, instance, worker, peers, {{"Cookie", "theme=dark; sid=s-42"}});
        CHECK(pick_with(module, instance, worker, peers, {{"Cookie", "sid=s-42"}}) == sticky);
        CHECK(pick_with(module, instance, worker, peers,
                        {{"Cookie", "theme=dark"}, {"cookie", "sid=s-42"}}) == sticky);
    }
}

TEST_CASE("a peer list the instance was not built for gets a ring of the worker's own", "[hash_plugin]") {
    PluginModule module("balancing_hash.so");
    FakeHost host; // a core that tells no peers at load (ABI 1.0)
    void *instance = host.create(module, "key = \"path\"");
    REQUIRE(instance);
    FakeHost told;
    five_peers(told);
    auto peers = told.peer_array();
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/a/b?x=1");
    int chosen = pick(module, instance, worker, peers, request.raw());
    CHECK(chosen >= 0);
    CHECK(pick(module, instance, worker, peers, request.raw()) == chosen);
}

TEST_CASE("bounded_load counts picks until attempt_done ends them", "[hash_plugin]") {
    PluginModule module("balancing_hash.so");
    REQUIRE(module.descriptor().balancing->attempt_done != nullptr);
    FakeHost host;
    five_peers(host);
    void *instance = host.create(module, "key = \"header:X-User\"\nbounded_load = 1.25");
    REQUIRE(instance);
    auto peers = host.peer_array();
    FakeWorker worker(module.descriptor(), instance);
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    FakeRequest request("GET", "/", {{"X-User", "hot"}});
    bool tried[5] = {};

    std::vector<int> picked;
    for (int i = 0; i < 10; ++i) // ten in flight at once: ceil(1.25 * 10 / 5) = 3 at most on one peer
        picked.push_back(
            hooks.pick(instance, worker.get(), peers.data(), peers.size(), tried, request.raw()));
    for (int p : picked)
        CHECK(std::count(picked.begin(), picked.end(), p) <= 3);
    CHECK(std::set<int>(picked.begin(), picked.end()).size() >= 4);
    for (int p : picked)
        attempt_done(module, instance, worker.get(), static_cast<size_t>(p), PROXYD_OUTCOME_SUCCESS);
    for (int i = 0; i < 3; ++i) // all ended: the key is on its owner again
        CHECK(pick_with(module, instance, worker, peers, {{"X-User", "hot"}}) == picked[0]);
}
