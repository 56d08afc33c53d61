#include "hash_picker.hpp"

#include <algorithm>
#include <cmath>

namespace proxyd::hash {

int HashPicker::choose(const HashRing &ring, std::span<const proxyd_peer> peers, const bool *tried,
                       uint64_t key_hash) {
    auto untried = [&](size_t i) { return !(tried && tried[i]); };
    auto up = [&](size_t i) { return untried(i) && !peers[i].down; };

    if (bounded_load_ > 0) {
        uint64_t in_flight = 0, weight_up = 0;
        for (size_t i = 0; i < peers.size(); ++i) {
            in_flight += in_flight_[i];
            if (!peers[i].down) weight_up += std::max<uint32_t>(peers[i].weight, 1);
        }
        if (weight_up > 0) {
            const double share =
                bounded_load_ * static_cast<double>(in_flight + 1) / static_cast<double>(weight_up);
            int chosen = ring.walk(key_hash, [&](size_t i) {
                const double capacity = std::ceil(share * std::max<uint32_t>(peers[i].weight, 1));
                return up(i) && static_cast<double>(in_flight_[i]) < capacity;
            });
            if (chosen >= 0) return chosen;
            // The peers this request tried held the room: the untried ones are all at their cap, so
            // the key's own successor takes it, as without bounds.
        }
    }
    int chosen = ring.walk(key_hash, up);
    return chosen >= 0 ? chosen : ring.walk(key_hash, untried);
}

int HashPicker::pick(const HashRing &ring, std::span<const proxyd_peer> peers, const bool *tried,
                     std::optional<uint64_t> key_hash) {
    if (peers.empty() || ring.peer_count() != peers.size()) return -1;
    if (in_flight_.size() != peers.size()) in_flight_.assign(peers.size(), 0);
    uint64_t start = 0;
    if (key_hash) {
        start = *key_hash;
    } else {
        start = ring.point_hash(rotation_);
        rotation_ = (rotation_ + 1) % ring.point_count();
    }
    int chosen = choose(ring, peers, tried, start);
    if (chosen >= 0) ++in_flight_[static_cast<size_t>(chosen)];
    return chosen;
}

void HashPicker::done(size_t peer) {
    // Never below zero: an end without its pick would be the core's bug, not a reason to wrap.
    if (peer < in_flight_.size() && in_flight_[peer] > 0) --in_flight_[peer];
}

} // namespace proxyd::hash
