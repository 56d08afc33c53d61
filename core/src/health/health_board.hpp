// A config generation's shared view of its peers' active health and admin state. Its shape (groups,
// peers, names) is fixed when it is built from the Config; only the per-peer atomics change:
// the generation's one health checker writes check results, the admin thread writes admin states,
// and every worker reads them in UpstreamPool::pick with relaxed loads, so the request path takes
// no lock. Owned by the Generation (shared with the MetricsStore, which the admin thread reads).
#pragma once

#include "config/config.hpp"
#include "health/health_rules.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

// A peer's check verdict together with the occupant it is about, in one atomic word: a discovered
// slot changes occupant when DNS moves it to another address, and a verdict about the previous
// occupant (a check still in flight) must never land on the next one.
class CheckCell {
  public:
    CheckState load(std::memory_order order = std::memory_order_seq_cst) const {
        return static_cast<CheckState>(word_.load(order) & 0xff);
    }
    // Sets the state of whoever occupies the slot (a fixed peer, a reload's inheritance, tests).
    void store(CheckState state, std::memory_order order = std::memory_order_seq_cst) {
        uint32_t word = word_.load(std::memory_order_relaxed);
        while (!word_.compare_exchange_weak(word, (word & ~0xffu) | static_cast<uint32_t>(state), order,
                                            std::memory_order_relaxed)) {
        }
    }
    uint32_t occupant() const { return word_.load(std::memory_order_acquire) >> 8; }
    // Checker thread: sets the state if the slot still holds `occupant`; false when it moved on.
    bool store_for(uint32_t occupant, CheckState state) {
        uint32_t word = word_.load(std::memory_order_relaxed);
        while (word >> 8 == occupant) {
            if (word_.compare_exchange_weak(word, (occupant << 8) | static_cast<uint32_t>(state),
                                            std::memory_order_release, std::memory_order_relaxed))
                return true;
        }
        return false;
    }
    // Main thread: the slot has a new occupant (a new address, or vacant), starting in `state`.
    // Returns the new occupant's number (24 bits, wrapping: two changes a second for 97 days).
    uint32_t replace_occupant(CheckState state) {
        uint32_t next = ((word_.load(std::memory_order_relaxed) >> 8) + 1) & 0xffffffu;
        word_.store((next << 8) | static_cast<uint32_t>(state), std::memory_order_release);
        return next;
    }

  private:
    std::atomic<uint32_t> word_{0};
};

struct PeerHealth {
    CheckCell check;
    std::atomic<AdminState> admin{AdminState::ready};
    std::atomic<CheckResult> last_result{CheckResult::none};
    std::atomic<int64_t> last_check_unix_ms{0};
    // Monotonic milliseconds (uv_hrtime / 1e6, the clock of uv_now) when its slow start began;
    // 0: none, full weight.
    std::atomic<uint64_t> ramp_start_ms{0};
};

struct GroupHealth {
    std::string name;
    std::vector<std::string> addresses;   // as written in the config, in its order
    std::vector<std::string> authorities; // host:port, without a scheme
    std::unique_ptr<PeerHealth[]> peers;
    uint64_t slow_start_ms = 0;
    bool checked = false; // the group has a health_check table
    // Discovered slots: peers[discovery_first_slot..] (none when discovery_first_slot == size()).
    size_t discovery_first_slot = 0;
    // Main thread only: each discovered slot's current address (empty: vacant), and whether DNS
    // has placed peers in this group before (a first placement is not a peer "joining").
    std::vector<std::string> occupants;
    bool placed_before = false;

    size_t size() const { return addresses.size(); }
    // The peer written as address (or its host:port); -1 when none is.
    int find_peer(std::string_view address) const;
    // The share of its configured weight, in percent, that the peer gets now: 0 out of rotation,
    // else its slow start's share.
    uint32_t weight_percent(size_t peer, uint64_t now_ms) const;
    // Sets what an operator asked for; leaving drain or maintenance starts a slow start.
    void set_admin(size_t peer, AdminState state, uint64_t now_ms);
};

class HealthBoard {
  public:
    explicit HealthBoard(const Config &config);
    HealthBoard(const HealthBoard &) = delete;
    HealthBoard &operator=(const HealthBoard &) = delete;

    // Main thread, before this board's workers and checker start: a peer of the same group and
    // address keeps its check state, admin state and last check from the previous generation, so a
    // reload neither readmits a down peer nor undoes a drain; a peer new to its group starts a slow
    // start (when its group has one).
    void inherit(const HealthBoard &previous, uint64_t now_ms);

    // Main thread, when discovery publishes a group's slots and before its workers see them:
    // addresses has one entry per discovered slot (empty: vacant). A slot whose address changed
    // starts afresh: pending in a checked group (out of rotation until its first check), ready,
    // no last check, and ramping up when the group has slow_start (unless this is the group's
    // first placement). Returns each slot's occupant number, for the checker.
    std::vector<uint32_t> place_discovered(size_t group, const std::vector<std::string> &addresses,
                                           uint64_t now_ms);

    size_t group_count() const { return groups_.size(); }
    GroupHealth &group(size_t index) { return groups_[index]; }
    const GroupHealth &group(size_t index) const { return groups_[index]; }
    GroupHealth *find_group(std::string_view name);

  private:
    std::vector<GroupHealth> groups_; // in the config's order
};

// State names as the pages and logs write them.
const char *check_state_name(CheckState state);
const char *admin_state_name(AdminState state);

} // namespace proxyd
