// Session ticket keys that outlive config generations, so a client resumes on any worker and
// after a reload (SIGHUP) with a ticket issued before it.
//
// Each listener address has a TicketKeyRing: the newest key encrypts new tickets for one
// rotation period, then it only decrypts for kDecryptPeriods - 1 more periods (tickets stay
// valid about two rotations after they were issued; the session timeout bounds them further).
// Rotation is lazy: the first handshake after the period ends makes the next key. Keys come
// from RAND_bytes and live in memory only, never on disk.
//
// The rings are owned at process level (TicketKeyStore, one for the process, created by main and
// handed to each config load through LoadOptions). Every worker thread's handshakes read a ring
// under its short lock; the request path never touches it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace proxyd {

struct TicketKey {
    using Name = std::array<unsigned char, 16>; // as OpenSSL's ticket key callback wants it
    Name name{};
    std::array<unsigned char, 32> hmac_key{}; // HMAC-SHA256 over the ticket
    std::array<unsigned char, 32> aes_key{};  // AES-256-CBC of the ticket's session
    std::chrono::steady_clock::time_point created;
};

class TicketKeyRing {
  public:
    using Clock = std::chrono::steady_clock;
    // A key encrypts for one rotation, then decrypts for the periods after it up to this count.
    static constexpr int kDecryptPeriods = 3;

    explicit TicketKeyRing(Clock::duration rotation) : rotation_(rotation) {}

    // A reload may change the period; the keys in use stay.
    void set_rotation(Clock::duration rotation);
    Clock::duration rotation() const;

    // The key that encrypts a ticket issued at now (made now if none is current). False only
    // when the random generator failed.
    bool encrypting_key(Clock::time_point now, TicketKey &out);

    enum class Lookup {
        kUnknown, // no such key, or expired: a full handshake
        kCurrent, // the encrypting key
        kOlder,   // a previous key: resume, and issue a fresh ticket under the current one
    };
    Lookup decrypting_key(const TicketKey::Name &name, Clock::time_point now, TicketKey &out);

    size_t key_count() const;

  private:
    // Drops keys past their decrypting life. Called with mutex_ held.
    void expire(Clock::time_point now);

    mutable std::mutex mutex_;
    Clock::duration rotation_;
    std::vector<TicketKey> keys_; // oldest first; the last encrypts while it is current
};

// The rings of every TLS listener, by listener address; they stay while the process runs (a
// listener removed by one reload and added back by another keeps its keys).
class TicketKeyStore {
  public:
    // Main thread (config loading) only.
    std::shared_ptr<TicketKeyRing> ring(const std::string &listener, TicketKeyRing::Clock::duration rotation);

  private:
    std::map<std::string, std::shared_ptr<TicketKeyRing>> rings_;
};

} // namespace proxyd
