#include "least_conn.hpp"

#include <algorithm>

namespace proxyd::least_conn {

int LeastConn::choose(std::span<const proxyd_peer> peers, const bool *tried, bool include_down,
                      const uint32_t *loads) const {
    const size_t n = peers.size();
    int best = -1;
    uint64_t best_load = 0, best_weight = 1;
    // Scanning from next_ and keeping the first of the lowest makes equals take turns.
    for (size_t k = 0; k < n; ++k) {
        size_t i = (next_ + k) % n;
        if ((tried && tried[i]) || (peers[i].down && !include_down)) continue;
        // The ABI promises weight >= 1; a 0 would make a busy peer look idle.
        const uint64_t weight = std::max<uint32_t>(peers[i].weight, 1);
        const uint64_t load = loads ? loads[i] : in_flight_[i];
        // load / weight < best_load / best_weight, without division.
        if (best < 0 || load * best_weight < best_load * weight) {
            best = static_cast<int>(i);
            best_load = load;
            best_weight = weight;
        }
    }
    return best;
}

int LeastConn::pick(std::span<const proxyd_peer> peers, const bool *tried, const uint32_t *loads) {
    if (peers.empty()) return -1;
    // Sized on first use when the worker was created without knowing the peers (a 1.0 core).
    if (in_flight_.size() != peers.size()) in_flight_.resize(peers.size(), 0);
    int chosen = choose(peers, tried, false, loads);
    if (chosen < 0) chosen = choose(peers, tried, true, loads);
    if (chosen < 0) return -1;
    ++in_flight_[static_cast<size_t>(chosen)];
    next_ = (static_cast<size_t>(chosen) + 1) % peers.size();
    return chosen;
}

void LeastConn::done(size_t peer) {
    // Never below zero: an end without its pick would be the core's bug, not a reason to wrap.
    if (peer < in_flight_.size() && in_flight_[peer] > 0) --in_flight_[peer];
}

std::string LeastConn::in_flight_text() const {
    std::string out = "[";
    for (size_t i = 0; i < in_flight_.size(); ++i)
        out.append(i ? "," : "").append(std::to_string(in_flight_[i]));
    return out.append("]");
}

} // namespace proxyd::least_conn
