#include "server/drain_order.hpp"

#include <cstring>

namespace proxyd {

namespace {

bool is_wildcard(const NetAddress &address) {
    if (address.family() == AF_INET)
        return reinterpret_cast<const sockaddr_in *>(&address.storage)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (address.family() == AF_INET6) {
        const in6_addr &ip = reinterpret_cast<const sockaddr_in6 *>(&address.storage)->sin6_addr;
        return std::memcmp(&ip, &in6addr_any, sizeof ip) == 0;
    }
    return false;
}

bool reaches(const NetAddress &peer, const NetAddress &listen) {
    if (peer == listen) return true;
    return peer.port() == listen.port() && peer.family() == listen.family() && is_wildcard(listen);
}

} // namespace

std::vector<bool> listeners_serving_own_upstreams(const Config &config) {
    std::vector<bool> out(config.listeners.size(), false);
    for (size_t i = 0; i < config.listeners.size(); ++i)
        for (const UpstreamConfig &upstream : config.upstreams)
            for (const PeerConfig &peer : upstream.peers)
                if (reaches(peer.address, config.listeners[i].address)) out[i] = true;
    return out;
}

} // namespace proxyd
