#include "net/net_address.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netdb.h>

namespace proxyd {

int NetAddress::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in *>(&storage)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_port);
    return 0;
}

std::string NetAddress::to_string() const {
    char host[INET6_ADDRSTRLEN] = "?";
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in *>(&storage)->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(port());
    }
    if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(port());
    }
    return "?";
}

bool NetAddress::operator==(const NetAddress &other) const {
    return length == other.length && std::memcmp(&storage, &other.storage, length) == 0;
}

bool is_bare_port(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

bool parse_net_address(std::string_view text, NetAddress &out, std::string &error) {
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            error = "expected \"[ipv6]:port\"";
            return false;
        }
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            // A bare port (nginx's `listen 8080;` habit) lacks the host, not the port.
            error = is_bare_port(text) ? "expected \"host:port\" (the host is missing)"
                                       : "expected \"host:port\" (the port is missing)";
            return false;
        }
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            error = "an IPv6 address must be written in brackets: \"[::1]:port\"";
            return false;
        }
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        error = "the port must be a number from 1 to 65535";
        return false;
    }
    if (host.empty()) {
        error = "the host is missing (use \"*\" or \"0.0.0.0\" for every address)";
        return false;
    }

    out = NetAddress{};
    if (host == "*") {
        auto *sin = reinterpret_cast<sockaddr_in *>(&out.storage);
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(static_cast<uint16_t>(port));
        out.length = sizeof(sockaddr_in);
        return true;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo *result = nullptr;
    std::string host_z(host);
    std::string port_z = std::to_string(port);
    int rc = getaddrinfo(host_z.c_str(), port_z.c_str(), &hints, &result);
    if (rc != 0 || !result) {
        error = "cannot resolve host \"" + host_z + "\": " + gai_strerror(rc);
        return false;
    }
    std::memcpy(&out.storage, result->ai_addr, result->ai_addrlen);
    out.length = result->ai_addrlen;
    freeaddrinfo(result);
    return true;
}

bool NetAddress::is_loopback() const {
    if (family() == AF_INET) {
        uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in *>(&storage)->sin_addr.s_addr);
        return (ip >> 24) == 127;
    }
    if (family() == AF_INET6) {
        const in6_addr &ip = reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&ip)) return true;
        return IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127;
    }
    return false;
}

std::string authority_host(std::string_view authority) {
    if (authority.starts_with("[")) return std::string(authority.substr(1, authority.find(']') - 1));
    return std::string(authority.substr(0, authority.rfind(':')));
}

bool is_ip_literal(const std::string &host) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

} // namespace proxyd
