#include "net/listen_socket.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace proxyd {
namespace {

std::string bind_error(const std::string &text, int port, int err) {
    std::string message = "listen on " + text + ": " + std::strerror(err);
    if (err == EADDRINUSE) {
        message += " (another process listens there";
        if (port >= 32768 && port <= 60999)
            message += "; the port also lies in Linux's ephemeral range 32768-60999, so an outgoing "
                       "connection may hold it: reserve it with sysctl -w net.ipv4.ip_local_reserved_ports=" +
                       std::to_string(port);
        message += ")";
    } else if (err == EACCES) {
        message += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    } else if (err == EADDRNOTAVAIL) {
        message += " (no interface of this machine has that address)";
    }
    return message;
}

} // namespace

bool check_address_free(const NetAddress &address, const std::string &text, std::string &error) {
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = "listen on " + text + ": socket: " + std::strerror(errno);
        return false;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = ::bind(fd, address.sockaddr_ptr(), address.length) == 0;
    if (!ok) error = bind_error(text, address.port(), errno);
    ::close(fd);
    return ok;
}

int open_listen_socket(const NetAddress &address, const std::string &text, std::string &error) {
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error = "listen on " + text + ": socket: " + std::strerror(errno);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (address.family() == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, address.sockaddr_ptr(), address.length) != 0) {
        error = bind_error(text, address.port(), errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace proxyd
