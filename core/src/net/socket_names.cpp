#include "net/socket_names.hpp"

#include <netinet/in.h>

namespace proxyd {
namespace {

std::string address_ip(const sockaddr_storage &ss) {
    char buf[INET6_ADDRSTRLEN] = "-";
    if (ss.ss_family == AF_INET)
        uv_ip4_name(reinterpret_cast<const sockaddr_in *>(&ss), buf, sizeof buf);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name(reinterpret_cast<const sockaddr_in6 *>(&ss), buf, sizeof buf);
    return buf;
}

} // namespace

std::string peer_ip(const uv_tcp_t *tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return "-";
    return address_ip(ss);
}

std::string local_url_host(const uv_tcp_t *tcp) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return "localhost";
    std::string ip = address_ip(ss);
    return ss.ss_family == AF_INET6 ? "[" + ip + "]" : ip;
}

} // namespace proxyd
