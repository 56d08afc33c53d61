// A resolved socket address as written in the config ("127.0.0.1:8080", "[::1]:8080",
// "localhost:8080", "*:8080").
#pragma once

#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace proxyd {

struct NetAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    const sockaddr *sockaddr_ptr() const { return reinterpret_cast<const sockaddr *>(&storage); }
    int family() const { return storage.ss_family; }
    int port() const;
    // "127.0.0.1:8080" / "[::1]:8080"
    std::string to_string() const;
    bool operator==(const NetAddress &other) const;
    // 127.0.0.0/8 or ::1 (and ::ffff:127.x): reachable from this host only.
    bool is_loopback() const;
};

// Parses host:port; the host may be a name (resolved now, first IPv4/IPv6 answer) or '*' (any).
// On failure returns false and sets error to a sentence without the input echoed back.
bool parse_net_address(std::string_view text, NetAddress &out, std::string &error);
// Digits alone: a port written where an address belongs (nginx's `listen 8080;`).
bool is_bare_port(std::string_view text);

// The host of "host:port" or "[v6]:port", without brackets.
std::string authority_host(std::string_view authority);

// An IPv4 or IPv6 address as text, not a name.
bool is_ip_literal(const std::string &host);

} // namespace proxyd
