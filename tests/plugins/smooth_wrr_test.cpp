// balancing/round_robin: the smooth weighted round-robin sequence and its exclusions.
#include "smooth_wrr.hpp"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

using proxyd::round_robin::SmoothWrr;

namespace {

std::vector<proxyd_peer> peers_with_weights(std::initializer_list<uint32_t> weights) {
    std::vector<proxyd_peer> peers;
    for (uint32_t w : weights)
        peers.push_back(proxyd_peer{{"127.0.0.1:9000", 14}, w, false});
    return peers;
}

// n picks as letters: "aabacaa".
std::string sequence(SmoothWrr &wrr, const std::vector<proxyd_peer> &peers, int n,
                     const bool *tried = nullptr) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        int pick = wrr.pick(peers, tried);
        out += pick < 0 ? '-' : static_cast<char>('a' + pick);
    }
    return out;
}

} // namespace

TEST_CASE("weights 5,1,1 give nginx's smooth sequence a a b a c a a", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({5, 1, 1});
    CHECK(sequence(wrr, peers, 7) == "aabacaa");
    // The state returns to zero after sum(weights) picks, so the pattern repeats exactly.
    CHECK(sequence(wrr, peers, 7) == "aabacaa");
}

TEST_CASE("equal weights cycle through the peers in order", "[round_robin]") {
    SmoothWrr wrr;
    CHECK(sequence(wrr, peers_with_weights({1, 1, 1}), 7) == "abcabca");
    SmoothWrr heavy;
    CHECK(sequence(heavy, peers_with_weights({10, 10, 10, 10}), 8) == "abcdabcd");
}

TEST_CASE("1000 picks over 5 equal peers give exactly 200 each", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({1, 1, 1, 1, 1});
    std::array<int, 5> count{};
    for (int i = 0; i < 1000; ++i) {
        int pick = wrr.pick(peers, nullptr);
        REQUIRE(pick >= 0);
        REQUIRE(pick < 5);
        ++count[static_cast<size_t>(pick)];
    }
    CHECK(count == std::array<int, 5>{200, 200, 200, 200, 200});
}

TEST_CASE("picks follow the weights exactly over whole rounds", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({3, 2, 1});
    std::array<int, 3> count{};
    for (int i = 0; i < 600; ++i)
        ++count[static_cast<size_t>(wrr.pick(peers, nullptr))];
    CHECK(count == std::array<int, 3>{300, 200, 100});
}

TEST_CASE("peers marked down are skipped", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({1, 1, 1});
    peers[1].down = true;
    CHECK(sequence(wrr, peers, 4) == "acac");
    // Back up: it rejoins the rotation.
    peers[1].down = false;
    std::string next = sequence(wrr, peers, 6);
    CHECK(std::count(next.begin(), next.end(), 'b') == 2);
}

TEST_CASE("peers this request already tried are skipped", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({1, 1, 1});
    const bool tried[] = {true, false, false};
    CHECK(sequence(wrr, peers, 4, tried) == "bcbc");
    const bool tried_two[] = {true, false, true};
    CHECK(sequence(wrr, peers, 3, tried_two) == "bbb");
}

TEST_CASE("with no eligible peer the pick is -1", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({1, 2});
    const bool all_tried[] = {true, true};
    CHECK(wrr.pick(peers, all_tried) == -1);
    peers[0].down = true;
    peers[1].down = true;
    CHECK(wrr.pick(peers, nullptr) == -1);
    const bool one_tried[] = {true, false};
    CHECK(wrr.pick(peers, one_tried) == -1); // the untried one is down
    CHECK(wrr.pick({}, nullptr) == -1);
}

TEST_CASE("an excluded peer does not bank credit while it is out", "[round_robin]") {
    SmoothWrr wrr;
    auto peers = peers_with_weights({1, 1});
    peers[1].down = true;
    CHECK(sequence(wrr, peers, 5) == "aaaaa");
    peers[1].down = false;
    // Had b accumulated weight while down, it would now win several picks in a row.
    CHECK(sequence(wrr, peers, 4) == "abab");
}

TEST_CASE("a weight that changes between calls (slow start) takes effect at once", "[round_robin]") {
    // The core hands slow-start groups weight x percent, so a returning peer ramps 10 -> 100.
    SmoothWrr wrr;
    auto peers = peers_with_weights({100, 10});
    auto share_of_b = [&](int n) {
        int b = 0;
        for (int i = 0; i < n; ++i)
            b += wrr.pick(peers, nullptr) == 1;
        return b;
    };
    CHECK(share_of_b(110) == 10);
    peers[1].weight = 55;
    CHECK(share_of_b(155) == 55);
    peers[1].weight = 100;
    CHECK(share_of_b(200) == 100);
}
