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

struct PeerHealth {
    std::atomic<CheckState> check{CheckState::unchecked};
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
