// health/: rise/fall counting, the slow start curve, status ranges of expect_status, and the board
// a reload hands its states on through.
#include "config/health_check_config.hpp"
#include "health/health_board.hpp"
#include "health/health_rules.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd;

namespace {

// Results as a string: '+' a pass, '-' a failure; returns the states after each, as letters
// (u unchecked, U up, D down, p pending) and the number of changes.
std::pair<std::string, int> run(RiseFall &rf, const std::string &results, uint32_t rise, uint32_t fall) {
    std::string states;
    int changes = 0;
    for (char r : results) {
        changes += rf.record(r == '+', rise, fall) ? 1 : 0;
        states += "uUDp"[static_cast<int>(rf.state())];
    }
    return {states, changes};
}

} // namespace

TEST_CASE("fall failures in a row take a peer down, rise passes bring it back", "[health]") {
    RiseFall rf;
    CHECK(run(rf, "+", 2, 3) == std::pair<std::string, int>{"U", 1}); // unchecked: the first pass is enough
    CHECK(run(rf, "--+--", 2, 3) == std::pair<std::string, int>{"UUUUU", 0}); // a pass resets the count
    CHECK(run(rf, "-", 2, 3) == std::pair<std::string, int>{"D", 1});
    CHECK(run(rf, "+-+", 2, 3) == std::pair<std::string, int>{"DDD", 0}); // a failure resets the passes
    CHECK(run(rf, "+", 2, 3) == std::pair<std::string, int>{"U", 1});     // the pass before counted
}

TEST_CASE("a pending peer's first result decides at once", "[health]") {
    RiseFall in(CheckState::pending);
    CHECK(run(in, "+", 3, 3) == std::pair<std::string, int>{"U", 1});
    RiseFall out(CheckState::pending);
    CHECK(run(out, "-", 3, 3) == std::pair<std::string, int>{"D", 1});
    CHECK(run(out, "++", 2, 3) == std::pair<std::string, int>{"DU", 1}); // then rise passes, as any down peer
    CHECK_FALSE(in_rotation(CheckState::pending));
    CHECK_FALSE(in_rotation(CheckState::down));
    CHECK(in_rotation(CheckState::unchecked));
}

TEST_CASE("a verdict lands only on the occupant it is about", "[health]") {
    CheckCell cell;
    CHECK(cell.occupant() == 0);
    CHECK(cell.store_for(0, CheckState::up));
    uint32_t next = cell.replace_occupant(CheckState::pending);
    CHECK(next == 1);
    CHECK(cell.load() == CheckState::pending);
    CHECK_FALSE(cell.store_for(0, CheckState::up)); // a check of the previous address, still in flight
    CHECK(cell.load() == CheckState::pending);
    CHECK(cell.store_for(1, CheckState::down));
    CHECK(cell.load() == CheckState::down);
    cell.store(CheckState::up); // keeps the occupant
    CHECK(cell.occupant() == 1);
}

TEST_CASE("an unchecked peer goes down only after fall failures", "[health]") {
    RiseFall rf;
    CHECK(run(rf, "--", 2, 2) == std::pair<std::string, int>{"uD", 1});
}

TEST_CASE("a flapping peer changes state a bounded number of times", "[health]") {
    // Alternating results never make rise or fall (both 2) in a row: no change at all.
    RiseFall rf(CheckState::up);
    CHECK(run(rf, std::string(50, '+'), 2, 2).second == 0);
    std::string alternating;
    for (int i = 0; i < 100; ++i)
        alternating += i % 2 ? '+' : '-';
    CHECK(run(rf, alternating, 2, 2).second == 0);
    // Two of each in turn: at most one change per two checks.
    std::string pairs;
    for (int i = 0; i < 100; ++i)
        pairs += (i / 2) % 2 ? '+' : '-';
    CHECK(run(rf, pairs, 2, 2).second <= 50);
    CHECK(run(rf, pairs, 3, 3).second == 0);
}

TEST_CASE("an inherited state goes on counting from there", "[health]") {
    RiseFall rf(CheckState::down);
    CHECK(run(rf, "+", 2, 3) == std::pair<std::string, int>{"D", 0});
    CHECK(rf.streak() == 1);
    CHECK(run(rf, "+", 2, 3) == std::pair<std::string, int>{"U", 1});
}

TEST_CASE("slow start ramps linearly from 10% to 100%", "[health]") {
    CHECK(slow_start_percent(0, 30000) == 10);
    CHECK(slow_start_percent(15000, 30000) == 55);
    CHECK(slow_start_percent(29999, 30000) == 99);
    CHECK(slow_start_percent(30000, 30000) == 100);
    CHECK(slow_start_percent(90000, 30000) == 100);
    CHECK(slow_start_percent(0, 0) == 100); // no slow start
    uint32_t previous = 0;
    for (uint64_t t = 0; t <= 30000; t += 500) {
        CHECK(slow_start_percent(t, 30000) >= previous);
        previous = slow_start_percent(t, 30000);
    }
}

TEST_CASE("expect_status takes a code, a range or a class", "[health]") {
    using Range = std::pair<uint16_t, uint16_t>;
    CHECK(parse_status_range("200") == Range{200, 200});
    CHECK(parse_status_range("200-399") == Range{200, 399});
    CHECK(parse_status_range("2xx") == Range{200, 299});
    CHECK_FALSE(parse_status_range("399-200"));
    CHECK_FALSE(parse_status_range("99"));
    CHECK_FALSE(parse_status_range("600"));
    CHECK_FALSE(parse_status_range("2xx-3xx"));
    CHECK_FALSE(parse_status_range("abc"));
    CHECK_FALSE(parse_status_range(""));
}

namespace {

std::unique_ptr<Config> group_config(std::vector<std::string> addresses, bool checked,
                                     int64_t slow_start_ms) {
    auto config = std::make_unique<Config>();
    UpstreamConfig &u = config->upstreams.emplace_back();
    u.name = "web";
    for (auto &a : addresses) {
        PeerConfig &p = u.peers.emplace_back();
        p.address_text = a;
        p.authority = a;
    }
    if (checked) u.health_check.emplace();
    u.slow_start = Duration(slow_start_ms);
    return config;
}

} // namespace

TEST_CASE("a reload keeps each surviving peer's states and ramps a new one", "[health]") {
    auto first_config = group_config({"10.0.0.1:80", "10.0.0.2:80"}, true, 10000);
    HealthBoard first(*first_config);
    GroupHealth &g1 = first.group(0);
    g1.peers[0].check.store(CheckState::down);
    g1.set_admin(1, AdminState::drain, 1000);
    CHECK(g1.weight_percent(1, 1000) == 0);
    CHECK(g1.weight_percent(0, 1000) == 100); // down is the balancer's to see; its weight is whole

    auto second_config = group_config({"10.0.0.2:80", "10.0.0.1:80", "10.0.0.3:80"}, true, 10000);
    HealthBoard second(*second_config);
    second.inherit(first, 5000);
    GroupHealth &g2 = second.group(0);
    CHECK(g2.peers[0].admin.load() == AdminState::drain);
    CHECK(g2.peers[1].check.load() == CheckState::down);
    CHECK(g2.peers[2].check.load() == CheckState::unchecked);
    CHECK(g2.weight_percent(2, 5000) == 10); // new: slow start from the reload
    CHECK(g2.weight_percent(2, 10000) == 55);
    CHECK(g2.weight_percent(1, 5000) == 100);

    // Back to ready: the peer ramps from then.
    g2.set_admin(0, AdminState::ready, 20000);
    CHECK(g2.weight_percent(0, 20000) == 10);
    CHECK(g2.weight_percent(0, 30000) == 100);
    CHECK(g2.find_peer("10.0.0.3:80") == 2);
    CHECK(g2.find_peer("10.0.0.9:80") == -1);
    CHECK(second.find_group("web") == &g2);
    CHECK(second.find_group("api") == nullptr);
}

TEST_CASE("a group whose checks a reload removed starts unchecked", "[health]") {
    auto first_config = group_config({"10.0.0.1:80"}, true, 0);
    HealthBoard first(*first_config);
    first.group(0).peers[0].check.store(CheckState::down);
    auto second_config = group_config({"10.0.0.1:80"}, false, 0);
    HealthBoard second(*second_config);
    second.inherit(first, 0);
    CHECK(second.group(0).peers[0].check.load() == CheckState::unchecked);
}

namespace {

// A group with one fixed peer and two discovered slots.
std::unique_ptr<Config> discovered_config(bool checked, int64_t slow_start_ms) {
    auto config = group_config({"10.0.0.1:80", "dns#1", "dns#2"}, checked, slow_start_ms);
    UpstreamConfig &u = config->upstreams[0];
    u.peers[1].discovered = u.peers[2].discovered = true;
    u.discovery.emplace_back();
    u.discovery_first_slot = 1;
    return config;
}

} // namespace

TEST_CASE("a discovered slot whose address changes starts afresh", "[health]") {
    auto config = discovered_config(true, 10000);
    HealthBoard board(*config);
    GroupHealth &g = board.group(0);
    // The first placement: peers pending until checked, no slow start (nobody joined a running group).
    auto first = board.place_discovered(0, {"10.0.1.1:80", ""}, 1000);
    REQUIRE(first.size() == 2);
    CHECK(g.peers[1].check.load() == CheckState::pending);
    CHECK(g.peers[2].check.load() == CheckState::unchecked); // vacant
    CHECK(g.weight_percent(1, 1000) == 100);
    CHECK(g.peers[1].check.store_for(first[0], CheckState::up));
    g.set_admin(1, AdminState::drain, 1500);

    // Same address again: everything is kept.
    auto same = board.place_discovered(0, {"10.0.1.1:80", ""}, 2000);
    CHECK(same[0] == first[0]);
    CHECK(g.peers[1].check.load() == CheckState::up);
    CHECK(g.peers[1].admin.load() == AdminState::drain);

    // Another address in the slot, and one joining: fresh states, slow start from now.
    auto moved = board.place_discovered(0, {"10.0.1.2:80", "10.0.1.3:80"}, 3000);
    CHECK(moved[0] != first[0]);
    CHECK_FALSE(g.peers[1].check.store_for(first[0], CheckState::up)); // the old check is void
    CHECK(g.peers[1].check.load() == CheckState::pending);
    CHECK(g.peers[1].admin.load() == AdminState::ready);
    CHECK(g.peers[2].check.load() == CheckState::pending);
    CHECK(g.weight_percent(2, 3000) == 10);
    CHECK(g.weight_percent(2, 13000) == 100);
    CHECK(g.peers[0].check.load() == CheckState::unchecked); // the fixed peer is untouched
}

TEST_CASE("a reload keeps a discovered peer's state while the same address fills its slot", "[health]") {
    auto config = discovered_config(true, 0);
    HealthBoard first(*config);
    auto numbers = first.place_discovered(0, {"10.0.1.1:80", "10.0.1.2:80"}, 0);
    first.group(0).peers[1].check.store_for(numbers[0], CheckState::down);
    first.group(0).peers[2].check.store_for(numbers[1], CheckState::up);

    HealthBoard second(*config);
    second.inherit(first, 1000);
    // The seeded set comes back with slot 2 given to another address.
    second.place_discovered(0, {"10.0.1.1:80", "10.0.1.9:80"}, 1000);
    CHECK(second.group(0).peers[1].check.load() == CheckState::down);
    CHECK(second.group(0).peers[2].check.load() == CheckState::pending);
}

TEST_CASE("without checks a discovered peer is in rotation at once", "[health]") {
    auto config = discovered_config(false, 0);
    HealthBoard board(*config);
    board.place_discovered(0, {"10.0.1.1:80", ""}, 0);
    CHECK(board.group(0).peers[1].check.load() == CheckState::unchecked);
}
