#include "discovery/discovery_service.hpp"

#include <algorithm>

namespace proxyd {

namespace {

bool same_sources(const UpstreamConfig &a, const UpstreamConfig &b) {
    auto key = [](const DiscoverySource &s) { return std::tuple(s.kind, s.name, s.port, s.weight, s.tls); };
    if (a.discovery.size() != b.discovery.size()) return false;
    for (size_t i = 0; i < a.discovery.size(); ++i)
        if (key(a.discovery[i]) != key(b.discovery[i])) return false;
    return a.peers.size() == b.peers.size() && a.discovery_first_slot == b.discovery_first_slot &&
           a.discovery_tls_name == b.discovery_tls_name;
}

} // namespace

DiscoveryService::DiscoveryService(const Config &config, const Logger &logger)
    : config_(config), logger_(logger) {
    for (size_t i = 0; i < config.upstreams.size(); ++i) {
        const UpstreamConfig &u = config.upstreams[i];
        if (u.discovery.empty()) continue;
        Group g;
        g.upstream = i;
        g.placement.resize(u.peers.size() - u.discovery_first_slot);
        auto table = std::make_shared<SlotTable>();
        table->peers.resize(g.placement.size());
        table->sources.resize(g.placement.size());
        g.table = std::move(table);
        groups_.push_back(std::move(g));
    }
}

DiscoveryService::~DiscoveryService() { close(); }

void DiscoveryService::seed_from(const DiscoveryService &previous) {
    for (Group &g : groups_) {
        const UpstreamConfig &mine = config_.upstreams[g.upstream];
        for (const Group &old : previous.groups_) {
            const UpstreamConfig &theirs = previous.config_.upstreams[old.upstream];
            if (theirs.name != mine.name || !same_sources(theirs, mine)) continue;
            g.placement = old.placement;
            std::lock_guard<std::mutex> lock(previous.mutex_);
            std::lock_guard<std::mutex> own(mutex_);
            g.table = old.table;
            g.seeded = true;
        }
    }
}

bool DiscoveryService::start(uv_loop_t *loop, Publish publish, Ready ready, std::string &error) {
    publish_ = std::move(publish);
    ready_ = std::move(ready);
    // A set taken over from the previous generation is this one's until DNS says otherwise.
    for (Group &g : groups_)
        if (g.seeded && publish_) publish_(g.upstream, g.table);
    if (groups_.empty()) {
        check_ready();
        return true;
    }
    DnsClientOptions options;
    options.servers = config_.resolver.servers;
    options.timeout = config_.resolver.timeout;
    options.tries = config_.resolver.tries;
    dns_ = DnsClient::create(loop, options, error);
    if (!dns_) return false;
    for (Group &g : groups_) {
        const UpstreamConfig &u = config_.upstreams[g.upstream];
        g.discovery = new UpstreamDiscovery(
            loop, *dns_, u.name, u.discovery, u.discovery_timing,
            [this, &g](const std::vector<DiscoveredPeer> &peers) { changed(g, peers); },
            [this](proxyd_log_level level, const std::string &message) { logger_.log(level, message); });
    }
    for (Group &g : groups_) {
        g.discovery->set_round_listener([this] { check_ready(); });
        g.discovery->start();
    }
    check_ready();
    return true;
}

void DiscoveryService::changed(Group &group, const std::vector<DiscoveredPeer> &peers) {
    const UpstreamConfig &u = config_.upstreams[group.upstream];
    size_t left_out = 0;
    group.placement = place_in_slots(group.placement, peers, left_out);
    if (left_out > 0)
        logger_.warn("upstream " + u.name + ": DNS gives " + std::to_string(peers.size()) +
                     " peers, max_peers is " + std::to_string(group.placement.size()) + ": " +
                     std::to_string(left_out) + " left out");
    auto table = std::make_shared<SlotTable>();
    std::shared_ptr<const SlotTable> before = this->table(group.upstream);
    table->version = before ? before->version + 1 : 1;
    for (size_t slot = 0; slot < group.placement.size(); ++slot) {
        const auto &placed = group.placement[slot];
        if (!placed) {
            table->peers.push_back(nullptr);
            table->sources.emplace_back();
            continue;
        }
        auto source = std::find_if(u.discovery.begin(), u.discovery.end(),
                                   [&](const DiscoverySource &s) { return s.name == placed->source; });
        bool tls = source != u.discovery.end() && source->tls;
        auto peer = std::make_shared<const PeerConfig>(discovered_peer_config(u, *placed, tls));
        // The same peer as before keeps its object, so a pool sees that nothing changed for it.
        if (before && before->peers[slot] && before->peers[slot]->address == peer->address &&
            before->peers[slot]->weight == peer->weight && before->peers[slot]->tls == peer->tls)
            peer = before->peers[slot];
        table->peers.push_back(std::move(peer));
        table->sources.push_back(placed->source);
    }
    std::shared_ptr<const SlotTable> published = std::move(table);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        group.table = published;
    }
    if (publish_) publish_(group.upstream, published);
    check_ready();
}

bool DiscoveryService::ready() const {
    return std::all_of(groups_.begin(), groups_.end(),
                       [](const Group &g) { return g.seeded || (g.discovery && g.discovery->rounds() > 0); });
}

void DiscoveryService::check_ready() {
    if (ready_told_ || !ready()) return;
    ready_told_ = true;
    if (ready_) ready_();
}

void DiscoveryService::close() {
    for (Group &g : groups_) {
        if (g.discovery) g.discovery->close();
        g.discovery = nullptr;
    }
    if (dns_) dns_->close();
    dns_ = nullptr;
    publish_ = nullptr;
    ready_ = nullptr;
}

std::shared_ptr<const SlotTable> DiscoveryService::table(size_t upstream) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Group &g : groups_)
        if (g.upstream == upstream) return g.table;
    return nullptr;
}

} // namespace proxyd
