// What the workers of one generation share about an upstream group: connections in use per peer
// and the queue length (max_connections, queue_size), the retry budget and the outlier ejections.
// Built by the generation from its config, one per group, and outliving its workers; every member
// is lock-free, read and written from any worker thread, except follow_discovery.
#pragma once

#include "config/config.hpp"
#include "discovery/peer_slots.hpp"
#include "upstream/connection_limits.hpp"
#include "upstream/outlier_detector.hpp"
#include "upstream/retry_budget.hpp"

#include <memory>
#include <vector>

namespace proxyd {

struct UpstreamShared {
    explicit UpstreamShared(const UpstreamConfig &config)
        : limits(config.policies.max_connections, config.policies.queue_size, config.peers.size()),
          budget(config.policies.retry_budget), outliers(config.policies.outlier, config.peers.size()),
          first_slot_(config.discovery_first_slot),
          occupants_(config.discovery.empty() ? 0 : config.peers.size() - config.discovery_first_slot) {
        // Discovered slots are vacant until DNS fills them.
        for (size_t k = 0; k < occupants_.size(); ++k)
            outliers.renew(first_slot_ + k, false);
    }

    // The thread that publishes discovery (the main thread), before the workers get the table: a
    // slot that another peer fills, or that falls vacant, starts again (connections in use, counts
    // and ejections); a peer that stays keeps all of it.
    void follow_discovery(const SlotTable &table) {
        for (size_t k = 0; k < occupants_.size() && k < table.peers.size(); ++k) {
            const std::shared_ptr<const PeerConfig> &next = table.peers[k];
            std::shared_ptr<const PeerConfig> &now = occupants_[k];
            bool same_peer =
                next == now || (next && now && next->address == now->address && next->tls == now->tls);
            now = next;
            if (same_peer) continue;
            limits.renew(first_slot_ + k);
            outliers.renew(first_slot_ + k, next != nullptr);
        }
    }

    ConnectionLimits limits;
    RetryBudget budget;
    OutlierDetector outliers;

  private:
    size_t first_slot_;
    std::vector<std::shared_ptr<const PeerConfig>> occupants_; // follow_discovery's thread only
};

} // namespace proxyd
