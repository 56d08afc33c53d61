#include "discovery/dns_client.hpp"

#include <algorithm>
#include <arpa/nameser.h>
#include <cstring>

namespace proxyd {

struct DnsClient::SocketWatch {
    uv_poll_t poll{};
    ares_socket_t fd = ARES_SOCKET_BAD;
    DnsClient *client = nullptr;
};

namespace {

struct AddressLookup {
    DnsClient::AddressesDone done;
    size_t *pending;
};

struct ServiceLookup {
    DnsClient::ServicesDone done;
    size_t *pending;
};

std::vector<DnsAddress> addresses_of(const ares_addrinfo *result) {
    std::vector<DnsAddress> out;
    for (const ares_addrinfo_node *node = result ? result->nodes : nullptr; node; node = node->ai_next) {
        if (node->ai_family != AF_INET && node->ai_family != AF_INET6) continue;
        if (node->ai_addrlen > sizeof(sockaddr_storage)) continue;
        DnsAddress a;
        std::memcpy(&a.address.storage, node->ai_addr, node->ai_addrlen);
        a.address.length = node->ai_addrlen;
        a.ttl = node->ai_ttl > 0 ? static_cast<uint32_t>(node->ai_ttl) : 0;
        out.push_back(a);
    }
    // IPv4 first, keeping the server's order within each family.
    std::stable_sort(out.begin(), out.end(), [](const DnsAddress &a, const DnsAddress &b) {
        return a.address.family() < b.address.family();
    });
    return out;
}

} // namespace

DnsClient::DnsClient(uv_loop_t *loop) : loop_(loop) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    open_handles_ = 1;
}

DnsClient::~DnsClient() = default;

DnsClient *DnsClient::create(uv_loop_t *loop, const DnsClientOptions &options, std::string &error) {
    auto *client = new DnsClient(loop);
    ares_options opts{};
    opts.sock_state_cb = &DnsClient::on_socket_state;
    opts.sock_state_cb_data = client;
    opts.timeout = static_cast<int>(std::max<int64_t>(options.timeout.count(), 1));
    opts.tries = static_cast<int>(std::max<uint32_t>(options.tries, 1));
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    int status = ares_init_options(&client->channel_, &opts, mask);
    if (status == ARES_SUCCESS && !options.servers.empty()) {
        std::string csv;
        for (const std::string &server : options.servers)
            csv.append(csv.empty() ? "" : ",").append(server);
        status = ares_set_servers_ports_csv(client->channel_, csv.c_str());
    }
    if (status != ARES_SUCCESS) {
        error = "DNS resolver: " + describe(status);
        client->close();
        return nullptr;
    }
    return client;
}

void DnsClient::close() {
    if (closing_) return;
    closing_ = true;
    // A done callback may close the client from inside c-ares: the channel is destroyed once
    // c-ares has returned (end_call).
    if (in_call_ == 0) destroy_channel();
}

void DnsClient::end_call() {
    if (--in_call_ == 0 && closing_ && channel_) destroy_channel();
}

void DnsClient::destroy_channel() {
    // Destroying the channel answers every lookup in flight (ARES_EDESTRUCTION) and reports each
    // of its sockets closed, which closes their watches.
    ares_channel channel = channel_;
    channel_ = nullptr;
    if (channel) ares_destroy(channel);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), [](uv_handle_t *h) {
        auto *self = static_cast<DnsClient *>(h->data);
        --self->open_handles_;
        self->release_if_closed();
    });
}

void DnsClient::release_if_closed() {
    if (closing_ && open_handles_ == 0) delete this;
}

void DnsClient::on_socket_state(void *data, ares_socket_t fd, int readable, int writable) {
    auto *self = static_cast<DnsClient *>(data);
    auto it = std::find_if(self->watches_.begin(), self->watches_.end(),
                           [fd](const SocketWatch *w) { return w->fd == fd; });
    if (!readable && !writable) {
        // c-ares is about to close fd: stop watching it first.
        if (it == self->watches_.end()) return;
        SocketWatch *watch = *it;
        self->watches_.erase(it);
        uv_poll_stop(&watch->poll);
        uv_close(reinterpret_cast<uv_handle_t *>(&watch->poll), [](uv_handle_t *h) {
            auto *w = static_cast<SocketWatch *>(h->data);
            DnsClient *client = w->client;
            delete w;
            --client->open_handles_;
            client->release_if_closed();
        });
        return;
    }
    SocketWatch *watch = nullptr;
    if (it != self->watches_.end()) {
        watch = *it;
    } else {
        watch = new SocketWatch;
        watch->fd = fd;
        watch->client = self;
        if (uv_poll_init_socket(self->loop_, &watch->poll, fd) != 0) {
            delete watch; // c-ares's own timeout ends the query
            return;
        }
        watch->poll.data = watch;
        ++self->open_handles_;
        self->watches_.push_back(watch);
    }
    int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
    uv_poll_start(&watch->poll, events, &DnsClient::on_socket_ready);
}

void DnsClient::on_socket_ready(uv_poll_t *poll, int status, int events) {
    auto *watch = static_cast<SocketWatch *>(poll->data);
    DnsClient *self = watch->client;
    // On a poll error let c-ares read and write: it sees the socket's error and retries elsewhere.
    bool readable = status < 0 || (events & UV_READABLE);
    bool writable = status < 0 || (events & UV_WRITABLE);
    ares_socket_t fd = watch->fd; // the watch may be closed inside ares_process_fd
    if (!self->channel_) return;
    ++self->in_call_;
    ares_process_fd(self->channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
    self->end_call();
    self->schedule_timeout();
}

void DnsClient::on_timer(uv_timer_t *timer) {
    auto *self = static_cast<DnsClient *>(timer->data);
    if (!self->channel_) return;
    ++self->in_call_;
    ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->end_call();
    self->schedule_timeout();
}

void DnsClient::schedule_timeout() {
    if (closing_ || !channel_) return;
    if (pending_ == 0) {
        uv_timer_stop(&timer_);
        return;
    }
    timeval tv{};
    timeval *next = ares_timeout(channel_, nullptr, &tv);
    uint64_t ms =
        next ? static_cast<uint64_t>(next->tv_sec) * 1000 + static_cast<uint64_t>(next->tv_usec) / 1000
             : 1000;
    uv_timer_start(&timer_, &DnsClient::on_timer, std::max<uint64_t>(ms, 1), 0);
}

void DnsClient::lookup_addresses(const std::string &host, AddressesDone done) {
    if (closing_) {
        done(ARES_EDESTRUCTION, {});
        return;
    }
    auto *lookup = new AddressLookup{std::move(done), &pending_};
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = ARES_AI_NOSORT;
    ++pending_;
    ++in_call_; // the answer may come at once (a name in /etc/hosts, a malformed name)
    ares_getaddrinfo(
        channel_, host.c_str(), nullptr, &hints,
        [](void *arg, int status, int, ares_addrinfo *result) {
            auto *l = static_cast<AddressLookup *>(arg);
            --*l->pending;
            std::vector<DnsAddress> addresses;
            if (status == ARES_SUCCESS) addresses = addresses_of(result);
            if (result) ares_freeaddrinfo(result);
            if (status == ARES_SUCCESS && addresses.empty()) status = ARES_ENODATA;
            l->done(status, std::move(addresses));
            delete l;
        },
        lookup);
    end_call();
    schedule_timeout();
}

void DnsClient::lookup_services(const std::string &name, ServicesDone done) {
    if (closing_) {
        done(ARES_EDESTRUCTION, {});
        return;
    }
    auto *lookup = new ServiceLookup{std::move(done), &pending_};
    ++pending_;
    ++in_call_;
    ares_query(
        channel_, name.c_str(), ns_c_in, ns_t_srv,
        [](void *arg, int status, int, unsigned char *answer, int length) {
            auto *l = static_cast<ServiceLookup *>(arg);
            --*l->pending;
            std::vector<DnsService> services;
            if (status == ARES_SUCCESS) {
                ares_srv_reply *replies = nullptr;
                status = ares_parse_srv_reply(answer, length, &replies);
                for (ares_srv_reply *r = replies; r; r = r->next) {
                    DnsService s;
                    s.target = r->host ? r->host : "";
                    while (!s.target.empty() && s.target.back() == '.')
                        s.target.pop_back();
                    s.port = r->port;
                    s.priority = r->priority;
                    s.weight = r->weight;
                    // RFC 2782: a target of "." means the service is not offered there.
                    if (!s.target.empty()) services.push_back(std::move(s));
                }
                if (replies) ares_free_data(replies);
                if (status == ARES_SUCCESS && services.empty()) status = ARES_ENODATA;
            }
            l->done(status, std::move(services));
            delete l;
        },
        lookup);
    end_call();
    schedule_timeout();
}

std::string DnsClient::describe(int status) { return ares_strerror(status); }

} // namespace proxyd
