// balancing_least_conn.so through the ABI: scope = "process" weighs the process-wide counts the
// core hands through pick_in_flight (ABI 1.4), scope = "worker" (the default) this worker's own.
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace proxyd::test;

namespace {

void three_peers(FakeHost &host) {
    for (int i = 1; i <= 3; ++i)
        host.peers.push_back(FakePeer{"127.0.0.1:900" + std::to_string(i), 1, false});
}

const std::vector<proxyd_peer> kPeers = {{{"127.0.0.1:9001", 14}, 1, false},
                                         {{"127.0.0.1:9002", 14}, 1, false},
                                         {{"127.0.0.1:9003", 14}, 1, false}};

int pick(const PluginModule &module, void *instance, const FakeWorker &worker, FakeRequest &request) {
    bool tried[3] = {};
    return module.descriptor().balancing->pick(instance, worker.get(), kPeers.data(), kPeers.size(), tried,
                                               request.raw());
}

} // namespace

TEST_CASE("least_conn's scope is worker or process", "[least_conn_plugin]") {
    PluginModule module("balancing_least_conn.so");
    FakeHost host;
    three_peers(host);
    CHECK(host.create(module, "scope = \"worker\"") != nullptr);
    CHECK(host.create(module, "scope = \"process\"") != nullptr);
    FakeHost bad;
    three_peers(bad);
    CHECK(bad.create(module, "scope = \"cluster\"") == nullptr);
    REQUIRE(bad.errors().size() == 1);
    CHECK(bad.errors()[0].message == "scope must be \"worker\" or \"process\"");
    CHECK(bad.errors()[0].line == 1);
    CHECK(bad.errors()[0].column == 9);
}

TEST_CASE("least_conn with scope = process follows every worker's requests in flight",
          "[least_conn_plugin]") {
    PluginModule module("balancing_least_conn.so");
    FakeHost host;
    three_peers(host);
    void *instance = host.create(module, "scope = \"process\"");
    REQUIRE(instance != nullptr);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/");
    // Other workers keep peers 0 and 1 busy: this worker, idle itself, sends to peer 2.
    request.in_flight = std::vector<uint32_t>{4, 3, 1};
    CHECK(pick(module, instance, worker, request) == 2);
    CHECK(pick(module, instance, worker, request) == 2);
    request.in_flight = std::vector<uint32_t>{4, 0, 5};
    CHECK(pick(module, instance, worker, request) == 1);
    // Outside a pick (or from a core that cannot tell) it falls back to the worker's counts:
    // 2 on peer 2 and 1 on peer 1 from the picks above, so peer 0.
    request.in_flight.reset();
    CHECK(pick(module, instance, worker, request) == 0);
    for (size_t peer : {2, 2, 1, 0})
        attempt_done(module, instance, worker.get(), peer, PROXYD_OUTCOME_SUCCESS);
}

TEST_CASE("least_conn with the default scope ignores other workers", "[least_conn_plugin]") {
    PluginModule module("balancing_least_conn.so");
    FakeHost host;
    three_peers(host);
    void *instance = host.create(module, "log_attempts = false");
    REQUIRE(instance != nullptr);
    FakeWorker worker(module.descriptor(), instance);
    FakeRequest request("GET", "/");
    request.in_flight = std::vector<uint32_t>{9, 9, 0};
    CHECK(pick(module, instance, worker, request) == 0);
    attempt_done(module, instance, worker.get(), 0, PROXYD_OUTCOME_SUCCESS);
}
