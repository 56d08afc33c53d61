// Follows the DNS names of one upstream group: host names, whose every A and AAAA address becomes
// a peer on the port written, and SRV names, whose records of the best (lowest) priority become
// peers at their targets' addresses, weighted as the records say. Each round resolves every name;
// the next one comes when the shortest TTL seen runs out, within [min_interval, interval]. A name
// that fails keeps its last good answer, so a DNS outage never empties a group; the failure is
// logged once per streak, and its recovery once.
//
// Runs on one loop's thread (the main thread's); the owner hears each changed set through
// `changed`, never an unchanged one. Heap-allocated and closed with close(), which frees it once
// its timer and lookups have ended.
#pragma once

#include "config/discovery_source.hpp"
#include "discovery/dns_client.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <proxyd/plugin.h>
#include <string>
#include <vector>

namespace proxyd {

struct DiscoveredPeer {
    NetAddress address;
    uint32_t weight = 1;
    std::string source; // the name it came from, for /status
    std::string host;   // the name the address answered for (a SRV record's target), for TLS
    bool operator==(const DiscoveredPeer &other) const {
        return address == other.address && weight == other.weight && source == other.source;
    }
};

class UpstreamDiscovery {
  public:
    using Changed = std::function<void(const std::vector<DiscoveredPeer> &peers)>;
    using Log = std::function<void(proxyd_log_level level, const std::string &message)>;

    UpstreamDiscovery(uv_loop_t *loop, DnsClient &dns, std::string group,
                      std::vector<DiscoverySource> sources, DiscoveryTiming timing, Changed changed, Log log);
    // Called after every round, changed or not (the first round tells its owner it can serve).
    void set_round_listener(std::function<void()> listener) { round_listener_ = std::move(listener); }
    // Starts the first round at once.
    void start();
    void close();

    const std::string &group() const { return group_; }
    // The current set, sorted by address; empty until a name first resolves.
    const std::vector<DiscoveredPeer> &peers() const { return peers_; }
    uint64_t rounds() const { return rounds_; }

  private:
    struct SourceState {
        DiscoverySource source;
        std::vector<DiscoveredPeer> last_good;
        bool failing = false;
        // Within a round: what the service's targets answered so far.
        std::vector<DiscoveredPeer> collecting;
        size_t targets_pending = 0;
        bool any_target_ok = false;
    };

    ~UpstreamDiscovery() = default;
    void start_round();
    void resolve_host(size_t index);
    void resolve_service(size_t index);
    // A source's lookups are over: ok with peers (replacing its last good set), or failed with
    // why (keeping it).
    void source_done(size_t index, bool ok, std::vector<DiscoveredPeer> peers, const std::string &why);
    void round_done();
    void note_ttl(uint32_t ttl_seconds);
    void release_if_idle();

    uv_loop_t *loop_;
    DnsClient &dns_;
    std::string group_;
    std::vector<SourceState> sources_;
    DiscoveryTiming timing_;
    Changed changed_;
    Log log_;
    std::function<void()> round_listener_;
    uv_timer_t timer_{};
    std::vector<DiscoveredPeer> peers_;
    size_t sources_pending_ = 0;
    size_t lookups_in_flight_ = 0;
    uint64_t shortest_ttl_ms_ = 0; // within the round; 0: none seen
    bool round_failed_ = false;
    uint64_t rounds_ = 0;
    bool closing_ = false;
    bool timer_closed_ = false;
};

} // namespace proxyd
