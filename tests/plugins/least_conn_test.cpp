// balancing/least_conn: weighted least-connections, ties round-robin, exclusions, and counts that
// return to zero when every pick ends.
#include "least_conn.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

using proxyd::least_conn::LeastConn;

namespace {

std::vector<proxyd_peer> peers_with_weights(std::initializer_list<uint32_t> weights) {
    std::vector<proxyd_peer> peers;
    for (uint32_t w : weights)
        peers.push_back(proxyd_peer{{"127.0.0.1:9000", 14}, w, false});
    return peers;
}

// n picks, each ended before the next, as letters: "abab".
std::string sequential(LeastConn &lc, const std::vector<proxyd_peer> &peers, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        int pick = lc.pick(peers, nullptr);
        out += pick < 0 ? '-' : static_cast<char>('a' + pick);
        if (pick >= 0) lc.done(static_cast<size_t>(pick));
    }
    return out;
}

} // namespace

TEST_CASE("idle peers take turns", "[least_conn]") {
    LeastConn lc;
    auto peers = peers_with_weights({1, 1, 1});
    CHECK(sequential(lc, peers, 7) == "abcabca");
    CHECK(lc.in_flight_text() == "[0,0,0]");
}

TEST_CASE("the peer with the fewest in flight is picked", "[least_conn]") {
    LeastConn lc(3);
    auto peers = peers_with_weights({1, 1, 1});
    CHECK(lc.pick(peers, nullptr) == 0);
    CHECK(lc.pick(peers, nullptr) == 1);
    CHECK(lc.pick(peers, nullptr) == 2);
    CHECK(lc.in_flight_text() == "[1,1,1]");
    lc.done(1);
    CHECK(lc.pick(peers, nullptr) == 1); // the only one with 0
    CHECK(lc.pick(peers, nullptr) == 2); // all at 1 again: the turn goes on after 1
    CHECK(lc.in_flight_text() == "[1,1,2]");
    CHECK(lc.pick(peers, nullptr) == 0);
}

TEST_CASE("a request left in flight on one peer sends the others' share elsewhere until it ends",
          "[least_conn]") {
    LeastConn lc;
    auto peers = peers_with_weights({1, 1});
    CHECK(lc.pick(peers, nullptr) == 0); // a slow request stays on a
    CHECK(sequential(lc, peers, 4) == "bbbb");
    lc.done(0); // its attempt ended: the counts are even again
    CHECK(sequential(lc, peers, 4) == "abab");
}

TEST_CASE("weights scale the load a peer takes", "[least_conn]") {
    LeastConn lc;
    auto peers = peers_with_weights({3, 1});
    std::array<int, 2> count{};
    for (int i = 0; i < 8; ++i) { // none ends: in flight 6 and 2 is 2 per weight each
        int pick = lc.pick(peers, nullptr);
        REQUIRE(pick >= 0);
        ++count[static_cast<size_t>(pick)];
    }
    CHECK(count == std::array<int, 2>{6, 2});
    CHECK(lc.in_flight_text() == "[6,2]");
}

TEST_CASE("tried and down peers are skipped, down ones are used when nothing else is left", "[least_conn]") {
    LeastConn lc;
    auto peers = peers_with_weights({1, 1, 1, 1});
    peers[0].down = true;
    const bool tried[4] = {false, true, false, false};
    CHECK(lc.pick(peers, tried) == 2);
    CHECK(lc.pick(peers, tried) == 3);
    const bool only_down_left[4] = {false, true, true, true};
    CHECK(lc.pick(peers, only_down_left) == 0);
    const bool all[4] = {true, true, true, true};
    CHECK(lc.pick(peers, all) == -1);
    CHECK(lc.in_flight_text() == "[1,0,1,1]");
}

TEST_CASE("an end without a pick never wraps a count", "[least_conn]") {
    LeastConn lc(2);
    lc.done(0);
    lc.done(7);
    CHECK(lc.in_flight_text() == "[0,0]");
}

TEST_CASE("a weight that changes between calls (slow start) takes effect at once", "[least_conn]") {
    // Under load, the share follows the weight: b's requests stay in flight and are never ended.
    auto busy_share_of_b = [](uint32_t weight_b) {
        LeastConn lc(2);
        auto peers = peers_with_weights({100, weight_b});
        int b = 0;
        for (int i = 0; i < 1000; ++i)
            b += lc.pick(peers, nullptr) == 1;
        return b;
    };
    CHECK(busy_share_of_b(10) < 120);
    CHECK(busy_share_of_b(100) == 500);
    // And on one balancer whose peer's weight grows while requests are in flight.
    LeastConn lc(2);
    auto peers = peers_with_weights({100, 10});
    for (int i = 0; i < 110; ++i)
        lc.pick(peers, nullptr);
    CHECK(lc.in_flight()[1] <= 11);
    peers[1].weight = 100;
    for (int i = 0; i < 90; ++i)
        lc.pick(peers, nullptr);
    CHECK(lc.in_flight()[1] >= 90); // b catches up to its new share of the 200 in flight
}
