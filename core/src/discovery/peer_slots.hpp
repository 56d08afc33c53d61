// Where discovered peers sit among an upstream group's peers. The balancer's peer array keeps
// one length and order for the life of its instance (plugin.h), so a group that follows DNS has a
// fixed number of slots after its fixed peers, and each answer is placed into them: a peer still
// present keeps its slot (its pooled connections, health and balancer state stay with it), a new
// one takes the first vacant slot, a peer gone leaves its slot vacant. Pure functions.
#pragma once

#include "config/config.hpp"
#include "discovery/upstream_discovery.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace proxyd {

using SlotPlacement = std::vector<std::optional<DiscoveredPeer>>;

// The next placement of `next` into previous.size() slots. Peers that find no vacant slot are
// counted in left_out (the group's max_peers is too small for what DNS answers).
SlotPlacement place_in_slots(const SlotPlacement &previous, const std::vector<DiscoveredPeer> &next,
                             size_t &left_out);

// What every worker's pool uses for a group's discovered slots: immutable, shared.
struct SlotTable {
    uint64_t version = 0;                                 // grows with each change of the group's set
    std::vector<std::shared_ptr<const PeerConfig>> peers; // per slot; null when vacant
    std::vector<std::string> sources;                     // per slot, the DNS name its peer came from
};

// A discovered peer as a peer of the group: its address, weight and TLS name.
PeerConfig discovered_peer_config(const UpstreamConfig &group, const DiscoveredPeer &peer, bool tls);

} // namespace proxyd
