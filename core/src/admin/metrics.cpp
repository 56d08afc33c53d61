#include "admin/metrics.hpp"

#include "admin/metric_table.hpp"

#include <algorithm>
#include <chrono>
#include <uv.h>

namespace proxyd {

void ListenerMetrics::request_finished(size_t target_slot, int status, uint64_t elapsed_ns) {
    if (status >= 100 && status < 600)
        requests[target_slot * kStatusClasses + size_t(status / 100 - 1)].add();
    double seconds = static_cast<double>(elapsed_ns) / 1e9;
    size_t bucket = 0;
    while (bucket < kDurationBuckets.size() && seconds > kDurationBuckets[bucket])
        ++bucket;
    duration_buckets[bucket].add();
    duration_ns_sum.add(elapsed_ns);
}

void PeerMetrics::outcome(proxyd_outcome outcome) {
    switch (outcome) {
    case PROXYD_OUTCOME_CONNECT_FAILED:
        connect_failures.add();
        break;
    case PROXYD_OUTCOME_TIMEOUT:
        timeouts.add();
        break;
    case PROXYD_OUTCOME_BROKEN:
        broken.add();
        break;
    default:
        break;
    }
}

WorkerMetrics::WorkerMetrics(const Config &config) : handler_base_(config.upstreams.size()) {
    for (const auto &u : config.upstreams)
        target_names_.push_back(u.name);
    for (const auto &h : config.handlers)
        target_names_.push_back(h.name);
    target_names_.push_back("-");
    for (const auto &l : config.listeners) {
        listener_names_.push_back(l.name);
        listeners_.push_back(std::make_unique<ListenerMetrics>(target_names_.size()));
    }
    for (const auto &u : config.upstreams) {
        upstream_names_.push_back(u.name);
        auto &addresses = peer_addresses_.emplace_back();
        for (const auto &p : u.peers)
            addresses.push_back(p.address_text);
        upstreams_.push_back(std::make_unique<UpstreamMetrics>(u.peers.size()));
    }
}

size_t WorkerMetrics::target_slot(Target target) const {
    size_t none = target_names_.size() - 1;
    if (target.kind == Target::Kind::Upstream && target.index < handler_base_) return target.index;
    if (target.kind == Target::Kind::Handler && handler_base_ + target.index < none)
        return handler_base_ + target.index;
    return none;
}

ConfigSummary summarize(const Config &config) {
    ConfigSummary s;
    s.path = config.path;
    s.workers = config.workers;
    for (const auto &l : config.listeners) {
        // Listeners that share a name are one service on several addresses: their metrics add up
        // under the name, so the pages show one row with every address (the first one's routing).
        auto same = std::find_if(s.listeners.begin(), s.listeners.end(),
                                 [&](const ConfigSummary::Listener &seen) { return seen.name == l.name; });
        if (same != s.listeners.end()) {
            same->listen += ", " + l.listen_text;
            continue;
        }
        s.listeners.push_back({l.name, l.listen_text, l.router ? l.router->module().name() : std::string(),
                               l.target ? config.target_name(l.target) : std::string()});
    }
    for (const auto &u : config.upstreams) {
        ConfigSummary::Upstream out{u.name,
                                    u.balancer ? u.balancer->module().name() : std::string(),
                                    {},
                                    u.max_fails,
                                    static_cast<int64_t>(u.fail_timeout.count()),
                                    u.policies.max_connections,
                                    u.policies.queue_size};
        for (const auto &p : u.peers)
            out.peers.push_back({p.address_text, p.weight});
        s.upstreams.push_back(std::move(out));
    }
    for (const auto &h : config.handlers)
        s.handlers.push_back({h.name, h.instance ? h.instance->module().name() : std::string()});
    for (const auto &m : config.plugins.modules())
        s.plugins.push_back({m->name(), kind_name(m->kind()), m->path()});
    return s;
}

MetricsStore::MetricsStore()
    : start_ns_(uv_hrtime()),
      start_time_seconds_(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {}

void MetricsStore::begin_generation(const Config &config, uint64_t generation,
                                    std::shared_ptr<HealthBoard> health) {
    auto summary = std::make_shared<const ConfigSummary>(summarize(config));
    std::lock_guard<std::mutex> lock(mutex_);
    health_ = std::move(health);
    if (generation_ != 0) ++reloads_;
    generation_ = generation;
    summary_ = std::move(summary);
}

WorkerMetrics &MetricsStore::add_worker(const Config &config) {
    auto slot = std::make_unique<WorkerMetrics>(config);
    std::lock_guard<std::mutex> lock(mutex_);
    workers_.push_back(std::move(slot));
    return *workers_.back();
}

namespace {

template <class T> T &find_or_add(std::vector<T> &list, const std::string &name) {
    for (auto &item : list)
        if (item.name == name) return item;
    T &added = list.emplace_back();
    added.name = name;
    return added;
}

// Adds the table's plain counters of one entity in a worker's slot to its snapshot totals. Gauges
// count only while the slot's worker runs: an ended worker's connections are closed.
template <class Slot, class Total>
void add_counters(std::span<const MetricFamily<Slot, Total>> families, const Slot &slot, Total &total,
                  bool live) {
    for (const auto &f : families)
        for (const auto &s : f.series)
            if (s.slot && (live || f.type != MetricType::gauge)) total.*s.total += (slot.*s.slot).get();
}

// The retired totals were summed by add_counters() from ended workers, so they hold no gauges.
template <class Slot, class Total>
void add_retired(std::span<const MetricFamily<Slot, Total>> families, const Total &retired, Total &total) {
    for (const auto &f : families)
        for (const auto &s : f.series)
            if (s.slot && f.type != MetricType::gauge) total.*s.total += retired.*s.total;
}

} // namespace

const MetricsSnapshot::Listener *MetricsSnapshot::find_listener(const std::string &name) const {
    for (const auto &l : listeners)
        if (l.name == name) return &l;
    return nullptr;
}

const MetricsSnapshot::Upstream *MetricsSnapshot::find_upstream(const std::string &name) const {
    for (const auto &u : upstreams)
        if (u.name == name) return &u;
    return nullptr;
}

void MetricsStore::fold_retired() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = workers_.begin(); it != workers_.end();) {
        if (!(*it)->retired_.load(std::memory_order_acquire)) {
            ++it;
            continue;
        }
        if (!(*it)->discarded_) add_slot(retired_, **it, false, 0);
        it = workers_.erase(it);
    }
}

void MetricsStore::merge_retired(MetricsSnapshot &out) const {
    for (const auto &r : retired_.listeners) {
        auto &l = find_or_add(out.listeners, r.name);
        add_retired(listener_families(), r, l);
        for (size_t b = 0; b < r.buckets.size(); ++b)
            l.buckets[b] += r.buckets[b];
        l.duration_seconds_sum += r.duration_seconds_sum;
        for (const auto &retired_route : r.requests) {
            const auto &target = retired_route.first;
            auto it = std::find_if(l.requests.begin(), l.requests.end(),
                                   [&](const auto &existing) { return existing.first == target; });
            if (it == l.requests.end()) it = l.requests.insert(l.requests.end(), {target, {}});
            for (size_t c = 0; c < kStatusClasses; ++c)
                it->second[c] += retired_route.second[c];
        }
    }
    for (const auto &r : retired_.upstreams) {
        auto &group = find_or_add(out.upstreams, r.name);
        add_retired(upstream_families(), r, group);
        for (const auto &rp : r.peers) {
            auto it = std::find_if(group.peers.begin(), group.peers.end(),
                                   [&](const auto &peer) { return peer.address == rp.address; });
            if (it == group.peers.end()) {
                it = group.peers.insert(group.peers.end(), MetricsSnapshot::Peer{});
                it->address = rp.address;
            }
            add_retired(peer_families(), rp, *it);
        }
    }
}

void MetricsStore::add_slot(MetricsSnapshot &out, const WorkerMetrics &w, bool live, uint64_t now) {
    for (size_t i = 0; i < w.listeners_.size(); ++i) {
        const ListenerMetrics &m = *w.listeners_[i];
        auto &l = find_or_add(out.listeners, w.listener_names_[i]);
        add_counters(listener_families(), m, l, live);
        for (size_t b = 0; b < m.duration_buckets.size(); ++b)
            l.buckets[b] += m.duration_buckets[b].get();
        l.duration_seconds_sum += static_cast<double>(m.duration_ns_sum.get()) / 1e9;
        for (size_t t = 0; t < w.target_names_.size(); ++t) {
            std::array<uint64_t, kStatusClasses> counts{};
            bool any = false;
            for (size_t c = 0; c < kStatusClasses; ++c) {
                counts[c] = m.requests[t * kStatusClasses + c].get();
                any = any || counts[c] != 0;
            }
            if (!any) continue;
            auto it = std::find_if(l.requests.begin(), l.requests.end(),
                                   [&](const auto &r) { return r.first == w.target_names_[t]; });
            if (it == l.requests.end()) it = l.requests.insert(l.requests.end(), {w.target_names_[t], {}});
            for (size_t c = 0; c < kStatusClasses; ++c)
                it->second[c] += counts[c];
        }
    }
    for (size_t g = 0; g < w.upstreams_.size(); ++g) {
        const UpstreamMetrics &m = *w.upstreams_[g];
        auto &group = find_or_add(out.upstreams, w.upstream_names_[g]);
        add_counters(upstream_families(), m, group, live);
        for (size_t p = 0; p < m.peers.size(); ++p) {
            const PeerMetrics &pm = m.peers[p];
            const std::string &address = w.peer_addresses_[g][p];
            auto it = std::find_if(group.peers.begin(), group.peers.end(),
                                   [&](const auto &peer) { return peer.address == address; });
            if (it == group.peers.end()) {
                it = group.peers.insert(group.peers.end(), MetricsSnapshot::Peer{});
                it->address = address;
            }
            add_counters(peer_families(), pm, *it, live);
            // Connections and health are kept per worker in forms the pages do not show as they are.
            if (!live) continue;
            uint64_t open = pm.open.get(), idle = pm.idle.get();
            it->idle += idle;
            it->active += open > idle ? open - idle : 0;
            // An ejection holds for the whole process: one worker's word is enough.
            if (pm.ejected_until_ns.get() > now) it->ejected = 1;
            if (pm.down_until_ns.get() > now) {
                it->down = true;
                ++it->down_in_workers;
            }
        }
    }
}

void MetricsStore::set_discovered(const std::string &group, std::vector<DiscoveredSlot> slots) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto &entry : discovered_)
        if (entry.first == group) {
            entry.second = std::move(slots);
            return;
        }
    discovered_.emplace_back(group, std::move(slots));
}

std::string MetricsStore::discovered_slot(const std::string &group, const std::string &address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto &[name, slots] : discovered_)
        if (name == group)
            for (const DiscoveredSlot &slot : slots)
                if (!slot.address.empty() && slot.address == address) return slot.slot;
    return {};
}

void MetricsStore::name_discovered(MetricsSnapshot &out) const {
    for (const auto &[name, slots] : discovered_) {
        MetricsSnapshot::Upstream *group = nullptr;
        for (auto &u : out.upstreams)
            if (u.name == name) group = &u;
        if (!group) continue;
        for (const DiscoveredSlot &slot : slots) {
            auto it = std::find_if(group->peers.begin(), group->peers.end(),
                                   [&](const MetricsSnapshot::Peer &p) { return p.address == slot.slot; });
            if (it == group->peers.end()) continue;
            if (slot.address.empty()) {
                group->peers.erase(it);
                continue;
            }
            it->address = slot.address;
            it->source = slot.source;
            it->weight = slot.weight;
        }
    }
}

void MetricsStore::add_health(MetricsSnapshot &out, const HealthBoard &board) {
    uint64_t now_ms = uv_hrtime() / 1000000;
    for (size_t g = 0; g < board.group_count(); ++g) {
        const GroupHealth &health = board.group(g);
        auto &group = find_or_add(out.upstreams, health.name);
        for (size_t p = 0; p < health.size(); ++p) {
            auto it = std::find_if(group.peers.begin(), group.peers.end(),
                                   [&](const auto &peer) { return peer.address == health.addresses[p]; });
            if (it == group.peers.end()) continue;
            const PeerHealth &h = health.peers[p];
            it->check_state = static_cast<uint64_t>(h.check.load(std::memory_order_relaxed));
            it->last_check = static_cast<uint64_t>(h.last_result.load(std::memory_order_relaxed));
            it->last_check_time =
                static_cast<uint64_t>(h.last_check_unix_ms.load(std::memory_order_relaxed) / 1000);
            it->admin_state = static_cast<uint64_t>(h.admin.load(std::memory_order_relaxed));
            it->weight_percent = health.weight_percent(p, now_ms);
        }
    }
}

MetricsSnapshot MetricsStore::snapshot() const {
    MetricsSnapshot out;
    uint64_t now = uv_hrtime();
    std::lock_guard<std::mutex> lock(mutex_);
    out.config = summary_;
    out.generation = generation_;
    out.reloads = reloads_;
    out.uptime_seconds = static_cast<double>(now - start_ns_) / 1e9;
    out.start_time_seconds = start_time_seconds_;
    // The live config's names first, in its order, so pages list them as the file does.
    if (summary_) {
        for (const auto &l : summary_->listeners)
            find_or_add(out.listeners, l.name);
        for (const auto &u : summary_->upstreams) {
            auto &group = find_or_add(out.upstreams, u.name);
            for (const auto &p : u.peers)
                group.peers.emplace_back().address = p.address;
        }
    }
    if (health_) add_health(out, *health_);
    merge_retired(out);
    for (const auto &slot : workers_) {
        bool live = !slot->retired_.load(std::memory_order_acquire);
        out.live_workers += live ? 1 : 0;
        add_slot(out, *slot, live, now);
    }
    name_discovered(out);
    for (auto &l : out.listeners) {
        for (size_t b = 1; b < l.buckets.size(); ++b)
            l.buckets[b] += l.buckets[b - 1];
        // The slots are read while workers write them, so the count read apart from the buckets
        // can be one ahead; the +Inf bucket is the count by definition, and keeps them consistent.
        l.duration_count = l.buckets.back();
    }
    return out;
}

} // namespace proxyd
