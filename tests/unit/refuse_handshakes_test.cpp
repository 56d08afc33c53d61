// The filter a stopping listener attaches: new handshakes wait outside, the queue and the
// connections accepted from it carry on.
#include "net/refuse_handshakes.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
};

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

sockaddr *as_sockaddr(sockaddr_in &a) { return reinterpret_cast<sockaddr *>(&a); }

uint16_t listen_on_loopback(int fd) {
    sockaddr_in a = loopback(0);
    REQUIRE(::bind(fd, as_sockaddr(a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t length = sizeof a;
    REQUIRE(::getsockname(fd, as_sockaddr(a), &length) == 0);
    return ntohs(a.sin_port);
}

// Starts a non-blocking connect; true when it completed within timeout_ms.
bool connects_within(int fd, uint16_t port, int timeout_ms) {
    sockaddr_in a = loopback(port);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    if (::connect(fd, as_sockaddr(a), sizeof a) == 0) return true;
    if (errno != EINPROGRESS) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error == 0;
}

bool has_queued(int listener) {
    pollfd p{listener, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

} // namespace

TEST_CASE("a listener refusing new handshakes keeps its queue and drops new SYNs", "[refuse_handshakes]") {
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    uint16_t port = listen_on_loopback(listener.fd);
    Fd queued(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(connects_within(queued.fd, port, 1000));

    std::string error;
    REQUIRE(proxyd::refuse_new_handshakes(listener.fd, error));
    Fd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_FALSE(connects_within(late.fd, port, 200));

    Fd accepted(::accept(listener.fd, nullptr, nullptr));
    REQUIRE(accepted.fd >= 0);
    CHECK_FALSE(has_queued(listener.fd));
    CHECK(::write(queued.fd, "x", 1) == 1);
    char byte = 0;
    CHECK(::read(accepted.fd, &byte, 1) == 1);
    CHECK(byte == 'x');
}

TEST_CASE("a connection carrying the filter receives large segments whole", "[refuse_handshakes]") {
    // Accepted connections inherit the listener's filter: it must keep every byte of theirs.
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    uint16_t port = listen_on_loopback(listener.fd);
    Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(connects_within(client.fd, port, 1000));
    Fd server(::accept(listener.fd, nullptr, nullptr));
    REQUIRE(server.fd >= 0);
    std::string error;
    REQUIRE(proxyd::refuse_new_handshakes(server.fd, error));

    std::vector<char> sent(1 << 20);
    for (size_t i = 0; i < sent.size(); ++i)
        sent[i] = static_cast<char>(i * 7);
    std::vector<char> got;
    size_t written = 0;
    ::fcntl(client.fd, F_SETFL, 0);
    char buffer[65536];
    while (got.size() < sent.size()) {
        if (written < sent.size()) {
            ssize_t n = ::send(client.fd, sent.data() + written, sent.size() - written, MSG_DONTWAIT);
            if (n > 0) written += static_cast<size_t>(n);
        }
        pollfd p{server.fd, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 1000) == 1);
        ssize_t n = ::read(server.fd, buffer, sizeof buffer);
        REQUIRE(n > 0);
        got.insert(got.end(), buffer, buffer + n);
    }
    CHECK(got == sent);
}
