// What an upstream group asks DNS for (its peers entries `resolve` and `srv`), and how often: plain
// values the config loader fills and the discovery follows.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace proxyd {

struct DiscoverySource {
    enum class Kind : uint8_t { kHost, kService };
    Kind kind = Kind::kHost;
    std::string name;    // "web.internal" or "_http._tcp.web.service"
    uint16_t port = 0;   // kHost: the port every address gets
    uint32_t weight = 1; // kHost: the weight every address gets (kService: the records')
    bool tls = false;    // the peers speak TLS (an https:// entry, or the group has a tls table)
};

struct DiscoveryTiming {
    std::chrono::milliseconds interval{30000};    // the longest between two rounds
    std::chrono::milliseconds min_interval{1000}; // the shortest, whatever the TTLs say
};

} // namespace proxyd
