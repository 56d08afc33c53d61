#include "upstream/upstream_pool.hpp"

#include "discovery/discovery_service.hpp"
#include "plugin/abi_sizes.hpp"
#include "upstream/upstream_connection.hpp"
#include "upstream/upstream_shared.hpp"
#include "upstream/upstream_worker.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>

namespace proxyd {

UpstreamPool::UpstreamPool(UpstreamWorker &worker, const UpstreamConfig &config, void *balancer_state,
                           UpstreamMetrics &metrics, const GroupHealth &health, UpstreamShared &shared)
    : worker_(worker), config_(config), balancer_state_(balancer_state), metrics_(metrics), shared_(shared),
      peers_(config.peers.size()), health_(health), tried_or_vacant_(new bool[config.peers.size()]) {
    for (const auto &p : config.peers)
        views_.push_back(proxyd_peer{{p.address_text.data(), p.address_text.size()}, p.weight, false});
    if (const DiscoveryService *discovery = worker.discovery())
        if (auto table = discovery->table(worker.upstream_index(config))) apply_discovery(*table);
    const auto &hooks = *config.balancer->descriptor().balancing;
    if (PROXYD_ABI_HAS(hooks, proxyd_balancing_hooks, attempt_done)) attempt_hook_ = hooks.attempt_done;
    if (PROXYD_ABI_HAS(hooks, proxyd_balancing_hooks, response_head))
        response_head_hook_ = hooks.response_head;
}

UpstreamPool::~UpstreamPool() {
    // Every exchange, and so every attempt and every waiter, ends before the worker's pools do.
    assert(open_attempts_ == 0 && queue_.empty());
    close_all_idle();
    for (PeerState &p : peers_)
        SSL_SESSION_free(p.tls_session);
}

void UpstreamPool::keep_tls_session(size_t peer, SSL_SESSION *session) {
    // The latest: the one the peer most likely still accepts.
    SSL_SESSION_free(peers_[peer].tls_session);
    peers_[peer].tls_session = session;
}

Attempt UpstreamPool::pick(const bool *tried, const proxyd_request *request, bool *busy) {
    uint64_t now = uv_now(worker_.loop());
    ConnectionLimits &limits = shared_.limits;
    bool any_untried_up = false, any_at_limit = false;
    // A vacant slot of discovered peers, a peer drained or in maintenance, and a peer at its
    // max_connections are handed to the balancer as already tried: balancers never pick those.
    bool *mask = tried_or_vacant_.get();
    for (size_t i = 0; i < peers_.size(); ++i) {
        // Relaxed loads: a verdict a moment old is as good as one that is current.
        const PeerHealth &h = health_.peers[i];
        uint32_t percent = health_.weight_percent(i, now);
        bool full = !tried[i] && !vacant(i) && percent != 0 && limits.at_limit(i);
        any_at_limit = any_at_limit || full;
        mask[i] = tried[i] || vacant(i) || percent == 0 || full;
        if (peers_[i].down_until_ms > now && passed_check_since_marked(i)) {
            peers_[i].down_until_ms = 0;
            metrics_.peers[i].down_until_ns.set(0);
            worker_.logger().info(
                "upstream " + config_.name + " " + peer(i).address_text +
                ": passed a health check since it was marked down: back before fail_timeout");
        }
        views_[i].down = peers_[i].down_until_ms > now || !in_rotation(h.check.load(std::memory_order_relaxed)) ||
                         shared_.outliers.ejected(i, now);
        if (health_.slow_start_ms != 0) views_[i].weight = peer(i).weight * percent;
        any_untried_up = any_untried_up || (!mask[i] && !views_[i].down);
    }
    if (!any_untried_up)
        for (size_t i = 0; i < views_.size(); ++i)
            views_[i].down = vacant(i);
    const auto &hooks = *config_.balancer->descriptor().balancing;
    // pick_in_flight (ABI 1.4) reads this group's counts while its balancer picks.
    struct Picking {
        UpstreamWorker &worker;
        ~Picking() { worker.set_picking(nullptr); }
    } picking{worker_};
    worker_.set_picking(&limits);
    // A peer that filled up between the look above and the acquire (another worker took its last
    // slot) is excluded and the balancer asked again, at most once per peer.
    for (size_t round = 0; round <= peers_.size(); ++round) {
        int chosen =
            hooks.pick(config_.balancer->raw(), balancer_state_, views_.data(), views_.size(), mask, request);
        if (chosen >= static_cast<int>(peers_.size()) || (chosen >= 0 && mask[chosen])) {
            worker_.logger().error("upstream " + config_.name + ": balancer " +
                                   config_.balancer->module().name() + " picked an invalid peer " +
                                   std::to_string(chosen));
            return {};
        }
        if (chosen < 0) break;
        size_t peer = static_cast<size_t>(chosen);
        uint32_t lease = 0;
        if (!limits.acquire(peer, lease)) {
            mask[peer] = any_at_limit = true;
            continue;
        }
        metrics_.peers[peer].in_use.add();
        metrics_.peers[peer].requests.add();
        ++open_attempts_;
        return Attempt(*this, peer, attempt_hook_ != nullptr, lease);
    }
    if (busy) *busy = any_at_limit;
    return {};
}

void UpstreamPool::attempt_done(size_t peer, uint32_t lease, const proxyd_attempt &attempt) {
    --open_attempts_;
    shared_.limits.release(peer, lease);
    metrics_.peers[peer].in_use.sub();
    if (attempt_hook_) attempt_hook_(config_.balancer->raw(), balancer_state_, peer, &attempt);
    if (!queue_.empty()) serve_queue();
}

bool UpstreamPool::any_peer_free() const {
    for (size_t i = 0; i < peers_.size(); ++i)
        if (!vacant(i) && !shared_.limits.at_limit(i)) return true;
    return false;
}

bool UpstreamPool::enqueue(QueueWaiter &waiter) {
    if (!shared_.limits.enter_queue()) return false;
    queue_.push_back(&waiter);
    metrics_.queued.set(queue_.size());
    return true;
}

void UpstreamPool::requeue_front(QueueWaiter &waiter) {
    shared_.limits.enter_queue_unchecked();
    queue_.push_front(&waiter);
    metrics_.queued.set(queue_.size());
}

void UpstreamPool::leave_queue(QueueWaiter &waiter) {
    auto it = std::find(queue_.begin(), queue_.end(), &waiter);
    if (it == queue_.end()) return;
    queue_.erase(it);
    shared_.limits.leave_queue();
    metrics_.queued.set(queue_.size());
}

void UpstreamPool::serve_queue() {
    // A waiter's turn can end another attempt (a failed connect), which calls this again: the
    // outer call goes on serving.
    if (serving_queue_) return;
    serving_queue_ = true;
    for (size_t turns = queue_.size(); turns > 0 && !queue_.empty() && any_peer_free(); --turns) {
        QueueWaiter *waiter = queue_.front();
        queue_.pop_front();
        shared_.limits.leave_queue();
        metrics_.queued.set(queue_.size());
        waiter->on_queue_turn();
        // It found every slot it may use taken after all, and waits at the front again.
        if (!queue_.empty() && queue_.front() == waiter) break;
    }
    serving_queue_ = false;
}

void UpstreamPool::count_request() { shared_.budget.count_request(uv_now(worker_.loop())); }

bool UpstreamPool::allow_retry() {
    if (!shared_.budget.try_retry(uv_now(worker_.loop()))) {
        metrics_.retry_budget_exhausted.add();
        return false;
    }
    metrics_.retries.add();
    return true;
}

void UpstreamPool::balancer_response_head(size_t peer, const proxyd_request *request) {
    response_head_hook_(config_.balancer->raw(), balancer_state_, &views_[peer], peer, request);
}

UpstreamConnection *UpstreamPool::take_idle(size_t peer) {
    auto &idle = peers_[peer].idle;
    if (idle.empty()) return nullptr;
    // Most recently parked first: it is the least likely to have been closed by the peer.
    UpstreamConnection *c = idle.back();
    idle.pop_back();
    metrics_.peers[peer].idle.set(idle.size());
    return c;
}

// Beyond keepalive, a connection waits keepalive_surplus_timeout for another request rather than
// being closed at once: under a burst wider than keepalive, nginx's rule closes a connection per
// response and opens one for the next request moments later (connect, close and the kernel's TCP
// work were most of the proxy's CPU in h2_bench's proxied cell). Such a connection is kept only
// while this worker's requests to the peer could still use it, and never past the peer's
// max_connections, so the pool shrinks back with the load and a backend that gives each
// connection a thread or a process is not filled with idle ones.
bool UpstreamPool::may_keep_surplus(size_t peer) const {
    if (config_.keepalive_surplus_timeout.count() == 0) return false;
    const PeerState &p = peers_[peer];
    uint64_t idle = p.idle.size();
    // in_use: this worker's attempts on the peer, picked and not ended.
    if (idle >= uint64_t(config_.keepalive) + metrics_.peers[peer].in_use.get()) return false;
    // The connection being parked is still counted in use; other workers' idle ones are not
    // known here. Within one worker the bound holds anyway: it opens a connection only when it
    // has no idle one.
    uint32_t max = config_.policies.max_connections;
    return max == 0 || shared_.limits.in_use(peer) + idle <= max;
}

void UpstreamPool::put_idle(UpstreamConnection *connection) {
    size_t peer = connection->peer();
    auto &idle = peers_[peer].idle;
    // keepalive = 0 keeps none, surplus or not.
    bool surplus = idle.size() >= config_.keepalive;
    if (closed_ || worker_.stopping() || config_.keepalive == 0 || (surplus && !may_keep_surplus(peer)) ||
        connection->epoch() != peers_[peer].epoch) {
        connection->close();
        return;
    }
    idle.push_back(connection);
    metrics_.peers[peer].idle.set(idle.size());
    Duration wait = surplus ? config_.keepalive_surplus_timeout : config_.keepalive_timeout;
    connection->park(static_cast<uint64_t>(wait.count()));
}

void UpstreamPool::forget_idle(UpstreamConnection *connection) {
    auto &idle = peers_[connection->peer()].idle;
    idle.erase(std::remove(idle.begin(), idle.end(), connection), idle.end());
    metrics_.peers[connection->peer()].idle.set(idle.size());
}

void UpstreamPool::record_outcome(const Attempt &attempt, proxyd_outcome outcome, int status) {
    size_t peer = attempt.peer();
    PeerState &p = peers_[peer];
    metrics_.peers[peer].outcome(outcome);
    // An attempt on the peer that a discovered slot held before says nothing of the one there now.
    if (attempt.lease() == shared_.limits.lease(peer)) report_outlier(peer, outcome, status);
    if (outcome == PROXYD_OUTCOME_SUCCESS) {
        p.fails = 0;
    } else if (config_.max_fails > 0 && ++p.fails >= config_.max_fails) {
        // A peer still marked down (the group's only one, tried anyway) is marked again quietly:
        // a line per failed request would flood the log while it stays down.
        bool was_down = p.down_until_ms > uv_now(worker_.loop());
        p.down_until_ms = uv_now(worker_.loop()) + static_cast<uint64_t>(config_.fail_timeout.count());
        p.marked_down_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
        p.fails = 0;
        metrics_.peers[peer].down_until_ns.set(uv_hrtime() +
                                               static_cast<uint64_t>(config_.fail_timeout.count()) * 1000000);
        if (!was_down)
            worker_.logger().warn("upstream " + config_.name + " " + this->peer(peer).address_text +
                                  ": marked down for " + std::to_string(config_.fail_timeout.count()) +
                                  " ms");
    }
    const auto &hooks = *config_.balancer->descriptor().balancing;
    if (hooks.outcome) hooks.outcome(config_.balancer->raw(), balancer_state_, peer, outcome);
}

bool UpstreamPool::passed_check_since_marked(size_t peer) const {
    // A check answered after the mark. One sent just before the failures and answered just after
    // them lifts the mark early; the peer's next failures mark it again.
    const PeerHealth &h = health_.peers[peer];
    return health_.checked && h.last_result.load(std::memory_order_relaxed) == CheckResult::pass &&
           h.last_check_unix_ms.load(std::memory_order_relaxed) > peers_[peer].marked_down_unix_ms;
}

void UpstreamPool::apply_discovery(const SlotTable &table) {
    if (table.version <= discovery_version_) return; // the pool was made from a newer table
    discovery_version_ = table.version;
    for (size_t k = 0; k < table.peers.size(); ++k) {
        size_t index = config_.discovery_first_slot + k;
        if (index >= peers_.size()) break;
        PeerState &state = peers_[index];
        const std::shared_ptr<const PeerConfig> &next = table.peers[k];
        if (next == state.discovered) continue;
        bool same_peer = next && state.discovered && next->address == state.discovered->address &&
                         next->tls == state.discovered->tls;
        if (!same_peer) {
            // Another peer in this slot: nothing of the old one's carries over.
            close_idle(state);
            ++state.epoch;
            state.fails = 0;
            state.down_until_ms = 0;
            SSL_SESSION_free(state.tls_session);
            state.tls_session = nullptr;
            metrics_.peers[index].idle.set(0);
        }
        state.discovered = next;
        const PeerConfig &shown = peer(index);
        views_[index] =
            proxyd_peer{{shown.address_text.data(), shown.address_text.size()}, shown.weight, !next};
    }
}

void UpstreamPool::close_idle(PeerState &peer) {
    std::vector<UpstreamConnection *> idle;
    idle.swap(peer.idle);
    for (UpstreamConnection *c : idle)
        c->close();
}

void UpstreamPool::report_outlier(size_t peer, proxyd_outcome outcome, int status) {
    // An invalid response says nothing the three counts track; it leaves them as they are.
    if (outcome == PROXYD_OUTCOME_BROKEN || outcome == PROXYD_OUTCOME_ABORTED) return;
    using Event = OutlierDetector::Event;
    Event event = outcome == PROXYD_OUTCOME_CONNECT_FAILED ? Event::kConnectFailure
                  : outcome == PROXYD_OUTCOME_TIMEOUT      ? Event::kTimeout
                  : status >= 500                          ? Event::k5xx
                                                           : Event::kResponse;
    uint64_t ejected_ms = 0;
    auto reason = shared_.outliers.report(peer, event, uv_now(worker_.loop()), ejected_ms);
    if (reason == OutlierDetector::Reason::kNone) return;
    metrics_.peers[peer].ejections.add();
    metrics_.peers[peer].ejected_until_ns.set(uv_hrtime() + ejected_ms * 1000000);
    worker_.logger().warn("upstream " + config_.name + " " + this->peer(peer).address_text +
                          ": ejected for " + std::to_string(ejected_ms) + " ms (" +
                          OutlierDetector::reason_text(reason) + ")");
}

void UpstreamPool::close_all_idle() {
    closed_ = true;
    for (auto &m : metrics_.peers)
        m.idle.set(0);
    for (auto &p : peers_)
        close_idle(p);
}

} // namespace proxyd
