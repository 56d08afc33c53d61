// balancing/hash: consistent hashing on a key of the request (client address, a header, a cookie,
// the path or the URI), with bounded loads as an option (hash_balancer.hpp).
//
//   [upstreams.app]
//   peers = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 2 }]
//   balancer = { plugin = "hash", key = "cookie:session", fallback = "round_robin", bounded_load = 1.25 }
#include "hash_balancer.hpp"

#include <memory>
#include <proxyd/plugin.hpp>

namespace proxyd::hash {
namespace {

class HashPlugin : public HashBalancer {
  public:
    static std::unique_ptr<HashPlugin> create(sdk::Config &config) {
        config.check_keys({kKeys[0], kKeys[1], kKeys[2]});
        auto self = std::make_unique<HashPlugin>();
        self->configure(config);
        return self;
    }
};

} // namespace
} // namespace proxyd::hash

PROXYD_BALANCING_PLUGIN(proxyd::hash::HashPlugin, "hash", "0.1.0")
