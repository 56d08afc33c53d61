// The per-worker state of one upstream group: its peers' idle keep-alive connections, their
// passive health (max_fails within fail_timeout marks a peer down), and the balancer's worker
// state. Worker thread only.
#pragma once

#include "admin/metrics.hpp"
#include "config/config.hpp"
#include "health/health_board.hpp"
#include "upstream/attempt.hpp"

#include <deque>
#include <memory>
#include <proxyd/plugin.h>
#include <vector>

namespace proxyd {

class UpstreamConnection;
class UpstreamWorker;
struct SlotTable;
struct UpstreamShared;

// A request waiting in a group's queue for a peer under its max_connections.
class QueueWaiter {
  public:
    // Its turn: a connection slot freed. It picks again, and joins the queue's front again when
    // it finds none after all (another worker took the slot).
    virtual void on_queue_turn() = 0;

  protected:
    ~QueueWaiter() = default;
};

class UpstreamPool final : public AttemptSink {
  public:
    UpstreamPool(UpstreamWorker &worker, const UpstreamConfig &config, void *balancer_state,
                 UpstreamMetrics &metrics, const GroupHealth &health, UpstreamShared &shared);
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool &) = delete;
    UpstreamPool &operator=(const UpstreamPool &) = delete;

    UpstreamWorker &worker() { return worker_; }
    const UpstreamConfig &config() const { return config_; }
    size_t peer_count() const { return peers_.size(); }
    // The peer at index: the config's, or for a slot of discovered peers (UpstreamConfig::discovery)
    // the one that fills it now (the slot's own entry while vacant).
    const PeerConfig &peer(size_t index) const {
        return peers_[index].discovered ? *peers_[index].discovered : config_.peers[index];
    }
    // The discovered peer filling a slot (null for a fixed peer or a vacant slot): a connection
    // keeps it, so its address outlives a change of the slot.
    const std::shared_ptr<const PeerConfig> &discovered(size_t index) const {
        return peers_[index].discovered;
    }
    // Grows each time a slot gets another peer: a connection made before goes back to no pool.
    uint32_t epoch(size_t index) const { return peers_[index].epoch; }
    // Worker thread: the group's discovered peers changed (DiscoveryService publishes each table
    // to every worker). Peers that stay keep their connections and health; a slot whose peer left
    // closes its idle connections, and requests in flight there finish.
    void apply_discovery(const SlotTable &table);
    UpstreamMetrics &metrics() { return metrics_; }

    // The balancer's choice among peers not yet tried (tried has peer_count() entries), as an
    // open Attempt on that peer, or an empty one when there is none. When every untried peer is
    // marked down they are offered anyway: a pool that refuses every request while its peers
    // recover is worse than one that tries. Active health checks mark peers down the same way;
    // peers drained or in maintenance are never offered (to the balancer they look tried), and
    // in a group with slow_start the balancer sees weight x percent of it (health_board.hpp).
    // Peers that outlier detection ejected are marked down too. Peers at their max_connections
    // are never offered: when they are all that is left, busy is set (the request may queue).
    // The balancer hears the attempt's end once (attempt.hpp).
    Attempt pick(const bool *tried, const proxyd_request *request, bool *busy = nullptr);

    // The queue (max_connections with queue_size): a waiter joins at the back, or at the front
    // when its turn came and found no slot after all; false when the group's queue is full. FIFO
    // per worker; a slot that another worker frees is noticed by that worker's waiters' timers.
    bool enqueue(QueueWaiter &waiter);
    void requeue_front(QueueWaiter &waiter);
    void leave_queue(QueueWaiter &waiter);
    // Gives freed slots to waiters, first come first served.
    void serve_queue();
    // The retry budget: a request's first attempt, and whether a retry may go (counted if so).
    void count_request();
    bool allow_retry();

    // The balancer has a response_head hook (ABI 1.4): peers' response heads go through it.
    bool balancer_edits_response_heads() const { return response_head_hook_ != nullptr; }
    // Calls it for a final head from peer, while the head's response_head_* host calls work.
    void balancer_response_head(size_t peer, const proxyd_request *request);

    UpstreamConnection *take_idle(size_t peer);
    void put_idle(UpstreamConnection *connection);
    void forget_idle(UpstreamConnection *connection);
    // Passive health, outlier detection and the balancer's outcome hook: a response head arrived
    // (with its status), or the attempt (ended or not) failed before one.
    void record_outcome(const Attempt &attempt, proxyd_outcome outcome, int status = 0);
    // Attempts picked and not ended yet, on this worker (what the balancer was not told of).
    size_t open_attempts() const { return open_attempts_; }
    void close_all_idle();
    // The TLS session to offer on the next connection to peer (null: none yet), and the latest
    // one the peer issued, which replaces it (ownership of one reference passes to the pool).
    SSL_SESSION *tls_session(size_t peer) const { return peers_[peer].tls_session; }
    void keep_tls_session(size_t peer, SSL_SESSION *session);

  private:
    // AttemptSink: the balancer's attempt_done, when its hook table holds it (ABI 1.1).
    void attempt_done(size_t peer, uint32_t lease, const proxyd_attempt &attempt) override;

    struct PeerState {
        std::vector<UpstreamConnection *> idle;
        uint32_t fails = 0;
        uint64_t down_until_ms = 0;
        // Unix ms when passive health marked it down: a health check that passes after this lifts
        // the mark before fail_timeout runs out.
        int64_t marked_down_unix_ms = 0;
        SSL_SESSION *tls_session = nullptr; // owned; resumed by this worker's next connection
        std::shared_ptr<const PeerConfig> discovered; // a discovered slot's peer; null: vacant/fixed
        uint32_t epoch = 0;
    };
    bool vacant(size_t index) const { return config_.peers[index].discovered && !peers_[index].discovered; }
    void close_idle(PeerState &peer);
    // An idle connection beyond keepalive may wait keepalive_surplus_timeout (put_idle).
    bool may_keep_surplus(size_t peer) const;

    bool any_peer_free() const;
    // The peer is marked down by passive health, and its health check has passed since.
    bool passed_check_since_marked(size_t peer) const;
    void report_outlier(size_t peer, proxyd_outcome outcome, int status);

    UpstreamWorker &worker_;
    const UpstreamConfig &config_;
    void *balancer_state_;
    UpstreamMetrics &metrics_;
    UpstreamShared &shared_;
    std::vector<PeerState> peers_;
    std::vector<proxyd_peer> views_;
    const GroupHealth &health_;
    // pick()'s tried mask with vacant slots, peers out of rotation and peers at max_connections
    // added, handed to the balancer (reused per pick).
    std::unique_ptr<bool[]> tried_or_vacant_;
    uint64_t discovery_version_ = 0;
    std::deque<QueueWaiter *> queue_;
    bool serving_queue_ = false;
    size_t open_attempts_ = 0;
    // The balancer's attempt_done, when its hook table holds one (ABI 1.1); resolved once.
    decltype(proxyd_balancing_hooks::attempt_done) attempt_hook_ = nullptr;
    decltype(proxyd_balancing_hooks::response_head) response_head_hook_ = nullptr; // 1.4
    bool closed_ = false;
};

} // namespace proxyd
