#include "discovery/upstream_discovery.hpp"

#include <algorithm>
#include <map>

namespace proxyd {

namespace {

void set_port(NetAddress &address, uint16_t port) {
    if (address.family() == AF_INET)
        reinterpret_cast<sockaddr_in *>(&address.storage)->sin_port = htons(port);
    else if (address.family() == AF_INET6)
        reinterpret_cast<sockaddr_in6 *>(&address.storage)->sin6_port = htons(port);
}

std::string list_of(const std::vector<DiscoveredPeer> &peers) {
    std::string out;
    for (const DiscoveredPeer &p : peers)
        out.append(out.empty() ? "" : " ").append(p.address.to_string());
    return out.empty() ? "none" : out;
}

} // namespace

UpstreamDiscovery::UpstreamDiscovery(uv_loop_t *loop, DnsClient &dns, std::string group,
                                     std::vector<DiscoverySource> sources, DiscoveryTiming timing,
                                     Changed changed, Log log)
    : loop_(loop), dns_(dns), group_(std::move(group)), timing_(timing), changed_(std::move(changed)),
      log_(std::move(log)) {
    for (DiscoverySource &s : sources)
        sources_.push_back(SourceState{std::move(s), {}, false, {}, 0, false});
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

void UpstreamDiscovery::start() { start_round(); }

void UpstreamDiscovery::close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), [](uv_handle_t *h) {
        auto *self = static_cast<UpstreamDiscovery *>(h->data);
        self->timer_closed_ = true;
        self->release_if_idle();
    });
}

void UpstreamDiscovery::release_if_idle() {
    // Lookups still in flight call back into this object: it waits for them (closing the DNS
    // client ends them at once).
    if (closing_ && timer_closed_ && lookups_in_flight_ == 0) delete this;
}

void UpstreamDiscovery::start_round() {
    if (closing_) return;
    sources_pending_ = sources_.size();
    shortest_ttl_ms_ = 0;
    round_failed_ = false;
    // Copy the count first: a lookup answered at once may finish the round inside the loop.
    size_t count = sources_.size();
    for (size_t i = 0; i < count && !closing_; ++i) {
        if (sources_[i].source.kind == DiscoverySource::Kind::kHost)
            resolve_host(i);
        else
            resolve_service(i);
    }
}

void UpstreamDiscovery::note_ttl(uint32_t ttl_seconds) {
    uint64_t ms = uint64_t{ttl_seconds} * 1000;
    if (shortest_ttl_ms_ == 0 || ms < shortest_ttl_ms_) shortest_ttl_ms_ = ms;
}

void UpstreamDiscovery::resolve_host(size_t index) {
    ++lookups_in_flight_;
    const DiscoverySource &source = sources_[index].source;
    dns_.lookup_addresses(source.name, [this, index](int status, std::vector<DnsAddress> addresses) {
        --lookups_in_flight_;
        if (closing_) return release_if_idle();
        const DiscoverySource &s = sources_[index].source;
        if (status != 0) return source_done(index, false, {}, DnsClient::describe(status));
        std::vector<DiscoveredPeer> peers;
        for (DnsAddress &a : addresses) {
            note_ttl(a.ttl);
            DiscoveredPeer p{a.address, s.weight, s.name, s.name};
            set_port(p.address, s.port);
            peers.push_back(std::move(p));
        }
        source_done(index, true, std::move(peers), {});
    });
}

void UpstreamDiscovery::resolve_service(size_t index) {
    ++lookups_in_flight_;
    const DiscoverySource &source = sources_[index].source;
    dns_.lookup_services(source.name, [this, index](int status, std::vector<DnsService> services) {
        --lookups_in_flight_;
        if (closing_) return release_if_idle();
        if (status != 0) return source_done(index, false, {}, DnsClient::describe(status));
        // RFC 2782: the lowest priority is tried first; the others are backups, used only when it
        // is gone from DNS.
        uint16_t best = services.front().priority;
        for (const DnsService &s : services)
            best = std::min(best, s.priority);
        std::erase_if(services, [best](const DnsService &s) { return s.priority != best; });
        SourceState &state = sources_[index];
        state.collecting.clear();
        state.any_target_ok = false;
        state.targets_pending = services.size();
        for (const DnsService &service : services) {
            ++lookups_in_flight_;
            // A weight of 0 means "rarely" (RFC 2782); a proxyd weight is at least 1.
            uint32_t weight = std::max<uint32_t>(service.weight, 1);
            dns_.lookup_addresses(service.target, [this, index, service, weight](
                                                      int target_status, std::vector<DnsAddress> addresses) {
                --lookups_in_flight_;
                if (closing_) return release_if_idle();
                SourceState &st = sources_[index];
                if (target_status == 0) {
                    st.any_target_ok = true;
                    for (DnsAddress &a : addresses) {
                        note_ttl(a.ttl);
                        DiscoveredPeer p{a.address, weight, st.source.name, service.target};
                        set_port(p.address, service.port);
                        st.collecting.push_back(std::move(p));
                    }
                } else {
                    log_(PROXYD_LOG_DEBUG, "upstream " + group_ + ": " + service.target + " (from " +
                                               st.source.name + "): " + DnsClient::describe(target_status));
                }
                if (--st.targets_pending > 0) return;
                if (st.any_target_ok)
                    source_done(index, true, std::move(st.collecting), {});
                else
                    source_done(index, false, {}, "no target of its records resolved");
            });
        }
    });
}

void UpstreamDiscovery::source_done(size_t index, bool ok, std::vector<DiscoveredPeer> peers,
                                    const std::string &why) {
    SourceState &state = sources_[index];
    if (ok) {
        if (state.failing)
            log_(PROXYD_LOG_INFO, "upstream " + group_ + ": " + state.source.name + " resolves again");
        state.failing = false;
        state.last_good = std::move(peers);
    } else {
        round_failed_ = true;
        if (!state.failing)
            log_(PROXYD_LOG_WARN, "upstream " + group_ + ": cannot resolve " + state.source.name + ": " +
                                      why + (state.last_good.empty() ? "" : "; keeping its last addresses"));
        state.failing = true;
    }
    if (--sources_pending_ == 0) round_done();
}

void UpstreamDiscovery::round_done() {
    ++rounds_;
    // One peer per address: the same address from two names keeps the larger weight.
    std::map<std::string, DiscoveredPeer> by_address;
    for (const SourceState &s : sources_)
        for (const DiscoveredPeer &p : s.last_good) {
            auto [it, added] = by_address.try_emplace(p.address.to_string(), p);
            if (!added && p.weight > it->second.weight) it->second = p;
        }
    std::vector<DiscoveredPeer> merged;
    merged.reserve(by_address.size());
    for (auto &[text, peer] : by_address)
        merged.push_back(std::move(peer));
    if (merged != peers_) {
        log_(PROXYD_LOG_INFO, "upstream " + group_ + ": discovered peers " + list_of(merged) + " (were " +
                                  list_of(peers_) + ")");
        peers_ = std::move(merged);
        changed_(peers_);
    }
    // A failed name is asked again soon, but never more often than min_interval.
    uint64_t next = static_cast<uint64_t>(timing_.interval.count());
    if (shortest_ttl_ms_ > 0) next = std::min(next, shortest_ttl_ms_);
    if (round_failed_) next = std::min<uint64_t>(next, 5000);
    next = std::max<uint64_t>(next, static_cast<uint64_t>(timing_.min_interval.count()));
    if (round_listener_) round_listener_();
    if (!closing_)
        uv_timer_start(
            &timer_, [](uv_timer_t *t) { static_cast<UpstreamDiscovery *>(t->data)->start_round(); }, next,
            0);
}

} // namespace proxyd
