// The metrics store: slots summed by name, counters monotonic across a config generation change,
// gauges of ended workers left out, and the exposition's escaping; the metric table's rows, and
// that the three pages written from it show every one.
#include "admin/admin_pages.hpp"
#include "admin/metric_table.hpp"
#include "admin/metrics.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <uv.h>

using namespace proxyd;

namespace {

// An attempt on a peer as the pool counts it: started (at its pick), then its outcome.
void attempt(PeerMetrics &peer, proxyd_outcome outcome) {
    peer.requests.add();
    peer.outcome(outcome);
}

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
        app.peers.emplace_back().address_text = address;
    config->upstreams.push_back(std::move(app));
    config->handlers.push_back(HandlerConfig{"site", nullptr, {}});
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
    attempt(w1.upstream(0).peers[0], PROXYD_OUTCOME_CONNECT_FAILED);
    w1.upstream(0).peers[0].down_until_ns.set(uv_hrtime() + 60'000'000'000ull);
    attempt(w2.upstream(0).peers[1], PROXYD_OUTCOME_SUCCESS);
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
    attempt(old.upstream(0).peers[0], PROXYD_OUTCOME_TIMEOUT);
    old.upstream(0).peers[0].down_until_ns.set(uv_hrtime() + 60'000'000'000ull);
    old.upstream(0).peers[0].open.add();

    // The next generation drops peer 1 and a listener, adds peer 3 and a listener; the old
    // worker ends.
    auto second = named_config({"web", "extra"}, {"127.0.0.1:2", "127.0.0.1:3"});
    store.begin_generation(*second, 2);
    old.retire();
    WorkerMetrics &now = store.add_worker(*second);
    now.listener(0).request_finished(now.target_slot(kApp), 204, 1000);
    attempt(now.upstream(0).peers[0], PROXYD_OUTCOME_SUCCESS); // 127.0.0.1:2 again

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

namespace {

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

// Every family of one entity: named once, typed as Prometheus expects, its series telling themselves apart.
template <class Slot, class Total>
void check_families(std::span<const MetricFamily<Slot, Total>> families, std::set<std::string> &names) {
    for (const auto &f : families) {
        INFO(f.name);
        CHECK(names.insert(f.name).second);
        CHECK(std::string(f.name).starts_with("proxyd_"));
        CHECK(std::string(f.name).ends_with("_total") == (f.type == MetricType::counter));
        REQUIRE_FALSE(f.series.empty());
        CHECK((f.series.size() > 1) ==
              ((f.layout == MetricLayout::series || f.layout == MetricLayout::enumerated) &&
               f.series_label != nullptr));
        for (const auto &s : f.series) {
            CHECK((s.label_value != nullptr) == (f.series.size() > 1));
            CHECK((s.total != nullptr) ==
                  (f.layout == MetricLayout::series || f.layout == MetricLayout::health ||
                   f.layout == MetricLayout::enumerated));
            CHECK(s.json_key != nullptr);
        }
    }
}

// Every family's HELP and TYPE and at least one sample in /metrics, and every series under its JSON key
// and, where it has one, its HTML column.
template <class Slot, class Total>
void check_rendered(std::span<const MetricFamily<Slot, Total>> families, const std::string &metrics,
                    const std::string &json, const std::string &page) {
    for (const auto &f : families) {
        INFO(f.name);
        std::string name = f.name;
        CHECK(contains(metrics, "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " +
                                    metric_type_name(f.type) + "\n" + name));
        for (const auto &s : f.series) {
            INFO(s.json_key);
            if (s.json_object) CHECK(contains(json, "\"" + std::string(s.json_object) + "\":{"));
            CHECK(contains(json, "\"" + std::string(s.json_key) + "\":"));
            if (s.html_column)
                CHECK((contains(page, "<th>" + std::string(s.html_column) + "</th>") ||
                       contains(page, std::string(s.html_column) + ": ")));
        }
    }
}

} // namespace

TEST_CASE("metric table: names are unique and typed, series tell themselves apart") {
    std::set<std::string> names;
    for (const auto &m : process_metrics())
        CHECK(names.insert(m.name).second);
    check_families(listener_families(), names);
    check_families(peer_families(), names);
    check_families(upstream_families(), names);
}

TEST_CASE("metric table: every family and series appears in /metrics, /status.json and /status") {
    MetricsStore store;
    auto config = named_config({"web"}, {"127.0.0.1:1", "127.0.0.1:2"});
    store.begin_generation(*config, 1);
    WorkerMetrics &w = store.add_worker(*config);
    w.listener(0).connection_opened();
    w.listener(0).bytes_received.add(10);
    w.listener(0).bytes_sent.add(1234);
    w.listener(0).request_finished(w.target_slot(kApp), 200, 1'000'000);
    attempt(w.upstream(0).peers[0], PROXYD_OUTCOME_CONNECT_FAILED);
    w.upstream(0).peers[0].down_until_ns.set(uv_hrtime() + 60'000'000'000ull);
    w.upstream(0).gateway_error(502);
    MetricsSnapshot s = store.snapshot();
    std::string metrics = prometheus_text(s), json = status_json(s), page = status_page(s);

    for (const auto &m : process_metrics())
        CHECK(contains(metrics, "# HELP " + std::string(m.name) + " " + m.help + "\n"));
    check_rendered(listener_families(), metrics, json, page);
    check_rendered(peer_families(), metrics, json, page);
    check_rendered(upstream_families(), metrics, json, page);

    CHECK(contains(metrics, "\nproxyd_client_sent_bytes_total{listener=\"web\"} 1234\n"));
    CHECK(contains(metrics, "\nproxyd_requests_total{listener=\"web\",target=\"app\",code=\"2xx\"} 1\n"));
    CHECK(contains(metrics, "\nproxyd_request_duration_seconds_bucket{listener=\"web\",le=\"0.005\"} 1\n"));
    CHECK(contains(metrics, "\nproxyd_upstream_peer_up{upstream=\"app\",peer=\"127.0.0.1:1\"} 0\n"));
    CHECK(contains(metrics, "\nproxyd_upstream_peer_up{upstream=\"app\",peer=\"127.0.0.1:2\"} 1\n"));
    CHECK(contains(metrics, "\nproxyd_upstream_peer_failures_total{upstream=\"app\",peer=\"127.0.0.1:1\","
                            "reason=\"connect\"} 1\n"));
    CHECK(contains(metrics, "\nproxyd_upstream_gateway_errors_total{upstream=\"app\",code=\"502\"} 1\n"));
    CHECK(contains(json,
                   "\"connections\":{\"accepted\":1,\"open\":1},\"bytes\":{\"received\":10,\"sent\":1234}"));
    CHECK(contains(json,
                   "\"state\":\"DOWN\",\"down_in_workers\":1,\"active_connections\":0,\"idle_connections\":0,"
                   "\"requests\":1,\"failures\":{\"connect\":1,\"timeout\":0,\"invalid_response\":0}"));
    CHECK(contains(json, "\"answered\":{\"502\":1,\"504\":0}"));
    CHECK(contains(page,
                   "<tr class=\"peer\" data-peer=\"127.0.0.1:1\" data-state=\"DOWN\"><td>127.0.0.1:1</td>"
                   "<td class=\"state down\">DOWN</td><td class=\"n\">0</td><td class=\"n\">0</td>"
                   "<td class=\"n\">1</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">0</td>"
                   "<td>unchecked</td><td>none</td><td class=\"n\">0</td><td>ready</td><td class=\"n\">0</td>"
                   "<td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td></tr>"));
    CHECK(contains(page, "answered 502: 1, answered 504: 0, queued: 0, queue full: 0, queue timeouts: 0, "
                         "retries: 0, budget exhausted: 0</caption>"));
}
