// The arithmetic of an upstream group's shared limits: connection slots and queue places, the
// retry budget's window, outlier ejection's lengths and cap.
#include "upstream/connection_limits.hpp"
#include "upstream/outlier_detector.hpp"
#include "upstream/retry_budget.hpp"
#include "upstream/upstream_shared.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;
using namespace std::chrono_literals;

TEST_CASE("connection slots stop at max_connections and the queue at queue_size", "[upstream]") {
    ConnectionLimits limits(2, 1, 3);
    uint32_t lease = 99;
    CHECK(limits.acquire(0, lease));
    CHECK(lease == 0);
    CHECK(limits.acquire(0, lease));
    CHECK(limits.at_limit(0));
    CHECK_FALSE(limits.acquire(0, lease));
    CHECK(limits.acquire(1, lease));
    CHECK(limits.in_use(0) == 2);
    limits.release(0, 0);
    CHECK_FALSE(limits.at_limit(0));
    CHECK(limits.acquire(0, lease));

    CHECK(limits.enter_queue());
    CHECK_FALSE(limits.enter_queue());
    CHECK(limits.queued() == 1);
    limits.leave_queue();
    CHECK(limits.queued() == 0);

    ConnectionLimits unlimited(0, 0, 1);
    for (int i = 0; i < 100; ++i)
        CHECK(unlimited.acquire(0, lease));
    CHECK(unlimited.in_use(0) == 100); // counted all the same: what pick_in_flight reads
    CHECK_FALSE(unlimited.at_limit(0));
    CHECK_FALSE(unlimited.enter_queue()); // no queue without queue_size
    CHECK(unlimited.queued() == 0);
}

TEST_CASE("the retry budget allows a share of the window's requests plus a floor", "[upstream]") {
    RetryBudgetConfig config{.ratio = 0.2, .min_per_second = 1};
    CHECK(RetryBudget::allowance(config, 100) == Approx(30)); // 20 + 1 × 10 s

    RetryBudget budget(config);
    uint64_t now = 5'000'000;
    for (int i = 0; i < 100; ++i)
        budget.count_request(now);
    int allowed = 0;
    while (budget.try_retry(now) && allowed < 1000)
        ++allowed;
    CHECK(allowed == 30);

    // Within the window nothing comes back; once it has passed, the floor alone again.
    CHECK_FALSE(budget.try_retry(now + 9'000));
    int later = 0;
    while (budget.try_retry(now + 10'000) && later < 1000)
        ++later;
    CHECK(later == 10);

    RetryBudget none(RetryBudgetConfig{});
    for (int i = 0; i < 1000; ++i)
        CHECK(none.try_retry(now));
}

TEST_CASE("the retry budget without a floor is the ratio alone", "[upstream]") {
    RetryBudget budget(RetryBudgetConfig{.ratio = 0.1, .min_per_second = 0});
    uint64_t now = 1'000;
    CHECK_FALSE(budget.try_retry(now)); // no requests yet: no retries
    for (int i = 0; i < 50; ++i)
        budget.count_request(now + uint64_t(i) * 100); // over 5 s
    int allowed = 0;
    while (budget.try_retry(now + 5'000) && allowed < 100)
        ++allowed;
    CHECK(allowed == 5);
}

TEST_CASE("ejection lengths grow with each ejection up to max_ejection", "[upstream]") {
    OutlierConfig config;
    config.base_ejection = 10s;
    config.max_ejection = 35s;
    CHECK(OutlierDetector::ejection_ms(config, 1) == 10'000);
    CHECK(OutlierDetector::ejection_ms(config, 2) == 20'000);
    CHECK(OutlierDetector::ejection_ms(config, 3) == 30'000);
    CHECK(OutlierDetector::ejection_ms(config, 4) == 35'000);
}

TEST_CASE("at most max_ejection_percent of a group is ejected, at least one, never all", "[upstream]") {
    OutlierConfig config;
    config.max_ejection_percent = 50;
    CHECK(OutlierDetector::max_ejected(config, 1) == 0);
    CHECK(OutlierDetector::max_ejected(config, 2) == 1);
    CHECK(OutlierDetector::max_ejected(config, 5) == 2);
    config.max_ejection_percent = 10;
    CHECK(OutlierDetector::max_ejected(config, 5) == 1);
    config.max_ejection_percent = 100;
    CHECK(OutlierDetector::max_ejected(config, 5) == 4);
    config.max_ejection_percent = 0;
    CHECK(OutlierDetector::max_ejected(config, 5) == 0);
}

TEST_CASE("consecutive failures eject a peer, a response resets the count", "[upstream]") {
    OutlierConfig config;
    config.enabled = true;
    config.consecutive_5xx = 3;
    config.consecutive_connect_failures = 2;
    config.consecutive_timeouts = 0; // off
    config.base_ejection = 1s;
    config.max_ejection = 10s;
    config.max_ejection_percent = 50;
    OutlierDetector outliers(config, 4);
    using Event = OutlierDetector::Event;
    using Reason = OutlierDetector::Reason;
    uint64_t now = 100'000, length = 0;

    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::kNone);
    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::kNone);
    CHECK(outliers.report(0, Event::kResponse, now, length) == Reason::kNone); // resets
    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::kNone);
    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::kNone);
    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::k5xx);
    CHECK(length == 1'000);
    CHECK(outliers.ejected(0, now));
    CHECK_FALSE(outliers.ejected(0, now + 1'000));

    for (int i = 0; i < 10; ++i)
        CHECK(outliers.report(1, Event::kTimeout, now, length) == Reason::kNone);

    // Two of four may be out: the second goes, the third stays in.
    CHECK(outliers.report(1, Event::kConnectFailure, now, length) == Reason::kNone);
    CHECK(outliers.report(1, Event::kConnectFailure, now, length) == Reason::kConnectFailures);
    CHECK(outliers.report(2, Event::kConnectFailure, now, length) == Reason::kNone);
    CHECK(outliers.report(2, Event::kConnectFailure, now, length) == Reason::kNone);
    CHECK_FALSE(outliers.ejected(2, now));

    // Peer 0 back, and out again soon after: twice as long.
    now += 1'500;
    for (int i = 0; i < 2; ++i)
        outliers.report(0, Event::k5xx, now, length);
    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::k5xx);
    CHECK(length == 2'000);
    // After max_ejection in service since its last ejection ended, the count starts again.
    now += 2'000 + 10'000;
    for (int i = 0; i < 2; ++i)
        outliers.report(0, Event::k5xx, now, length);
    CHECK(outliers.report(0, Event::k5xx, now, length) == Reason::k5xx);
    CHECK(length == 1'000);
}

TEST_CASE("a disabled detector ejects nothing", "[upstream]") {
    OutlierDetector outliers(OutlierConfig{}, 3);
    uint64_t length = 0;
    for (int i = 0; i < 100; ++i)
        CHECK(outliers.report(0, OutlierDetector::Event::k5xx, 1'000, length) ==
              OutlierDetector::Reason::kNone);
    CHECK_FALSE(outliers.ejected(0, 1'000));
}

TEST_CASE("a renewed slot counts from zero, attempts on its old peer give back nothing", "[upstream]") {
    ConnectionLimits limits(2, 0, 2);
    uint32_t old_lease = 0, new_lease = 0;
    REQUIRE(limits.acquire(0, old_lease));
    REQUIRE(limits.acquire(0, old_lease));
    CHECK(limits.at_limit(0));
    limits.renew(0); // another peer in slot 0: its two requests in flight are not the new one's
    CHECK(limits.in_use(0) == 0);
    CHECK(limits.lease(0) == old_lease + 1);
    REQUIRE(limits.acquire(0, new_lease));
    CHECK(new_lease == old_lease + 1);
    limits.release(0, old_lease); // the old peer's requests end
    limits.release(0, old_lease);
    CHECK(limits.in_use(0) == 1);
    limits.release(0, new_lease);
    CHECK(limits.in_use(0) == 0);
    limits.release(0, new_lease); // never below zero
    CHECK(limits.in_use(0) == 0);
}

namespace {

std::shared_ptr<const PeerConfig> discovered(const std::string &address) {
    PeerConfig p;
    std::string error;
    REQUIRE(parse_net_address(address, p.address, error));
    p.address_text = address;
    p.discovered = true;
    return std::make_shared<const PeerConfig>(std::move(p));
}

} // namespace

TEST_CASE("discovered slots: a vacant one is no base of max_ejection_percent, a new peer starts clean",
          "[upstream][discovery]") {
    // One fixed peer and three discovered slots.
    UpstreamConfig group;
    group.peers.resize(4);
    for (size_t i = 1; i < 4; ++i)
        group.peers[i].discovered = true;
    group.discovery.resize(1);
    group.discovery_first_slot = 1;
    group.policies.outlier.enabled = true;
    group.policies.outlier.consecutive_5xx = 1;
    group.policies.outlier.max_ejection_percent = 50;
    group.policies.max_connections = 1;
    UpstreamShared shared(group);
    CHECK(shared.outliers.occupied() == 1); // the fixed peer; the slots are vacant until DNS answers

    using Event = OutlierDetector::Event;
    using Reason = OutlierDetector::Reason;
    uint64_t now = 50'000, length = 0;
    SlotTable table;
    table.version = 1;
    table.peers = {discovered("10.0.0.1:80"), nullptr, nullptr};
    shared.follow_discovery(table);
    CHECK(shared.outliers.occupied() == 2);
    // Two peers at 50 %: one may be out. Were the vacant slots counted (four at 50 %), two could.
    CHECK(shared.outliers.report(1, Event::k5xx, now, length) == Reason::k5xx);
    CHECK(shared.outliers.report(0, Event::k5xx, now, length) == Reason::kNone);
    CHECK_FALSE(shared.outliers.ejected(0, now));
    // A late report about a vacant slot ejects nothing.
    CHECK(shared.outliers.report(2, Event::k5xx, now, length) == Reason::kNone);

    uint32_t lease = 0;
    REQUIRE(shared.limits.acquire(1, lease));
    CHECK(shared.limits.at_limit(1));

    // The same peer again (a new table, the same address): it keeps its ejection and its count.
    table.version = 2;
    table.peers = {discovered("10.0.0.1:80"), discovered("10.0.0.2:80"), nullptr};
    shared.follow_discovery(table);
    CHECK(shared.outliers.ejected(1, now));
    CHECK(shared.limits.in_use(1) == 1);
    CHECK(shared.outliers.occupied() == 3);

    // Slot 1 gets another address: back in, nothing in use, the old attempt's end changes nothing.
    table.version = 3;
    table.peers = {discovered("10.0.0.9:80"), discovered("10.0.0.2:80"), nullptr};
    shared.follow_discovery(table);
    CHECK_FALSE(shared.outliers.ejected(1, now));
    CHECK(shared.limits.in_use(1) == 0);
    shared.limits.release(1, lease);
    CHECK(shared.limits.in_use(1) == 0);

    // Slot 2 falls vacant: out of the base again.
    table.version = 4;
    table.peers = {discovered("10.0.0.9:80"), nullptr, nullptr};
    shared.follow_discovery(table);
    CHECK(shared.outliers.occupied() == 2);
}
