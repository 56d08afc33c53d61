// Asynchronous DNS on a libuv loop, through c-ares: a host's A and AAAA records with their TTLs,
// and a service's SRV records. c-ares owns the queries and their sockets; this class watches the
// sockets it opens with uv_poll and drives its retransmission timer with a uv_timer, so a lookup
// never blocks the loop's thread. One client per loop; every callback runs on that loop's thread.
#pragma once

#include "net/net_address.hpp"

#include <ares.h>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <uv.h>
#include <vector>

namespace proxyd {

struct DnsClientOptions {
    // Name servers as "127.0.0.1:5353" or "[::1]:53"; empty: the system's (/etc/resolv.conf).
    std::vector<std::string> servers;
    std::chrono::milliseconds timeout{2000}; // per try
    uint32_t tries = 2;
};

struct DnsAddress {
    NetAddress address; // the port is 0
    uint32_t ttl = 0;   // seconds
};

struct DnsService {
    std::string target; // a host name, without the trailing dot
    uint16_t port = 0;
    uint16_t priority = 0;
    uint16_t weight = 0;
};

class DnsClient {
  public:
    // status 0 on success, else a c-ares status (ARES_ENOTFOUND, ARES_ETIMEOUT, ...);
    // DnsClient::describe() names it.
    using AddressesDone = std::function<void(int status, std::vector<DnsAddress> addresses)>;
    using ServicesDone = std::function<void(int status, std::vector<DnsService> services)>;

    // nullptr with error set when c-ares refuses the options (a malformed server address).
    static DnsClient *create(uv_loop_t *loop, const DnsClientOptions &options, std::string &error);
    // Ends every lookup in flight (their callbacks run with ARES_EDESTRUCTION) and frees the client
    // once libuv has closed its handles. May be called from a done callback. The pointer must not
    // be used after this returns.
    void close();

    // Both families; the answer lists IPv4 then IPv6 addresses as the server ordered them.
    void lookup_addresses(const std::string &host, AddressesDone done);
    void lookup_services(const std::string &name, ServicesDone done);
    // Lookups started and not answered yet.
    size_t pending() const { return pending_; }

    static std::string describe(int status);

  private:
    struct SocketWatch; // a uv_poll on one of c-ares's sockets

    explicit DnsClient(uv_loop_t *loop);
    ~DnsClient();

    static void on_socket_state(void *data, ares_socket_t fd, int readable, int writable);
    static void on_socket_ready(uv_poll_t *poll, int status, int events);
    static void on_timer(uv_timer_t *timer);
    // Re-arms the timer for c-ares's next retransmission or timeout.
    void schedule_timeout();
    // Leaves a call into c-ares; a close() asked for during it takes effect now.
    void end_call();
    void destroy_channel();
    // Frees the client when the timer and every socket watch have closed.
    void release_if_closed();

    uv_loop_t *loop_;
    ares_channel channel_ = nullptr;
    uv_timer_t timer_{};
    std::vector<SocketWatch *> watches_;
    size_t pending_ = 0;
    size_t open_handles_ = 0; // the timer and the watches libuv has not finished closing
    int in_call_ = 0;         // inside a call into c-ares, whose callbacks may call close()
    bool closing_ = false;
};

} // namespace proxyd
