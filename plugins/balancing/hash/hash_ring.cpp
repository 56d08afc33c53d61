#include "hash_ring.hpp"

#include <algorithm>
#include <string>

namespace proxyd::hash {

uint64_t mix64(uint64_t value) {
    // Xor-shift and multiply rounds with odd constants: every input bit reaches every output bit.
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdULL;
    value ^= value >> 33;
    value *= 0xc4ceb9fe1a85ec53ULL;
    value ^= value >> 33;
    return value;
}

uint64_t hash_bytes(std::string_view bytes) {
    uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a 64-bit offset basis
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ULL; // FNV-1a 64-bit prime
    }
    return mix64(h);
}

HashRing::HashRing(std::span<const RingPeer> peers, uint32_t points_per_weight) : peer_count_(peers.size()) {
    uint64_t total_weight = 0;
    for (const RingPeer &p : peers)
        total_weight += std::max<uint32_t>(p.weight, 1);
    uint64_t per_weight = std::max<uint32_t>(points_per_weight, 1);
    if (total_weight * per_weight > kMaxPoints) per_weight = std::max<uint64_t>(1, kMaxPoints / total_weight);

    struct Point {
        uint64_t hash;
        uint32_t peer;
    };
    std::vector<Point> points;
    points.reserve(static_cast<size_t>(total_weight * per_weight));
    for (size_t i = 0; i < peers.size(); ++i) {
        // A group that names one address twice gets two peers: the second's points are seeded by
        // "address#2", so they do not land on the first's.
        size_t occurrence = 1;
        for (size_t j = 0; j < i; ++j)
            occurrence += peers[j].address == peers[i].address;
        std::string seed(peers[i].address);
        if (occurrence > 1) seed += "#" + std::to_string(occurrence);
        const uint64_t base = hash_bytes(seed);
        const uint64_t count = std::max<uint32_t>(peers[i].weight, 1) * per_weight;
        for (uint64_t r = 0; r < count; ++r)
            points.push_back(Point{mix64(base + r * 0x9e3779b97f4a7c15ULL), static_cast<uint32_t>(i)});
    }
    // Two equal 64-bit point hashes are too rare to matter for the spread; ordering them by
    // peer index only keeps the ring deterministic.
    std::sort(points.begin(), points.end(), [](const Point &a, const Point &b) {
        return a.hash != b.hash ? a.hash < b.hash : a.peer < b.peer;
    });
    hashes_.reserve(points.size());
    peers_.reserve(points.size());
    for (const Point &p : points) {
        hashes_.push_back(p.hash);
        peers_.push_back(p.peer);
    }
}

size_t HashRing::first_at_or_after(uint64_t key_hash) const {
    size_t at =
        static_cast<size_t>(std::lower_bound(hashes_.begin(), hashes_.end(), key_hash) - hashes_.begin());
    return at == hashes_.size() ? 0 : at; // past the last point: around to the first
}

} // namespace proxyd::hash
