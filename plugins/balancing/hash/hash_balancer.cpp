#include "hash_balancer.hpp"

#include <vector>

namespace proxyd::hash {

void HashBalancer::configure(sdk::Config &config, std::optional<KeySpec> default_key) {
    key_ = std::move(default_key);
    if (auto key = config.string("key")) {
        std::string error;
        if (auto spec = parse_key_spec(*key, error))
            key_ = std::move(*spec);
        else
            config.child("key").error(error);
    }
    if (auto fallback = config.string("fallback")) {
        if (*fallback == "round_robin")
            fallback_ = Fallback::RoundRobin;
        else if (*fallback == "client_address")
            fallback_ = Fallback::ClientAddress;
        else
            config.child("fallback")
                .error("fallback must be \"round_robin\" or \"client_address\", not '" +
                       std::string(*fallback) + "'");
    }
    if (auto c = config.number("bounded_load")) {
        // Below 1 the caps would sum to less than the load and refuse every peer.
        if (*c >= 1.0 && *c <= 1000.0)
            bounded_load_ = *c;
        else
            config.child("bounded_load")
                .error("bounded_load must be a number from 1.0 to 1000 (1.25 is usual)");
    }
    std::vector<RingPeer> peers;
    for (const sdk::Peer &p : config.peers())
        peers.push_back(RingPeer{p.address, p.weight});
    if (!peers.empty()) ring_ = std::make_unique<HashRing>(peers);
}

int HashBalancer::pick(Worker *worker, std::span<const proxyd_peer> peers, const bool *tried,
                       const sdk::Request &request) const {
    const HashRing *ring = ring_.get();
    if (!ring || ring->peer_count() != peers.size()) {
        if (!worker->own_ring || worker->own_ring->peer_count() != peers.size()) {
            std::vector<RingPeer> ring_peers;
            for (const proxyd_peer &p : peers)
                ring_peers.push_back(RingPeer{sdk::view(p.address), p.weight});
            worker->own_ring = std::make_unique<HashRing>(ring_peers);
        }
        ring = worker->own_ring.get();
    }
    return worker->picker.pick(*ring, peers, tried, key_hash(request));
}

std::optional<uint64_t> HashBalancer::key_hash(const sdk::Request &request) const {
    std::optional<std::string_view> key = key_ ? request_key(*key_, request) : std::nullopt;
    if (!key && fallback_ == Fallback::ClientAddress)
        key = request_key(KeySpec{KeySource::ClientAddress, {}}, request);
    if (!key) return std::nullopt;
    return hash_bytes(*key);
}

} // namespace proxyd::hash
