// The hash balancer's instance (the `hash` plugin, and the placement of clients without a cookie
// in the `sticky` one): consistent hashing on a key of the request, with bounded loads as an
// option. The ring is built once per upstream group from its peer list (ABI 1.1 config_peer_at),
// shared read-only by the workers; each worker keeps its own counts of requests in flight (pick
// adds, attempt_done takes off) for bounded loads and its own fallback rotation, so picks take no
// lock.
#ifndef PROXYD_PLUGINS_HASH_BALANCER_HPP
#define PROXYD_PLUGINS_HASH_BALANCER_HPP

#include "hash_key.hpp"
#include "hash_picker.hpp"
#include "hash_ring.hpp"

#include <memory>
#include <optional>
#include <proxyd/plugin.hpp>
#include <span>

namespace proxyd::hash {

class HashBalancer {
  public:
    struct Worker {
        explicit Worker(const HashBalancer &balancer)
            : picker(balancer.bounded_load_, balancer.ring_ ? balancer.ring_->peer_count() : 0) {}
        HashPicker picker;
        // Built from the first pick's peers when the core did not tell the peers at load (ABI 1.0).
        std::unique_ptr<HashRing> own_ring;
    };

    // The keys configure() reads, for the plugin's check_keys.
    static constexpr std::string_view kKeys[] = {"key", "fallback", "bounded_load"};

    // Reads key, fallback and bounded_load, reporting errors through config, and builds the ring
    // from the group's peers. Without a key the requests are hashed on default_key; nullopt: not
    // hashed, the fallback places them.
    void configure(sdk::Config &config, std::optional<KeySpec> default_key = KeySpec{});

    int pick(Worker *worker, std::span<const proxyd_peer> peers, const bool *tried,
             const sdk::Request &request) const;
    void attempt_done(Worker *worker, size_t peer, const proxyd_attempt &) const {
        worker->picker.done(peer);
    }

  private:
    enum class Fallback { RoundRobin, ClientAddress };

    std::optional<uint64_t> key_hash(const sdk::Request &request) const;

    std::optional<KeySpec> key_; // nullopt: none, the fallback places every request
    Fallback fallback_ = Fallback::RoundRobin;
    double bounded_load_ = 0;
    std::unique_ptr<HashRing> ring_;
};

} // namespace proxyd::hash

#endif
