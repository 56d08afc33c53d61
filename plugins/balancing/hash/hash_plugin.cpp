// balancing/hash: consistent hashing on a key of the request (client address, a header, a cookie,
// the path or the URI), with bounded loads as an option. The ring is built once per upstream group
// from its peer list (ABI 1.1 config_peer_at), shared read-only by the workers; each worker keeps
// its own counts of requests in flight (pick adds, attempt_done takes off) for bounded loads and its
// own fallback rotation, so picks take no lock.
//
//   [upstreams.app]
//   peers = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 2 }]
//   balancer = { plugin = "hash", key = "cookie:session", fallback = "round_robin", bounded_load = 1.25 }
#include "hash_key.hpp"
#include "hash_picker.hpp"
#include "hash_ring.hpp"

#include <memory>
#include <optional>
#include <proxyd/plugin.hpp>
#include <vector>

namespace proxyd::hash {
namespace {

enum class Fallback { RoundRobin, ClientAddress };

std::vector<RingPeer> ring_peers(std::span<const proxyd_peer> peers) {
    std::vector<RingPeer> out;
    for (const proxyd_peer &p : peers)
        out.push_back(RingPeer{sdk::view(p.address), p.weight});
    return out;
}

class HashBalancer {
  public:
    struct Worker {
        explicit Worker(const HashBalancer &balancer)
            : picker(balancer.bounded_load_, balancer.ring_ ? balancer.ring_->peer_count() : 0) {}
        HashPicker picker;
        // Built from the first pick's peers when the core did not tell the peers at load (ABI 1.0).
        std::unique_ptr<HashRing> own_ring;
    };

    static std::unique_ptr<HashBalancer> create(sdk::Config &config) {
        config.check_keys({"key", "fallback", "bounded_load"});
        auto self = std::make_unique<HashBalancer>();
        if (auto key = config.string("key")) {
            std::string error;
            if (auto spec = parse_key_spec(*key, error))
                self->key_ = std::move(*spec);
            else
                config.child("key").error(error);
        }
        if (auto fallback = config.string("fallback")) {
            if (*fallback == "round_robin")
                self->fallback_ = Fallback::RoundRobin;
            else if (*fallback == "client_address")
                self->fallback_ = Fallback::ClientAddress;
            else
                config.child("fallback")
                    .error("fallback must be \"round_robin\" or \"client_address\", not '" +
                           std::string(*fallback) + "'");
        }
        if (auto c = config.number("bounded_load")) {
            // Below 1 the caps would sum to less than the load and refuse every peer.
            if (*c >= 1.0 && *c <= 1000.0)
                self->bounded_load_ = *c;
            else
                config.child("bounded_load")
                    .error("bounded_load must be a number from 1.0 to 1000 (1.25 is usual)");
        }
        std::vector<RingPeer> peers;
        for (const sdk::Peer &p : config.peers())
            peers.push_back(RingPeer{p.address, p.weight});
        if (!peers.empty()) self->ring_ = std::make_unique<HashRing>(peers);
        return self;
    }

    int pick(Worker *worker, std::span<const proxyd_peer> peers, const bool *tried,
             const sdk::Request &request) const {
        const HashRing *ring = ring_.get();
        if (!ring || ring->peer_count() != peers.size()) {
            if (!worker->own_ring || worker->own_ring->peer_count() != peers.size())
                worker->own_ring = std::make_unique<HashRing>(ring_peers(peers));
            ring = worker->own_ring.get();
        }
        return worker->picker.pick(*ring, peers, tried, key_hash(request));
    }

    void attempt_done(Worker *worker, size_t peer, const proxyd_attempt &) const {
        worker->picker.done(peer);
    }

  private:
    std::optional<uint64_t> key_hash(const sdk::Request &request) const {
        std::optional<std::string_view> key = request_key(key_, request);
        if (!key && fallback_ == Fallback::ClientAddress)
            key = request_key(KeySpec{KeySource::ClientAddress, {}}, request);
        if (!key) return std::nullopt;
        return hash_bytes(*key);
    }

    KeySpec key_;
    Fallback fallback_ = Fallback::RoundRobin;
    double bounded_load_ = 0;
    std::unique_ptr<HashRing> ring_;
};

} // namespace
} // namespace proxyd::hash

PROXYD_BALANCING_PLUGIN(proxyd::hash::HashBalancer, "hash", "0.1.0")
