#include "discovery/peer_slots.hpp"

#include <algorithm>
#include <arpa/inet.h>

namespace proxyd {

SlotPlacement place_in_slots(const SlotPlacement &previous, const std::vector<DiscoveredPeer> &next,
                             size_t &left_out) {
    SlotPlacement placed(previous.size());
    std::vector<bool> taken(next.size(), false);
    // Survivors first, in the slots they held (with their new weight).
    for (size_t slot = 0; slot < previous.size(); ++slot) {
        if (!previous[slot]) continue;
        for (size_t i = 0; i < next.size(); ++i)
            if (!taken[i] && next[i].address == previous[slot]->address) {
                placed[slot] = next[i];
                taken[i] = true;
                break;
            }
    }
    // Newcomers in the lowest vacant slots, in the order DNS answered (sorted by address).
    size_t slot = 0;
    left_out = 0;
    for (size_t i = 0; i < next.size(); ++i) {
        if (taken[i]) continue;
        while (slot < placed.size() && placed[slot])
            ++slot;
        if (slot == placed.size()) {
            ++left_out;
            continue;
        }
        placed[slot] = next[i];
    }
    return placed;
}

PeerConfig discovered_peer_config(const UpstreamConfig &group, const DiscoveredPeer &peer, bool tls) {
    PeerConfig config;
    config.discovered = true;
    config.address = peer.address;
    config.weight = std::max<uint32_t>(peer.weight, 1);
    std::string address = peer.address.to_string();
    config.authority = peer.host + address.substr(address.rfind(':'));
    config.address_text = tls ? "https://" + address : address;
    config.tls = tls;
    config.tls_name = group.discovery_tls_name.empty() ? peer.host : group.discovery_tls_name;
    unsigned char buf[sizeof(in6_addr)];
    config.tls_name_is_ip = inet_pton(AF_INET, config.tls_name.c_str(), buf) == 1 ||
                            inet_pton(AF_INET6, config.tls_name.c_str(), buf) == 1;
    return config;
}

} // namespace proxyd
