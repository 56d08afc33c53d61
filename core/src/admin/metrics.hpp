// The counters behind /metrics and /status. A MetricsStore is owned by run_server and outlives
// every generation of workers and config: each worker gets its own WorkerMetrics slot, written
// only by that worker's thread with relaxed atomics (no lock on the request path), and read by the
// admin thread, which sums the slots by name (listener, target, upstream, peer address). Slots of
// workers that have exited stay, so counters never go backwards across a reload; their gauges no
// longer count.
#pragma once

#include "config/config.hpp"
#include "health/health_board.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <proxyd/plugin.h>
#include <string>
#include <vector>

namespace proxyd {

// A value with one writer thread: a load and a store, both relaxed, are enough, and cheaper than
// an atomic read-modify-write.
class Counter {
  public:
    void add(uint64_t n = 1) {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(uint64_t n = 1) {
        value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    void set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> value_{0};
};

// Upper bounds, in seconds, of the request duration histogram (Prometheus' default buckets).
inline constexpr std::array<double, 11> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10};
inline constexpr size_t kStatusClasses = 5; // 1xx .. 5xx

struct ListenerMetrics {
    explicit ListenerMetrics(size_t target_slots) : requests(target_slots * kStatusClasses) {}

    void connection_opened() { accepted.add(), open.add(); }
    void connection_closed() { open.sub(); }
    // target_slot from WorkerMetrics::target_slot.
    void request_finished(size_t target_slot, int status, uint64_t elapsed_ns);

    Counter accepted;
    Counter open; // gauge
    Counter bytes_received;
    Counter bytes_sent;
    std::array<Counter, kDurationBuckets.size() + 1> duration_buckets; // not cumulative; last is +Inf
    Counter duration_ns_sum;
    std::vector<Counter> requests; // [target_slot * kStatusClasses + class]
};

struct PeerMetrics {
    void outcome(proxyd_outcome outcome);

    // Attempts picked for the peer, counted as they start: one still waiting for its answer, or
    // that its client abandoned (499), counts too, so a peer that hangs shows its traffic.
    Counter requests;
    Counter connect_failures;
    Counter timeouts;
    Counter broken;        // closed or garbage before a complete response head
    Counter open;          // gauge: connections to the peer, idle ones included
    Counter idle;          // gauge: pooled keep-alive connections
    Counter down_until_ns; // uv_hrtime() until which passive health marks the peer down
    Counter in_use;        // gauge: attempts on the peer, picked and not ended (max_connections counts these)
    Counter ejections;     // outlier ejections this worker's reports caused
    Counter ejected_until_ns; // uv_hrtime() until which the last ejection this worker caused lasts
};

struct UpstreamMetrics {
    explicit UpstreamMetrics(size_t peer_count) : peers(peer_count) {}
    void gateway_error(int status) { (status == 504 ? answered_504 : answered_502).add(); }

    std::vector<PeerMetrics> peers; // in the generation's config order
    Counter answered_502;           // requests of this group answered 502 by proxyd itself
    Counter answered_504;
    Counter queued;                 // gauge: requests waiting in this worker's queue
    Counter queue_full;             // requests answered 503 at once: the queue was full
    Counter queue_timeout;          // requests answered 503 after waiting queue_timeout
    Counter retries;                // attempts after a request's first (stale pooled connections aside)
    Counter retry_budget_exhausted; // retries refused by the retry budget
};

// One worker's slot. Its shape (names, sizes) is fixed at creation from the worker's config.
class WorkerMetrics {
  public:
    explicit WorkerMetrics(const Config &config);

    ListenerMetrics &listener(size_t index) { return *listeners_[index]; }
    UpstreamMetrics &upstream(size_t index) { return *upstreams_[index]; }
    // Where a request's counters go: its target, or the "no target" slot (404, refused heads).
    size_t target_slot(Target target) const;
    // The worker's loop has ended: its gauges no longer describe anything.
    void retire() { retired_.store(true, std::memory_order_release); }
    // Main thread: the worker belongs to a generation that never took over (a rolled-back reload);
    // its slot is dropped rather than folded, so that config's names do not stay in the output.
    void discard() { discarded_ = true; }

  private:
    friend class MetricsStore;

    std::atomic<bool> retired_{false};
    bool discarded_ = false; // main thread only
    size_t handler_base_;    // slots: upstreams, then handlers, then "no target"
    std::vector<std::string> target_names_;
    std::vector<std::string> listener_names_;
    std::vector<std::string> upstream_names_;
    std::vector<std::vector<std::string>> peer_addresses_;
    std::vector<std::unique_ptr<ListenerMetrics>> listeners_;
    std::vector<std::unique_ptr<UpstreamMetrics>> upstreams_;
};

// What the admin pages show of a config: plain copies, so the admin thread never holds a pointer
// into a Config that a reload may free.
struct ConfigSummary {
    struct Listener {
        std::string name, listen, router, default_target;
    };
    struct Peer {
        std::string address;
        uint32_t weight = 1;
    };
    struct Upstream {
        std::string name, balancer;
        std::vector<Peer> peers;
        uint32_t max_fails = 0;
        int64_t fail_timeout_ms = 0;
        uint32_t max_connections = 0, queue_size = 0; // 0: no limit, no queue
    };
    struct Handler {
        std::string name, plugin;
    };
    struct Plugin {
        std::string name, kind, file;
    };
    std::string path;
    unsigned workers = 1;
    std::vector<Listener> listeners;
    std::vector<Upstream> upstreams;
    std::vector<Handler> handlers;
    std::vector<Plugin> plugins;
};

ConfigSummary summarize(const Config &config);

// Everything the admin pages render, summed over workers and generations by name.
struct MetricsSnapshot {
    struct Listener {
        std::string name;
        uint64_t accepted = 0, open = 0, bytes_received = 0, bytes_sent = 0;
        std::array<uint64_t, kDurationBuckets.size() + 1> buckets{}; // cumulative; last is +Inf
        double duration_seconds_sum = 0;
        uint64_t duration_count = 0;
        // (target, counts per status class), in first-seen order
        std::vector<std::pair<std::string, std::array<uint64_t, kStatusClasses>>> requests;
    };
    struct Peer {
        std::string address;
        std::string source;  // the DNS name a discovered peer came from; empty for a fixed peer
        uint32_t weight = 0; // a discovered peer's (a fixed peer's is in the config summary)
        bool down = false;
        uint64_t down_in_workers = 0;
        uint64_t requests = 0, connect_failures = 0, timeouts = 0, broken = 0, active = 0, idle = 0;
        // From the serving generation's HealthBoard: the enums as their values, the time of the
        // latest check (Unix seconds, 0: none) and the share of its weight the peer gets.
        uint64_t check_state = 0, last_check = 0, last_check_time = 0, admin_state = 0;
        uint64_t weight_percent = 0;
        uint64_t in_use = 0, ejections = 0, ejected = 0;
    };
    struct Upstream {
        std::string name;
        std::vector<Peer> peers;
        uint64_t answered_502 = 0, answered_504 = 0;
        uint64_t queued = 0, queue_full = 0, queue_timeout = 0, retries = 0, retry_budget_exhausted = 0;
    };

    std::shared_ptr<const ConfigSummary> config;
    uint64_t generation = 0;
    uint64_t reloads = 0;
    double uptime_seconds = 0;
    double start_time_seconds = 0; // Unix time
    unsigned live_workers = 0;
    // Admin requests refused for their Bearer token: none given, or another scheme or token (or
    // several Authorization fields). The admin listener's own counts, filled in by AdminServer.
    uint64_t admin_token_missing = 0, admin_token_invalid = 0;
    std::vector<Listener> listeners;
    std::vector<Upstream> upstreams;

    const Listener *find_listener(const std::string &name) const;
    const Upstream *find_upstream(const std::string &name) const;
};

class MetricsStore {
  public:
    MetricsStore();
    MetricsStore(const MetricsStore &) = delete;
    MetricsStore &operator=(const MetricsStore &) = delete;

    // Main thread, before the generation's workers start. The generation after the first counts
    // as a reload.
    // health: the generation's peer states, which the pages show and the admin sets.
    void begin_generation(const Config &config, uint64_t generation,
                          std::shared_ptr<HealthBoard> health = nullptr);
    // Any thread: the serving generation's health board (null before the first generation).
    std::shared_ptr<HealthBoard> health() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return health_;
    }
    // Main thread: a new worker's slot, kept until its worker has ended and fold_retired() runs.
    WorkerMetrics &add_worker(const Config &config);
    // Main thread, once a generation's workers are gone: the slots of ended workers are added to
    // the retired totals and freed, so reloads do not make the store (or a scrape) grow.
    void fold_retired();
    // Any thread (the admin's): the retired totals plus every slot.
    MetricsSnapshot snapshot() const;
    // Main thread: who fills the discovered slots of group now (peer_slots.hpp): the pages show
    // each slot under its peer's address and DNS name, and leave vacant slots out.
    struct DiscoveredSlot {
        std::string slot;    // the slot's name in the config, "dns#1"
        std::string address; // empty: vacant
        std::string source;
        uint32_t weight = 1;
    };
    void set_discovered(const std::string &group, std::vector<DiscoveredSlot> slots);
    // Any thread: the name of the discovered slot of group that address fills now ("dns#1"), or
    // empty when no slot does.
    std::string discovered_slot(const std::string &group, const std::string &address) const;
    size_t slots() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return workers_.size();
    }

  private:
    mutable std::mutex mutex_; // guards the slot list and the summary; never taken by a worker
    std::vector<std::unique_ptr<WorkerMetrics>> workers_;
    // Counters of freed slots, summed by name; its histogram buckets are not cumulative.
    MetricsSnapshot retired_;

    static void add_slot(MetricsSnapshot &out, const WorkerMetrics &w, bool live, uint64_t now);
    void merge_retired(MetricsSnapshot &out) const;
    void name_discovered(MetricsSnapshot &out) const;
    std::shared_ptr<const ConfigSummary> summary_;
    std::vector<std::pair<std::string, std::vector<DiscoveredSlot>>> discovered_; // per group name
    std::shared_ptr<HealthBoard> health_;
    static void add_health(MetricsSnapshot &out, const HealthBoard &board);
    uint64_t generation_ = 0;
    uint64_t reloads_ = 0;
    uint64_t start_ns_;         // uv_hrtime() at creation
    double start_time_seconds_; // the same moment as Unix time
};

} // namespace proxyd
