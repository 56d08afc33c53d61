// A worker: one thread running one uv loop, with its own listening sockets (dup()s of the
// server's SO_REUSEPORT sockets), its own per-worker plugin state, its own upstream connection
// pools and peer health. Nothing here is shared with other workers, so the request path takes
// no lock.
#pragma once

#include "admin/metrics.hpp"
#include "config/config.hpp"
#include "exchange/content_orphans.hpp"
#include "exchange/exchange_buffers.hpp"
#include "exchange/exchange_worker.hpp"
#include "h2/h2_memory_pool.hpp"
#include "health/health_board.hpp"
#include "http/http_date.hpp"
#include "http/request_id.hpp"
#include "http/request_parser.hpp"
#include "log/logger.hpp"
#include "net/write_blocks.hpp"
#include "plugin/host_calls.hpp"
#include "server/client_request.hpp"
#include "server/plugin_waits.hpp"
#include "server/worker_handle.hpp"
#include "server/worker_post.hpp"
#include "tls/tls_buffers.hpp"
#include "upstream/upstream_shared.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <uv.h>
#include <vector>

namespace proxyd {

class ClientConnection;
class DiscoveryService;
class UpstreamPool;
struct SlotTable;

struct WorkerShared {
    const Config &config;
    const PluginHost &host;
    const Logger &logger;
    const LogFile &access_log;
    MetricsStore &metrics;
    // Per listener: it serves one of this config's own upstreams, so it drains last (drain_order.hpp).
    std::vector<bool> drains_last;
    // The generation's DNS discovery (null when no group follows DNS); outlives the workers.
    const DiscoveryService *discovery = nullptr;
    // The peers' active health and admin states, written by the health checker and the admin.
    const HealthBoard &health;
    // Per upstream group: what its workers share (connections in use, queue, budget, ejections).
    std::vector<std::unique_ptr<UpstreamShared>> upstreams;
};

// A listening socket handed to a worker, for config.listeners[listener]. A listener may have
// several per worker (after a reload to fewer workers, so no socket of the group goes unserved).
struct ListenFd {
    size_t listener;
    int fd;
};

class Worker final : public ExchangeWorker {
  public:
    // What a worker tells the server, always from the worker's own thread.
    struct Reports {
        // Its plugin state exists and it holds every socket, ready to accept (true), or one of
        // those failed (false; it has closed its sockets and stops).
        std::function<void(bool)> started;
        // Stopping: every listener that does not drain last is closed and its connections are
        // gone. The server calls release_last_listeners() once every worker has said so.
        std::function<void()> front_drained;
        // Its loop has ended.
        std::function<void()> exited;
    };

    // The worker owns listen_fds from here on.
    Worker(const WorkerShared &shared, unsigned index, std::vector<ListenFd> listen_fds, Reports reports);
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    // Main thread: prepares the loop and starts the thread, which creates the plugins' worker
    // state (a plugin refusing makes the worker fail and stop). It accepts nothing until
    // start_listening(): the server first learns whether every worker of the generation started.
    void start();
    // Any thread, after started(true): begin accepting connections.
    void start_listening();
    // Any thread: stop accepting, drain, exit the loop. Draining (DESIGN.md §6): a closing
    // listener first accepts what its queue holds; each of its connections answers its next
    // request with Connection: close, and one that stays idle through limits.drain_timeout is
    // closed then, so no client's request races the close of an idle keep-alive connection.
    // Listeners that drain last (WorkerShared::drains_last) go on serving until
    // release_last_listeners(); busy connections are cut after limits.shutdown_timeout.
    // kClose on a stop, where the listening sockets close with the workers; kLiveOn on a reload,
    // where the next generation's workers accept on the same sockets.
    enum class Sockets : uint8_t { kLiveOn, kClose };
    void request_stop(Sockets sockets);
    // Any thread: every worker of the generation has drained its front; the listeners serving
    // this config's own upstreams drain now.
    void release_last_listeners();
    void join();
    bool failed() const { return failed_; }

    // -- for connections and exchanges, on this worker's thread --
    uv_loop_t *loop() override { return &loop_; }
    const Config &config() const override { return shared_.config; }
    const proxyd_host *host() const { return &shared_.host.api; }
    const Logger &logger() const override { return shared_.logger; }
    const LogFile &access_log() const { return shared_.access_log; }
    DateCache &dates() override { return dates_; }
    // A listener's head and body limits as its connections' parsers take them: one copy per
    // listener here rather than one per connection (an idle connection's bytes count).
    const RequestLimits &request_limits(const ListenerConfig &listener) const;
    unsigned index() const { return index_; }
    bool stopping() const override { return stopping_; }
    // Any thread: the caller is this worker's own thread (host calls about its requests check it).
    bool on_own_thread() const override { return std::this_thread::get_id() == thread_id_; }
    // A connection of this listener answers its next request with Connection: close.
    bool draining(const ListenerConfig &listener) const {
        return stopping_ && (stage_ == DrainStage::kLast || !drains_last(listener));
    }
    void *plugin_worker(const PluginInstance *instance) const override;
    // What plugins get as this worker's proxyd_worker_handle (create_worker_ex, worker_post).
    const proxyd_worker_handle *plugin_handle() const { return &handle_; }
    UpstreamPool &upstream(size_t index) override { return *upstreams_[index]; }
    size_t upstream_index(const UpstreamConfig &group) const override {
        return static_cast<size_t>(&group - shared_.config.upstreams.data());
    }
    const DiscoveryService *discovery() const override { return shared_.discovery; }
    // Any thread: a group's discovered peers changed; the worker's pool takes the table on the
    // worker's own thread. Ignored once the worker is stopping.
    void post_discovery(size_t upstream, std::shared_ptr<const SlotTable> table);
    WorkerMetrics &metrics() { return metrics_; }
    // The counts of the group whose balancer picks on this thread right now (set by the pool
    // around its pick hook): what pick_in_flight (ABI 1.4) reads; null outside a pick.
    const ConnectionLimits *picking() const override { return picking_; }
    void set_picking(const ConnectionLimits *limits) override { picking_ = limits; }

    // The loop's shared buffers (UpstreamWorker says what each is for).
    char *read_buffer() override { return read_buffer_.get(); }
    WriteBlocks &write_blocks() override { return write_blocks_; }
    TlsBuffers &tls_buffers() override { return tls_buffers_; }
    // Scratch buffers of proxied exchanges, recycled from one to the next.
    ExchangeBufferPool &exchange_buffers() override { return exchange_buffers_; }
    // Requests' state for client connections, taken while a request is in progress.
    ClientRequestPool &client_requests() { return client_requests_; }
    // nghttp2's small blocks for this worker's HTTP/2 sessions.
    H2MemoryPool &h2_memory() { return h2_memory_; }
    // Content responses an ABI 1.0 plugin still holds after their client left.
    ContentOrphans &content_orphans() override { return content_orphans_; }
    // Calls plugins post to this worker (proxyd_host.worker_post); post() from any thread.
    PostQueue &posts() { return posts_; }
    // Plugin timers and thread-pool work on this loop (timer_start, queue_work): refused once the
    // worker has closed its handles (its last connection is gone after a stop).
    PluginWaits &plugin_waits() { return plugin_waits_; }
    bool accepts_plugin_waits() const { return !closed_; }
    // A request id of proxyd's own: a random start per worker plus a count, in 16 hex digits, so
    // ids are unique within the process for all practical purposes (and cost no lock).
    void make_request_id(char (&out)[16]) { write_request_id(request_id_base_ + ++request_ids_, out); }

    void connection_opened(ClientConnection *c);
    void connection_closed(ClientConnection *c);

  private:
    struct ListenerHandle {
        uv_tcp_t tcp;
        Worker *worker;
        const ListenerConfig *config;
        bool paused = false;
    };

    // Which listeners are draining: first those that do not drain last, then all.
    enum class DrainStage : uint8_t { kFront, kLast };

    bool drains_last(const ListenerConfig &listener) const;
    void run();
    void listen_on_all();
    void begin_stop();
    void begin_drain(DrainStage stage);
    void on_release_last();
    void close_drained_listeners();
    void close_idle_draining();
    void check_drain_progress();
    void close_everything();
    void send_async(uv_async_t &async);
    static void on_connection(uv_stream_t *server, int status);

    const WorkerShared &shared_;
    unsigned index_;
    proxyd_worker_handle handle_{this};
    std::vector<ListenFd> listen_fds_;
    Reports reports_;
    WorkerMetrics &metrics_;
    uv_loop_t loop_{};
    uv_async_t stop_async_{};
    uv_async_t listen_async_{};
    uv_async_t release_async_{};
    bool listening_ = false;     // start_listening() has taken effect
    std::mutex loop_open_mutex_; // request_stop() from other threads against the loop's end
    bool loop_open_ = false;
    uv_timer_t grace_timer_{};
    uv_timer_t accept_drain_timer_{}; // a closing listener accepts what is already queued first
    uv_timer_t idle_drain_timer_{};   // limits.drain_timeout: then idle draining connections close
    unsigned drain_rounds_ = 0;
    unsigned settle_rounds_ = 0; // rounds a closing listener waits after refusing new handshakes
    DrainStage stage_ = DrainStage::kFront;
    size_t stage_listeners_open_ = 0; // listeners of the draining stage not closed yet
    size_t front_connections_ = 0;    // connections of listeners that do not drain last
    bool front_reported_ = false;
    std::atomic<bool> sockets_close_{false}; // set by request_stop() before it wakes the loop
    std::thread thread_;
    std::thread::id thread_id_; // set by the thread itself, before any plugin code runs on it
    std::vector<std::unique_ptr<ListenerHandle>> listeners_;
    std::unordered_map<const PluginInstance *, void *> plugin_workers_;
    std::vector<std::unique_ptr<UpstreamPool>> upstreams_;
    std::unordered_set<ClientConnection *> connections_;
    std::unique_ptr<char[]> read_buffer_;
    WriteBlocks write_blocks_;
    TlsBuffers tls_buffers_;
    ExchangeBufferPool exchange_buffers_;
    H2MemoryPool h2_memory_;            // before any connection: their sessions give blocks back
    ClientRequestPool client_requests_; // before content_orphans_: an orphan's connection gives one back
    ContentOrphans content_orphans_;
    PostQueue posts_;
    PluginWaits plugin_waits_;
    std::vector<RequestLimits> request_limits_; // by listener index
    uint64_t request_id_base_;
    uint64_t request_ids_ = 0;
    const ConnectionLimits *picking_ = nullptr;
    DateCache dates_;
    uint64_t last_limit_warning_ms_ = 0;
    bool stopping_ = false;
    bool closed_ = false;
    bool failed_ = false;
};

} // namespace proxyd
