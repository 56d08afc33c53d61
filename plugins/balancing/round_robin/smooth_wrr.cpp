#include "smooth_wrr.hpp"

#include <algorithm>

namespace proxyd::round_robin {

int SmoothWrr::pick(std::span<const proxyd_peer> peers, const bool *tried) {
    // Sized on first use because the worker is created before any peer list is seen.
    if (current_.size() != peers.size()) current_.assign(peers.size(), 0);

    int64_t total = 0;
    int best = -1;
    for (size_t i = 0; i < peers.size(); ++i) {
        if (peers[i].down || (tried && tried[i])) continue;
        // The ABI promises weight >= 1; a 0 would let an idle peer win every tie at 0.
        const int64_t weight = std::max<uint32_t>(peers[i].weight, 1);
        current_[i] += weight;
        total += weight;
        if (best < 0 || current_[i] > current_[static_cast<size_t>(best)]) best = static_cast<int>(i);
    }
    if (best >= 0) current_[static_cast<size_t>(best)] -= total;
    return best;
}

} // namespace proxyd::round_robin
