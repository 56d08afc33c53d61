// A balancer written only to exercise plugin.hpp's helper (tests/plugins/sdk_helper_test.cpp): the
// peers at create time and attempt_done. Least requests in flight per worker, lowest index on a tie.
#include <proxyd/plugin.hpp>

#include <memory>
#include <string>
#include <vector>

namespace {

using proxyd::sdk::Config;
using proxyd::sdk::Request;

class Probe {
  public:
    struct Worker {
        explicit Worker(const Probe &probe) : inflight(probe.addresses_.size(), 0) {}
        std::vector<int> inflight;
    };

    static std::unique_ptr<Probe> create(Config &config) {
        config.check_keys({});
        std::vector<std::string> addresses;
        for (const proxyd::sdk::Peer &peer : config.peers())
            addresses.push_back(std::string(peer.address) + "*" + std::to_string(peer.weight));
        if (addresses.empty()) config.error("no peers");
        if (config.failed()) return nullptr;
        return std::make_unique<Probe>(std::move(addresses));
    }
    explicit Probe(std::vector<std::string> addresses) : addresses_(std::move(addresses)) {}

    int pick(Worker *worker, std::span<const proxyd_peer> peers, const bool *tried, const Request &) const {
        if (peers.size() != addresses_.size()) return -1; // not the peers create() was told
        int best = -1;
        for (size_t i = 0; i < peers.size(); ++i)
            if (!tried[i] && !peers[i].down && (best < 0 || worker->inflight[i] < worker->inflight[size_t(best)]))
                best = static_cast<int>(i);
        if (best >= 0) ++worker->inflight[static_cast<size_t>(best)];
        return best;
    }
    void attempt_done(Worker *worker, size_t peer, const proxyd_attempt &) const { --worker->inflight[peer]; }

  private:
    std::vector<std::string> addresses_;
};

} // namespace

PROXYD_BALANCING_PLUGIN(Probe, "sdk_probe_balancer", "1.1.0")
