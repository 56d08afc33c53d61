// The DNS discovery of one config generation: a DnsClient on the main thread's loop and an
// UpstreamDiscovery for every upstream group with `resolve` or `srv` peers. Each change of a group's
// set is placed into its slots (peer_slots.hpp) and published as a new SlotTable: `publish` hands it
// to the generation's workers (each applies it to its own pool on its own thread, so the request
// path takes no lock), and table() gives the latest to a pool being created and to the admin pages.
//
// Main thread, except table(). Closed (close()) before its generation goes; what it started frees
// itself once libuv has closed its handles.
#pragma once

#include "config/config.hpp"
#include "discovery/peer_slots.hpp"
#include "log/logger.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <uv.h>
#include <vector>

namespace proxyd {

class DiscoveryService {
  public:
    using Publish = std::function<void(size_t upstream, std::shared_ptr<const SlotTable> table)>;
    // Called when every group has had its first round (at once when there is nothing to resolve).
    using Ready = std::function<void()>;

    DiscoveryService(const Config &config, const Logger &logger);
    ~DiscoveryService();
    DiscoveryService(const DiscoveryService &) = delete;
    DiscoveryService &operator=(const DiscoveryService &) = delete;

    bool any() const { return !groups_.empty(); }
    // Takes over the sets the previous generation found for groups of the same name and sources
    // (a reload), so they serve at once while their names resolve again.
    void seed_from(const DiscoveryService &previous);
    // Starts resolving on loop. False, with error, when the resolver cannot be set up.
    bool start(uv_loop_t *loop, Publish publish, Ready ready, std::string &error);
    // Every group has a set to serve with: resolved once (or failed once), or seeded.
    bool ready() const;
    void close();

    // Any thread: the group's latest table, or null for a group without discovery.
    std::shared_ptr<const SlotTable> table(size_t upstream) const;

  private:
    struct Group {
        size_t upstream;
        SlotPlacement placement;
        std::shared_ptr<const SlotTable> table; // under mutex_
        UpstreamDiscovery *discovery = nullptr;
        bool seeded = false;
    };

    void changed(Group &group, const std::vector<DiscoveredPeer> &peers);
    void check_ready();

    const Config &config_;
    const Logger &logger_;
    std::vector<Group> groups_;
    DnsClient *dns_ = nullptr;
    Publish publish_;
    Ready ready_;
    bool ready_told_ = false;
    mutable std::mutex mutex_; // the tables, which workers and the admin thread read
};

} // namespace proxyd
