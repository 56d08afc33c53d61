// The choice of one worker: a key's owner on the ring, skipping the peers the request already tried
// and those marked down (so only their keys move, to the next peers on the ring), and, with bounded
// loads on, the peers whose requests in flight on this worker are over their share. Without a key,
// the fallback rotation walks the ring point by point, so each peer takes turns in proportion to its
// points, that is to its weight.
//
// Bounded loads are Mirrokni, Thorup and Zadimoghaddam's "consistent hashing with bounded loads"
// (2016), weighted: with m requests in flight on this worker and c = bounded_load, a peer of weight w
// out of a total W (of the peers not down) may hold fewer than ceil(c * (m + 1) * w / W) before the
// key walks on. A key moves only while its owner is busy, and comes back when the load falls.
#ifndef PROXYD_PLUGINS_HASH_PICKER_HPP
#define PROXYD_PLUGINS_HASH_PICKER_HPP

#include "hash_ring.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <proxyd/plugin.h>
#include <span>
#include <string>
#include <vector>

namespace proxyd::hash {

// Not thread-safe: each worker owns its own.
class HashPicker {
  public:
    // bounded_load: c >= 1, or 0 for none.
    explicit HashPicker(double bounded_load = 0, size_t peer_count = 0)
        : bounded_load_(bounded_load), in_flight_(peer_count, 0) {}

    // The peer for key_hash on ring (nullopt: no key, the fallback rotation), or -1 when every peer
    // was tried. peers are the pick() array: the same length and order as the ring's peers. Down
    // peers are offered only when every untried peer is down. Counts the pick in flight.
    int pick(const HashRing &ring, std::span<const proxyd_peer> peers, const bool *tried,
             std::optional<uint64_t> key_hash);
    // A pick made without the ring (a sticky cookie's peer), counted in flight as pick() counts.
    void count(size_t peer) {
        if (peer < in_flight_.size()) ++in_flight_[peer];
    }
    // The attempt on peer ended, however it ended.
    void done(size_t peer);

    const std::vector<uint32_t> &in_flight() const { return in_flight_; }

  private:
    int choose(const HashRing &ring, std::span<const proxyd_peer> peers, const bool *tried,
               uint64_t key_hash);

    double bounded_load_;
    std::vector<uint32_t> in_flight_;
    size_t rotation_ = 0; // the ring point the fallback starts from next
};

} // namespace proxyd::hash

#endif
