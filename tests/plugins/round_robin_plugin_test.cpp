// balancing_round_robin.so through the ABI: config and per-worker picks.
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace proxyd::test;

namespace {

std::vector<proxyd_peer> five_peers() {
    static const char *kAddresses[] = {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003", "127.0.0.1:9004",
                                       "127.0.0.1:9005"};
    std::vector<proxyd_peer> peers;
    for (const char *a : kAddresses)
        peers.push_back(proxyd_peer{{a, 14}, 1, false});
    return peers;
}

} // namespace

TEST_CASE("round_robin takes no keys", "[round_robin_plugin]") {
    PluginModule module("balancing_round_robin.so");
    FakeHost ok;
    CHECK(ok.create(module, "plugin = \"round_robin\"") != nullptr);
    CHECK(ok.create(module, "") != nullptr);

    FakeHost bad;
    CHECK(bad.create(module, "weights = [1, 2]") == nullptr);
    REQUIRE(bad.errors().size() == 1);
    CHECK(bad.errors()[0].message == "unknown key 'weights'");
    CHECK(bad.errors()[0].line == 1);
}

TEST_CASE("each worker rotates over the peers on its own", "[round_robin_plugin]") {
    PluginModule module("balancing_round_robin.so");
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    auto peers = five_peers();
    const bool tried[5] = {};
    FakeRequest request("GET", "/");

    FakeWorker first(module.descriptor(), instance);
    FakeWorker second(module.descriptor(), instance);
    std::string seen_first, seen_second;
    for (int i = 0; i < 5; ++i)
        seen_first += std::to_string(
            hooks.pick(instance, first.get(), peers.data(), peers.size(), tried, request.raw()));
    for (int i = 0; i < 3; ++i)
        seen_second += std::to_string(
            hooks.pick(instance, second.get(), peers.data(), peers.size(), tried, request.raw()));
    CHECK(seen_first == "01234");
    CHECK(seen_second == "012");
}

TEST_CASE("the hook skips down and tried peers and returns -1 when none is left", "[round_robin_plugin]") {
    PluginModule module("balancing_round_robin.so");
    FakeHost host;
    void *instance = host.create(module, "");
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    auto peers = five_peers();
    FakeRequest request("GET", "/");

    peers[0].down = true;
    peers[1].down = true;
    const bool tried[5] = {false, false, true, false, false};
    CHECK(hooks.pick(instance, worker.get(), peers.data(), peers.size(), tried, request.raw()) == 3);
    CHECK(hooks.pick(instance, worker.get(), peers.data(), peers.size(), tried, request.raw()) == 4);
    const bool all[5] = {true, true, true, true, true};
    CHECK(hooks.pick(instance, worker.get(), peers.data(), peers.size(), all, request.raw()) == -1);
}
