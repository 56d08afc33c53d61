// The metrics store: slots summed by name, counters monotonic across a config generation change,
// gauges of ended workers left out, and the exposition's escaping.
#include "admin/admin_pages.hpp"
#include "admin/metrics.hpp"

#include <catch2/catch.hpp>
#include <uv.h>

using namespace proxyd;

namespace {

// A config with only the names the store copies: no plugins, no sockets.
std::unique_ptr<Config> named_config(std::vector<std::string> listeners, std::vector<std::string> peers) {
    auto config = std::make_unique<Config>();
    config->path = "/etc/proxyd/test.toml";
    for (auto &name : listeners) {
        ListenerConfig &l = config->listeners.emplace_back();
        l.name = name;
        l.listen_text = "127.0.0.1:1";
    }
    UpstreamConfig app;
    app.name = "app";
    for (auto &address : peers)
        app.peers.push_back(PeerConfig{address, {}, 1});
    config->upstreams.push_back(std::move(app));
    config->handlers.push_back(HandlerConfig{"site", nullptr});
    return config;
}

const Target kApp{Target::Kind::Upstream, 0};
const Target kSite{Target::Kind::Handler, 0};

} // namespace

TEST_CASE("metrics: slots are summed by name and histogram buckets are cumulative") {
    MetricsStore store;
    auto config = named_config({"web"}, {"127.0.0.1:1", "127.0.0.1:2"});
    store.begin_generation(*config, 1);
    WorkerMetrics &w1 = store.add_worker(*config);
    WorkerMetrics &w2 = store.add_worker(*config);

    w1.listener(0).connection_opened();
    w1.listener(0).connection_opened();
    w1.listener(0).connection_closed();
    w2.listener(0).connection_opened();
    w1.listener(0).request_finished(w1.target_slot(kApp), 200, 1'000'000);             // 1 ms
    w2.listener(0).request_finished(w2.target_slot(kSite), 404, 20'000'000);           // 20 ms
    w2.listener(0).request_finished(w2.target_slot(Target{}), 400, 30'000'000'000ull); // 30 s
    w1.upstream(0).peers[0].outcome(PROXYD_OUTCOME_CONNECT_FAILED);
    w1.upstream(0).peers[0].down_until_ns.set(uv_hrtime() + 60'000'000'000ull);
    w2.upstream(0).peers[1].outcome(PROXYD_OUTCOME_SUCCESS);
    w2.upstream(0).peers[1].open.add(2);
    w2.upstream(0).peers[1].idle.set(1);

    MetricsSnapshot s = store.snapshot();
    REQUIRE(s.listeners.size() == 1);
    const auto &web = s.listeners[0];
    CHECK(web.accepted == 3);
    CHECK(web.open == 2);
    REQUIRE(web.requests.size() == 3);
    CHECK(web.requests[0].first == "app");
    CHECK(web.requests[0].second[1] == 1);
    CHECK(web.requests[1].first == "site");
    CHECK(web.requests[1].second[3] == 1);
    CHECK(web.requests[2].first == "-");
    CHECK(web.duration_count == 3);
    CHECK(web.buckets[0] == 1);     // le 0.005
    CHECK(web.buckets[2] == 2);     // le 0.025
    CHECK(web.buckets[10] == 2);    // le 10
    CHECK(web.buckets.back() == 3); // +Inf
    const auto &peers = s.upstreams.at(0).peers;
    CHECK(peers[0].down);
    CHECK(peers[0].down_in_workers == 1);
    CHECK(peers[0].connect_failures == 1);
    CHECK_FALSE(peers[1].down);
    CHECK(peers[1].requests == 1);
    CHECK(peers[1].active == 1);
    CHECK(peers[1].idle == 1);
    CHECK(s.live_workers == 2);
}

TEST_CASE("metrics: counters stay across a new config generation, gauges of ended workers go") {
    MetricsStore store;
    auto first = named_config({"web", "gone"}, {"127.0.0.1:1", "127.0.0.1:2"});
    store.begin_generation(*first, 1);
    WorkerMetrics &old = store.add_worker(*first);
    old.listener(0).connection_opened();
    old.listener(0).request_finished(old.target_slot(kApp), 200, 1000);
    old.upstream(0).peers[0].outcome(PROXYD_OUTCOME_TIMEOUT);
    old.upstream(0).peers[0].down_until_ns.set(uv_hrtime() + 60'000'000'000ull);
    old.upstream(0).peers[0].open.add();

    // The next generation drops peer 1 and a listener, adds peer 3 and a listener; the old
    // worker ends.
    auto second = named_config({"web", "extra"}, {"127.0.0.1:2", "127.0.0.1:3"});
    store.begin_generation(*second, 2);
    old.retire();
    WorkerMetrics &now = store.add_worker(*second);
    now.listener(0).request_finished(now.target_slot(kApp), 204, 1000);
    now.upstream(0).peers[0].outcome(PROXYD_OUTCOME_SUCCESS); // 127.0.0.1:2 again

    MetricsSnapshot s = store.snapshot();
    CHECK(s.generation == 2);
    CHECK(s.reloads == 1);
    CHECK(s.live_workers == 1);
    REQUIRE(s.listeners.size() == 3); // the live config's, then the one only the old had
    CHECK(s.listeners[0].name == "web");
    CHECK(s.listeners[2].name == "gone");
    CHECK(s.listeners[0].requests.at(0).second[1] == 2); // both generations' 2xx
    CHECK(s.listeners[0].accepted == 1);
    CHECK(s.listeners[0].open == 0); // the ended worker's connection gauge no longer counts
    const auto &peers = s.upstreams.at(0).peers;
    REQUIRE(peers.size() == 3); // the live config's peers in its order, then the old one
    CHECK(peers[0].address == "127.0.0.1:2");
    CHECK(peers[0].requests == 1);
    CHECK(peers[1].address == "127.0.0.1:3");
    CHECK(peers[2].address == "127.0.0.1:1");
    CHECK(peers[2].timeouts == 1); // kept
    CHECK_FALSE(peers[2].down);    // its health state belonged to the ended worker
    CHECK(peers[2].active == 0);
    CHECK(status_json(s).find("\"in_config\":false") != std::string::npos);

    // Folding the ended worker's slot into the retired totals frees it and changes no figure.
    CHECK(store.slots() == 2);
    store.fold_retired();
    CHECK(store.slots() == 1);
    MetricsSnapshot folded = store.snapshot();
    CHECK(prometheus_text(folded) == prometheus_text(s)); // every series, in the same order
    REQUIRE(folded.listeners.size() == 3);
    CHECK(folded.listeners[0].requests.at(0).second[1] == 2);
    CHECK(folded.listeners[0].accepted == 1);
    CHECK(folded.listeners[2].name == "gone");
    CHECK(folded.listeners[0].buckets.back() == 2);
    CHECK(folded.listeners[0].duration_count == 2);
    REQUIRE(folded.upstreams.at(0).peers.size() == 3);
    CHECK(folded.upstreams.at(0).peers[2].timeouts == 1);
    CHECK(folded.upstreams.at(0).peers[0].requests == 1);
    CHECK(folded.live_workers == 1);
}

TEST_CASE("metrics: label values are escaped in the exposition, HTML and JSON") {
    MetricsStore store;
    auto config = named_config({"a\"b\\c\nd"}, {"127.0.0.1:1"});
    store.begin_generation(*config, 1);
    store.add_worker(*config);
    MetricsSnapshot s = store.snapshot();
    CHECK(prometheus_text(s).find("listener=\"a\\\"b\\\\c\\nd\"") != std::string::npos);
    CHECK(status_page(s).find("a&quot;b\\c\nd") != std::string::npos);
    CHECK(status_json(s).find("\"a\\\"b\\\\c\\u000ad\"") != std::string::npos);
}
