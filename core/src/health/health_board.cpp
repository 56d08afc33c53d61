#include "health/health_board.hpp"

namespace proxyd {

int GroupHealth::find_peer(std::string_view address) const {
    for (size_t i = 0; i < addresses.size(); ++i)
        if (addresses[i] == address || authorities[i] == address) return static_cast<int>(i);
    return -1;
}

uint32_t GroupHealth::weight_percent(size_t peer, uint64_t now_ms) const {
    const PeerHealth &h = peers[peer];
    if (h.admin.load(std::memory_order_relaxed) != AdminState::ready) return 0;
    uint64_t start = h.ramp_start_ms.load(std::memory_order_relaxed);
    if (start == 0 || slow_start_ms == 0) return 100;
    return slow_start_percent(now_ms > start ? now_ms - start : 0, slow_start_ms);
}

void GroupHealth::set_admin(size_t peer, AdminState state, uint64_t now_ms) {
    PeerHealth &h = peers[peer];
    AdminState before = h.admin.exchange(state, std::memory_order_relaxed);
    if (before != AdminState::ready && state == AdminState::ready && slow_start_ms != 0)
        h.ramp_start_ms.store(now_ms, std::memory_order_relaxed);
}

HealthBoard::HealthBoard(const Config &config) {
    groups_.reserve(config.upstreams.size());
    for (const auto &u : config.upstreams) {
        GroupHealth &g = groups_.emplace_back();
        g.name = u.name;
        for (const auto &p : u.peers) {
            g.addresses.push_back(p.address_text);
            g.authorities.push_back(p.authority);
        }
        g.peers = std::make_unique<PeerHealth[]>(u.peers.size());
        g.slow_start_ms = static_cast<uint64_t>(u.slow_start.count());
        g.checked = u.health_check.has_value();
        g.discovery_first_slot = u.discovery.empty() ? u.peers.size() : u.discovery_first_slot;
        g.occupants.resize(u.peers.size() - g.discovery_first_slot);
    }
}

std::vector<uint32_t> HealthBoard::place_discovered(size_t group, const std::vector<std::string> &addresses,
                                                    uint64_t now_ms) {
    GroupHealth &g = groups_[group];
    std::vector<uint32_t> numbers;
    for (size_t k = 0; k < addresses.size() && k < g.occupants.size(); ++k) {
        PeerHealth &h = g.peers[g.discovery_first_slot + k];
        if (addresses[k] != g.occupants[k]) {
            g.occupants[k] = addresses[k];
            bool occupied = !addresses[k].empty();
            h.admin.store(AdminState::ready, std::memory_order_relaxed);
            h.last_result.store(CheckResult::none, std::memory_order_relaxed);
            h.last_check_unix_ms.store(0, std::memory_order_relaxed);
            h.ramp_start_ms.store(occupied && g.placed_before && g.slow_start_ms != 0 ? now_ms : 0,
                                  std::memory_order_relaxed);
            h.check.replace_occupant(occupied && g.checked ? CheckState::pending : CheckState::unchecked);
        }
        numbers.push_back(h.check.occupant());
    }
    g.placed_before = true;
    return numbers;
}

void HealthBoard::inherit(const HealthBoard &previous, uint64_t now_ms) {
    for (GroupHealth &g : groups_) {
        const GroupHealth *before = nullptr;
        for (const auto &p : previous.groups_)
            if (p.name == g.name) before = &p;
        for (size_t i = 0; i < g.size(); ++i) {
            int j = before ? before->find_peer(g.addresses[i]) : -1;
            PeerHealth &now = g.peers[i];
            if (j < 0) {
                // A peer the group did not have: it ramps up like one that came back.
                if (before && g.slow_start_ms != 0)
                    now.ramp_start_ms.store(now_ms, std::memory_order_relaxed);
                continue;
            }
            // A discovered slot keeps its occupant's state only while the same address fills it:
            // place_discovered compares against the occupants inherited here.
            if (i >= g.discovery_first_slot) {
                size_t k = i - g.discovery_first_slot;
                size_t old_k = static_cast<size_t>(j) - before->discovery_first_slot;
                if (static_cast<size_t>(j) < before->discovery_first_slot ||
                    old_k >= before->occupants.size())
                    continue;
                g.occupants[k] = before->occupants[old_k];
                g.placed_before = g.placed_before || before->placed_before;
            }
            const PeerHealth &old = before->peers[static_cast<size_t>(j)];
            now.admin.store(old.admin.load(std::memory_order_relaxed), std::memory_order_relaxed);
            now.ramp_start_ms.store(old.ramp_start_ms.load(std::memory_order_relaxed),
                                    std::memory_order_relaxed);
            // A verdict is kept only while checks go on deciding it; a group whose checks were
            // removed starts unchecked, in rotation.
            if (!g.checked) continue;
            now.check.store(old.check.load(std::memory_order_relaxed), std::memory_order_relaxed);
            now.last_result.store(old.last_result.load(std::memory_order_relaxed), std::memory_order_relaxed);
            now.last_check_unix_ms.store(old.last_check_unix_ms.load(std::memory_order_relaxed),
                                         std::memory_order_relaxed);
        }
    }
}

GroupHealth *HealthBoard::find_group(std::string_view name) {
    for (auto &g : groups_)
        if (g.name == name) return &g;
    return nullptr;
}

const char *check_state_name(CheckState state) {
    static constexpr const char *kNames[] = {"unchecked", "up", "down", "pending"};
    return kNames[static_cast<size_t>(state)];
}

const char *admin_state_name(AdminState state) {
    static constexpr const char *kNames[] = {"ready", "drain", "maintenance"};
    return kNames[static_cast<size_t>(state)];
}

} // namespace proxyd
