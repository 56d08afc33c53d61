// Session ticket keys: which key encrypts, which still decrypt, and how long, with the clock
// handed in so rotations happen without waiting.
#include "tls/ticket_keys.hpp"

#include <catch2/catch.hpp>

using proxyd::TicketKey;
using proxyd::TicketKeyRing;
using proxyd::TicketKeyStore;
using namespace std::chrono_literals;

TEST_CASE("the encrypting key rotates each period, older keys decrypt and ask for renewal", "[tls]") {
    TicketKeyRing ring(12h);
    auto t0 = TicketKeyRing::Clock::time_point() + 1000h;
    TicketKey first, again, second, found;
    REQUIRE(ring.encrypting_key(t0, first));
    REQUIRE(ring.encrypting_key(t0 + 11h, again));
    CHECK(again.name == first.name); // one key for the whole period
    CHECK(ring.decrypting_key(first.name, t0 + 11h, found) == TicketKeyRing::Lookup::kCurrent);
    CHECK(found.aes_key == first.aes_key);
    CHECK(found.hmac_key == first.hmac_key);

    REQUIRE(ring.encrypting_key(t0 + 12h, second));
    CHECK(second.name != first.name);
    CHECK(second.aes_key != first.aes_key);
    // A ticket of the previous period still resumes, and gets replaced by one under the new key.
    CHECK(ring.decrypting_key(first.name, t0 + 12h, found) == TicketKeyRing::Lookup::kOlder);
    CHECK(found.aes_key == first.aes_key);
    CHECK(ring.decrypting_key(second.name, t0 + 12h, found) == TicketKeyRing::Lookup::kCurrent);
    // Three periods after it was made, a key is gone: its tickets make a full handshake.
    CHECK(ring.decrypting_key(first.name, t0 + 35h, found) == TicketKeyRing::Lookup::kOlder);
    CHECK(ring.decrypting_key(first.name, t0 + 36h, found) == TicketKeyRing::Lookup::kUnknown);
}

TEST_CASE("a key nobody made is unknown, the ring keeps at most three keys", "[tls]") {
    TicketKeyRing ring(1h);
    auto t0 = TicketKeyRing::Clock::time_point() + 1000h;
    TicketKey key, found;
    TicketKey::Name stranger{};
    stranger.fill(0x5a);
    CHECK(ring.decrypting_key(stranger, t0, found) == TicketKeyRing::Lookup::kUnknown);
    for (int hour = 0; hour < 10; ++hour)
        REQUIRE(ring.encrypting_key(t0 + std::chrono::hours(hour), key));
    CHECK(ring.key_count() == TicketKeyRing::kDecryptPeriods);
    // Idle for longer than every key lives: the next ticket gets a fresh key, the old ones are gone.
    TicketKey fresh;
    REQUIRE(ring.encrypting_key(t0 + 100h, fresh));
    CHECK(fresh.name != key.name);
    CHECK(ring.key_count() == 1);
    CHECK(ring.decrypting_key(key.name, t0 + 100h, found) == TicketKeyRing::Lookup::kUnknown);
}

TEST_CASE("the store keeps one ring per listener across loads, a reload may change the period", "[tls]") {
    TicketKeyStore store;
    auto a = store.ring("127.0.0.1:8443", 12h);
    auto b = store.ring("127.0.0.1:9443", 12h);
    CHECK(a != b);
    auto t0 = TicketKeyRing::Clock::time_point() + 1000h;
    TicketKey issued, found;
    REQUIRE(a->encrypting_key(t0, issued));
    // The next generation loads the same listener: the same ring, so the same keys.
    auto reloaded = store.ring("127.0.0.1:8443", 1h);
    CHECK(reloaded == a);
    CHECK(reloaded->rotation() == 1h);
    CHECK(reloaded->decrypting_key(issued.name, t0 + 30min, found) == TicketKeyRing::Lookup::kCurrent);
    CHECK(b->decrypting_key(issued.name, t0, found) == TicketKeyRing::Lookup::kUnknown);
}
