// balancing/round_robin: smooth weighted round-robin over the peers of an upstream group that are
// neither down nor already tried by the request. State is per worker, so picks take no lock; each
// worker is fair on its own, and so is their sum.
#include "smooth_wrr.hpp"

#include <memory>
#include <proxyd/plugin.hpp>

namespace proxyd::round_robin {
namespace {

class RoundRobinBalancer {
  public:
    struct Worker {
        explicit Worker(const RoundRobinBalancer &) {}
        SmoothWrr wrr;
    };

    static std::unique_ptr<RoundRobinBalancer> create(sdk::Config &config) {
        config.check_keys({});
        return std::make_unique<RoundRobinBalancer>();
    }

    int pick(Worker *worker, std::span<const proxyd_peer> peers, const bool *tried,
             const sdk::Request &) const {
        return worker->wrr.pick(peers, tried);
    }
};

} // namespace
} // namespace proxyd::round_robin

PROXYD_BALANCING_PLUGIN(proxyd::round_robin::RoundRobinBalancer, "round_robin", "0.1.0")
