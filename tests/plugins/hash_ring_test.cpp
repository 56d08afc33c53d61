// balancing/hash: the ring (how many keys move when a peer comes or goes, weight shares), the
// per-worker picker (tried and down peers, bounded loads, the fallback rotation) and the key forms.
#include "hash_key.hpp"
#include "hash_picker.hpp"
#include "hash_ring.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace proxyd::hash;

namespace {

constexpr int kKeys = 10000;

std::vector<std::string> addresses(int n) {
    std::vector<std::string> out;
    for (int i = 1; i <= n; ++i)
        out.push_back("10.0.0." + std::to_string(i) + ":8080");
    return out;
}

std::vector<RingPeer> ring_peers(const std::vector<std::string> &addresses,
                                 std::vector<uint32_t> weights = {}) {
    std::vector<RingPeer> out;
    for (size_t i = 0; i < addresses.size(); ++i)
        out.push_back(RingPeer{addresses[i], i < weights.size() ? weights[i] : 1});
    return out;
}

std::vector<proxyd_peer> pick_peers(const std::vector<std::string> &addresses,
                                    std::vector<uint32_t> weights = {}) {
    std::vector<proxyd_peer> out;
    for (size_t i = 0; i < addresses.size(); ++i)
        out.push_back(proxyd_peer{
            {addresses[i].data(), addresses[i].size()}, i < weights.size() ? weights[i] : 1, false});
    return out;
}

uint64_t key(int i) { return hash_bytes("user-" + std::to_string(i)); }

} // namespace

TEST_CASE("the hash spreads near keys far apart and is stable", "[hash]") {
    CHECK(hash_bytes("user-1") == hash_bytes("user-1"));
    CHECK(hash_bytes("user-1") != hash_bytes("user-2"));
    // One changed last byte flips about half of the 64 bits.
    int flipped = __builtin_popcountll(hash_bytes("session-a") ^ hash_bytes("session-b"));
    CHECK(flipped > 16);
    CHECK(flipped < 48);
}

TEST_CASE("adding a sixth peer to five moves about a sixth of the keys, all to the new peer", "[hash]") {
    auto five = addresses(5), six = addresses(6);
    HashRing before(ring_peers(five)), after(ring_peers(six));
    int moved = 0, moved_elsewhere = 0;
    for (int i = 0; i < kKeys; ++i) {
        int a = before.owner(key(i)), b = after.owner(key(i));
        if (a == b) continue;
        ++moved;
        moved_elsewhere += b != 5;
    }
    INFO("moved " << moved << " of " << kKeys);
    CHECK(moved > kKeys * 10 / 100);
    CHECK(moved < kKeys * 25 / 100);
    CHECK(moved_elsewhere == 0);
}

TEST_CASE("the ring follows addresses, not positions: reordered peers own the same keys", "[hash]") {
    auto five = addresses(5);
    auto reversed = five;
    std::reverse(reversed.begin(), reversed.end());
    HashRing a(ring_peers(five)), b(ring_peers(reversed));
    for (int i = 0; i < 1000; ++i)
        REQUIRE(five[static_cast<size_t>(a.owner(key(i)))] == reversed[static_cast<size_t>(b.owner(key(i)))]);
}

TEST_CASE("a down peer's keys spread over the others and no other key moves", "[hash]") {
    auto names = addresses(5);
    HashRing ring(ring_peers(names));
    auto peers = pick_peers(names);
    HashPicker picker;
    std::vector<int> owner(kKeys);
    for (int i = 0; i < kKeys; ++i)
        owner[static_cast<size_t>(i)] = ring.owner(key(i));

    peers[2].down = true;
    std::map<int, int> moved_to;
    int others_moved = 0;
    for (int i = 0; i < kKeys; ++i) {
        int now = picker.pick(ring, peers, nullptr, key(i));
        picker.done(static_cast<size_t>(now));
        if (owner[static_cast<size_t>(i)] == 2)
            ++moved_to[now];
        else
            others_moved += now != owner[static_cast<size_t>(i)];
    }
    CHECK(others_moved == 0);
    CHECK(moved_to.count(2) == 0);
    int moved = 0;
    for (auto [peer, count] : moved_to)
        moved += count;
    INFO("the down peer's " << moved << " keys went to " << moved_to.size() << " peers");
    REQUIRE(moved_to.size() == 4);
    for (auto [peer, count] : moved_to)
        CHECK(count > moved / 10); // each of the four takes a real part, not one successor all of it
}

TEST_CASE("a retry goes to the next distinct peer on the ring, the one a down peer's key goes to", "[hash]") {
    auto names = addresses(5);
    HashRing ring(ring_peers(names));
    for (int i = 0; i < 200; ++i) {
        auto peers = pick_peers(names);
        HashPicker picker;
        bool tried[5] = {};
        int first = picker.pick(ring, peers, tried, key(i));
        REQUIRE(first == ring.owner(key(i)));
        tried[first] = true;
        int second = picker.pick(ring, peers, tried, key(i));
        REQUIRE(second >= 0);
        REQUIRE(second != first);
        peers[static_cast<size_t>(first)].down = true;
        HashPicker fresh;
        REQUIRE(fresh.pick(ring, peers, nullptr, key(i)) == second);
        tried[second] = true;
        int third = picker.pick(ring, peers, tried, key(i));
        REQUIRE(third >= 0);
        REQUIRE(third != first);
        REQUIRE(third != second);
    }
}

TEST_CASE("down peers are used only when every untried peer is down, -1 when all were tried", "[hash]") {
    auto names = addresses(3);
    HashRing ring(ring_peers(names));
    auto peers = pick_peers(names);
    HashPicker picker;
    for (auto &p : peers)
        p.down = true;
    CHECK(picker.pick(ring, peers, nullptr, key(1)) == ring.owner(key(1)));
    bool all[3] = {true, true, true};
    CHECK(picker.pick(ring, peers, all, key(1)) == -1);
}

TEST_CASE("peers own keys in proportion to their weights", "[hash]") {
    auto names = addresses(4);
    std::vector<uint32_t> weights{1, 2, 3, 4};
    HashRing ring(ring_peers(names, weights));
    CHECK(ring.point_count() == 10 * HashRing::kPointsPerWeight);
    constexpr int kMany = 100000;
    std::vector<int> owned(4);
    for (int i = 0; i < kMany; ++i)
        ++owned[static_cast<size_t>(ring.owner(key(i)))];
    for (size_t p = 0; p < 4; ++p) {
        double expected = kMany * weights[p] / 10.0;
        INFO("peer " << p << " weight " << weights[p] << ": " << owned[p] << " keys, expected " << expected);
        CHECK(std::abs(owned[p] - expected) < 0.15 * expected);
    }
}

TEST_CASE("bounded loads cap each peer at ceil(c x average) of the requests in flight", "[hash]") {
    auto names = addresses(4);
    HashRing ring(ring_peers(names));
    auto peers = pick_peers(names);

    SECTION("one hot key spills over to the next peers on the ring") {
        HashPicker unbounded, bounded(1.25);
        for (int i = 0; i < 100; ++i) {
            CHECK(unbounded.pick(ring, peers, nullptr, key(7)) == ring.owner(key(7)));
            bounded.pick(ring, peers, nullptr, key(7));
        }
        CHECK(unbounded.in_flight()[static_cast<size_t>(ring.owner(key(7)))] == 100);
        const auto &load = bounded.in_flight();
        CHECK(*std::max_element(load.begin(), load.end()) <= 32);   // ceil(1.25 * 100 / 4)
        CHECK(load[static_cast<size_t>(ring.owner(key(7)))] == 32); // the owner is filled first
    }
    SECTION("the cap holds after every pick, whatever the keys") {
        HashPicker bounded(1.25);
        for (int i = 0; i < 1000; ++i) {
            bounded.pick(ring, peers, nullptr, key(i % 13));
            if (i % 3 == 2) bounded.done(static_cast<size_t>(i % 4)); // some end, unevenly
            const auto &load = bounded.in_flight();
            uint64_t total = 0;
            for (uint32_t l : load)
                total += l;
            uint32_t cap = static_cast<uint32_t>(std::ceil(1.25 * static_cast<double>(total + 1) / 4));
            REQUIRE(*std::max_element(load.begin(), load.end()) <= cap);
        }
    }
    SECTION("without load the key stays on its owner") {
        HashPicker bounded(1.25);
        for (int i = 0; i < 100; ++i) {
            int p = bounded.pick(ring, peers, nullptr, key(i));
            REQUIRE(p == ring.owner(key(i)));
            bounded.done(static_cast<size_t>(p));
        }
    }
}

TEST_CASE("without a key the rotation gives each peer turns in proportion to its weight", "[hash]") {
    auto names = addresses(2);
    HashRing ring(ring_peers(names, {1, 3}));
    auto peers = pick_peers(names, {1, 3});
    HashPicker picker;
    std::vector<int> got(2);
    for (size_t i = 0; i < ring.point_count(); ++i) {
        int p = picker.pick(ring, peers, nullptr, std::nullopt);
        ++got[static_cast<size_t>(p)];
        picker.done(static_cast<size_t>(p));
    }
    // One lap of the ring: exactly each peer's points.
    CHECK(got[0] == static_cast<int>(HashRing::kPointsPerWeight));
    CHECK(got[1] == static_cast<int>(3 * HashRing::kPointsPerWeight));
}

TEST_CASE("the key forms", "[hash]") {
    std::string error;
    CHECK(parse_key_spec("client_address", error)->source == KeySource::ClientAddress);
    CHECK(parse_key_spec("path", error)->source == KeySource::Path);
    CHECK(parse_key_spec("uri", error)->source == KeySource::Uri);
    auto header = parse_key_spec("header:X-User", error);
    REQUIRE(header);
    CHECK(header->source == KeySource::Header);
    CHECK(header->name == "X-User");
    auto cookie = parse_key_spec("cookie:session", error);
    REQUIRE(cookie);
    CHECK(cookie->source == KeySource::Cookie);
    CHECK(cookie->name == "session");

    CHECK_FALSE(parse_key_spec("cookie:", error));
    CHECK(error == "key 'cookie:': '' is not a valid cookie name");
    CHECK_FALSE(parse_key_spec("header:X User", error));
    CHECK(error == "key 'header:X User': 'X User' is not a valid header name");
    CHECK_FALSE(parse_key_spec("ip", error));
    CHECK(error ==
          "key must be \"client_address\", \"header:NAME\", \"cookie:NAME\", \"path\" or \"uri\", not 'ip'");
}

TEST_CASE("a cookie is found by its exact name among several", "[hash]") {
    CHECK(find_cookie("session=abc", "session") == "abc");
    CHECK(find_cookie("a=1; session=abc; b=2", "session") == "abc");
    CHECK(find_cookie("a=1;session=abc", "session") == "abc");
    CHECK(find_cookie("mysession=x; session=y", "session") == "y");
    CHECK(find_cookie("session=\"quoted\"", "session") == "quoted");
    CHECK(find_cookie("Session=abc", "session") == std::nullopt);
    CHECK(find_cookie("flag; other=1", "session") == std::nullopt);
    CHECK(find_cookie("session=", "session") == "");
    CHECK(find_cookie("", "session") == std::nullopt);
}
