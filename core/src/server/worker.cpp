#include "server/worker.hpp"

#include "net/refuse_handshakes.hpp"
#include "server/client_connection.hpp"
#include "upstream/upstream_pool.hpp"

#include <algorithm>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace proxyd {
namespace {

bool has_queued_connection(const uv_handle_t *listener) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(listener, &fd) != 0) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

RequestLimits parser_limits(const LimitsConfig &limits) {
    RequestLimits out;
    out.max_header_bytes = limits.max_header_bytes;
    out.max_headers = limits.max_headers;
    out.max_body_bytes = limits.max_body_bytes;
    out.allow_bare_lf = limits.allow_bare_lf;
    return out;
}

} // namespace

Worker::Worker(const WorkerShared &shared, unsigned index, std::vector<ListenFd> listen_fds, Reports reports)
    : shared_(shared), index_(index), listen_fds_(std::move(listen_fds)), reports_(std::move(reports)),
      metrics_(shared.metrics.add_worker(shared.config)), read_buffer_(new char[kReadBufferSize]),
      request_id_base_(std::random_device{}() * 0x100000000ull + std::random_device{}()) {
    for (const ListenerConfig &listener : shared.config.listeners)
        request_limits_.push_back(parser_limits(listener.limits));
}

const RequestLimits &Worker::request_limits(const ListenerConfig &listener) const {
    return request_limits_[static_cast<size_t>(&listener - config().listeners.data())];
}

Worker::~Worker() {
    join();
    for (const ListenFd &l : listen_fds_)
        if (l.fd >= 0) ::close(l.fd);
}

void Worker::start() {
    // The loop and the stop handle exist before the thread does, so request_stop() is safe from
    // the moment start() returns (a stop or a second reload may come right after a reload).
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, [](uv_async_t *a) { static_cast<Worker *>(a->data)->begin_stop(); });
    stop_async_.data = this;
    uv_async_init(&loop_, &listen_async_,
                  [](uv_async_t *a) { static_cast<Worker *>(a->data)->listen_on_all(); });
    listen_async_.data = this;
    uv_async_init(&loop_, &release_async_,
                  [](uv_async_t *a) { static_cast<Worker *>(a->data)->on_release_last(); });
    release_async_.data = this;
    posts_.open(&loop_);
    loop_open_ = true;
    thread_ = std::thread([this] { run(); });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::send_async(uv_async_t &async) {
    // uv_async_send is the one libuv call that is safe from another thread, but only while the
    // loop is open: a worker that failed may have ended before the server stops the others.
    std::lock_guard<std::mutex> lock(loop_open_mutex_);
    if (loop_open_) uv_async_send(&async);
}

void Worker::request_stop(Sockets sockets) {
    if (sockets == Sockets::kClose) sockets_close_ = true;
    send_async(stop_async_);
}

void Worker::start_listening() { send_async(listen_async_); }

void Worker::release_last_listeners() { send_async(release_async_); }

bool Worker::drains_last(const ListenerConfig &listener) const {
    auto index = static_cast<size_t>(&listener - shared_.config.listeners.data());
    return index < shared_.drains_last.size() && shared_.drains_last[index];
}

void Worker::listen_on_all() {
    if (stopping_ || listening_) return;
    for (auto &handle : listeners_) {
        // listen(2) on a socket the server opened for this generation; on one handed over from
        // the previous generation it only makes the loop watch it. A failure here would leave
        // that socket out of the port's group, not unserved in it; the worker then stops.
        int rc = uv_listen(reinterpret_cast<uv_stream_t *>(&handle->tcp), 4096, on_connection);
        if (rc != 0) {
            logger().error("worker " + std::to_string(index_) + ": listen on " + handle->config->listen_text +
                           ": " + uv_strerror(rc));
            failed_ = true;
            return begin_stop();
        }
    }
    listening_ = true;
}

void *Worker::plugin_worker(const PluginInstance *instance) const {
    auto it = plugin_workers_.find(instance);
    return it == plugin_workers_.end() ? nullptr : it->second;
}

void Worker::run() {
    thread_id_ = std::this_thread::get_id();
    uv_timer_init(&loop_, &grace_timer_);
    grace_timer_.data = this;
    uv_timer_init(&loop_, &accept_drain_timer_);
    accept_drain_timer_.data = this;
    uv_timer_init(&loop_, &idle_drain_timer_);
    idle_drain_timer_.data = this;

    // Per-worker plugin state is created here, on the worker's own thread (plugin.h lifetimes).
    const Config &config = shared_.config;
    auto create_state = [&](const PluginInstance *instance) {
        if (!instance || plugin_workers_.count(instance)) return;
        void *state = nullptr;
        proxyd_worker_info info{};
        info.struct_size = sizeof(proxyd_worker_info);
        info.index = index_;
        info.count = config.workers;
        info.handle = plugin_handle();
        if (instance->create_worker(info, &state) != PROXYD_OK) {
            logger().error("worker " + std::to_string(index_) + ": plugin " + instance->module().name() +
                           " (" + instance->label() + ") could not create its worker state");
            failed_ = true;
        }
        plugin_workers_[instance] = state;
    };
    for (const auto &h : config.handlers)
        create_state(h.instance);
    for (const auto &l : config.listeners)
        create_state(l.router);
    for (const auto &u : config.upstreams)
        create_state(u.balancer);
    for (const auto &f : config.filters)
        create_state(f.instance);
    for (size_t i = 0; i < config.upstreams.size(); ++i)
        upstreams_.push_back(std::make_unique<UpstreamPool>(*this, config.upstreams[i],
                                                            plugin_worker(config.upstreams[i].balancer),
                                                            metrics_.upstream(i), shared_.health.group(i),
                                                            *shared_.upstreams[i]));

    for (size_t i = 0; i < listen_fds_.size() && !failed_; ++i) {
        const ListenerConfig &listener = config.listeners[listen_fds_[i].listener];
        auto handle = std::make_unique<ListenerHandle>();
        handle->worker = this;
        handle->config = &listener;
        uv_tcp_init(&loop_, &handle->tcp);
        handle->tcp.data = handle.get();
        int rc = uv_tcp_open(&handle->tcp, listen_fds_[i].fd);
        if (rc == 0) {
            listen_fds_[i].fd = -1; // the handle owns it now
        } else {
            logger().error("worker " + std::to_string(index_) + ": listen on " + listener.listen_text + ": " +
                           uv_strerror(rc));
            failed_ = true;
        }
        listeners_.push_back(std::move(handle));
    }
    if (failed_) {
        // Its copies of the sockets close now, before it reports: a socket of a rolled-back
        // generation must leave its SO_REUSEPORT group at once, or it keeps a share of the new
        // connections that nobody will accept.
        for (ListenFd &l : listen_fds_)
            if (l.fd >= 0) ::close(std::exchange(l.fd, -1));
        begin_stop(); // closes the listener handles: they were never listening
    }
    reports_.started(!failed_);

    uv_run(&loop_, UV_RUN_DEFAULT);
    // Calls posted before the queue closed still run, on this thread, while plugin state lives.
    posts_.run_remaining();

    upstreams_.clear();
    for (auto &[instance, state] : plugin_workers_)
        instance->destroy_worker(state);
    plugin_workers_.clear();
    // No plugin code of this worker runs any more, so nothing can finish these now.
    if (size_t orphans = content_orphans_.free_all())
        logger().warn("worker " + std::to_string(index_) + ": freed " + std::to_string(orphans) +
                      " content response(s) whose client left and that the plugin never finished");
    {
        std::lock_guard<std::mutex> lock(loop_open_mutex_);
        loop_open_ = false;
        uv_loop_close(&loop_);
    }
    metrics_.retire();
    reports_.exited();
}

void Worker::on_connection(uv_stream_t *server, int status) {
    auto *handle = static_cast<ListenerHandle *>(server->data);
    Worker &self = *handle->worker;
    if (status != 0) {
        self.logger().warn("accept on " + handle->config->listen_text + ": " + uv_strerror(status));
        return;
    }
    if (self.connections_.size() >= self.config().limits.max_connections) {
        // Leave it unaccepted: libuv then stops watching this listener until uv_accept is
        // called, and connection_closed() accepts it once a connection has gone.
        uint64_t now = uv_now(&self.loop_);
        if (!handle->paused && now - self.last_limit_warning_ms_ >= 10000) {
            self.last_limit_warning_ms_ = now;
            self.logger().warn("worker " + std::to_string(self.index_) + ": " +
                               std::to_string(self.connections_.size()) +
                               " connections (limits.max_connections): not accepting on " +
                               handle->config->listen_text + " until one closes");
        }
        handle->paused = true;
        return;
    }
    ClientConnection::accept(self, *handle->config, server);
}

void Worker::post_discovery(size_t upstream, std::shared_ptr<const SlotTable> table) {
    struct Update {
        Worker *worker;
        size_t upstream;
        std::shared_ptr<const SlotTable> table;
    };
    auto *update = new Update{this, upstream, std::move(table)};
    int rc = posts_.post(
        [](void *arg) {
            std::unique_ptr<Update> u(static_cast<Update *>(arg));
            // Before its pools exist (a worker that failed to start) there is nothing to update.
            if (u->upstream < u->worker->upstreams_.size())
                u->worker->upstreams_[u->upstream]->apply_discovery(*u->table);
        },
        update);
    if (rc != 0) delete update; // the worker is stopping
}

void Worker::connection_opened(ClientConnection *c) {
    connections_.insert(c);
    if (!drains_last(c->listener())) ++front_connections_;
}

void Worker::connection_closed(ClientConnection *c) {
    connections_.erase(c);
    if (!drains_last(c->listener())) --front_connections_;
    if (stopping_) return check_drain_progress();
    for (auto &l : listeners_) {
        if (!l->paused || connections_.size() >= config().limits.max_connections) continue;
        l->paused = false;
        ClientConnection::accept(*this, *l->config, reinterpret_cast<uv_stream_t *>(&l->tcp));
    }
}

void Worker::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    uv_timer_start(
        &grace_timer_,
        [](uv_timer_t *t) {
            auto *self = static_cast<Worker *>(t->data);
            // Only a request in progress is cut; an idle connection (a keep-alive client, another
            // worker's pooled connection to a backend listener that drains last) just closes, so
            // a worker with none warns of nothing.
            auto busy = std::count_if(self->connections_.begin(), self->connections_.end(),
                                      [](const ClientConnection *c) { return !c->idle(); });
            if (busy > 0)
                self->logger().warn("worker " + std::to_string(self->index_) +
                                    ": grace period over, cutting " + std::to_string(busy) +
                                    " connection(s) with a request in progress");
            std::vector<ClientConnection *> left(self->connections_.begin(), self->connections_.end());
            for (ClientConnection *c : left)
                c->abort();
            // Whatever the other workers are doing, this one's time is up.
            self->on_release_last();
        },
        static_cast<uint64_t>(config().limits.shutdown_timeout.count()), 0);
    begin_drain(DrainStage::kFront);
}

void Worker::on_release_last() {
    if (!stopping_ || stage_ == DrainStage::kLast || closed_) return;
    // Every front in the generation has drained, so nothing will ask these pools for a backend
    // again; closing their idle connections lets the backends' side of them close at once.
    for (auto &u : upstreams_)
        u->close_all_idle();
    begin_drain(DrainStage::kLast);
}

// Closing a listening socket resets the connections in its accept queue, which the clients saw
// as accepted. So each listener first accepts what is queued (the loop keeps running between
// rounds) and closes once its queue is empty, or after kMaxDrainRounds under a steady stream. On
// reload the socket lives on in the new workers, which take its queue.
void Worker::begin_drain(DrainStage stage) {
    static constexpr uint64_t kDrainRoundMs = 2;
    stage_ = stage;
    drain_rounds_ = 0;
    settle_rounds_ = 0;
    stage_listeners_open_ = 0;
    for (auto &l : listeners_) {
        auto *handle = reinterpret_cast<uv_handle_t *>(&l->tcp);
        if (uv_is_closing(handle) || (stage == DrainStage::kFront && drains_last(*l->config))) continue;
        ++stage_listeners_open_;
        // A socket that closes with this worker takes no new handshakes into its queue from
        // here on (their SYNs are dropped; the client retries and finds it closed, a clean
        // refusal), so the queue it still holds can be emptied before the close, which would
        // reset whatever is left in it. Under a steady stream of new connections (every client
        // told Connection: close reconnects at once) the queue would otherwise rarely be seen
        // empty. On reload the socket lives on in the new workers, untouched.
        uv_os_fd_t fd = -1;
        if (sockets_close_ && listening_ && uv_fileno(handle, &fd) == 0) {
            std::string error;
            if (!refuse_new_handshakes(fd, error)) {
                // A backlog of 0 still admits one handshake whenever the queue is empty, so a
                // connection may be reset at the close; better than many.
                logger().warn("worker " + std::to_string(index_) + ": " + l->config->listen_text + ": " +
                              error);
                ::listen(fd, 0);
            }
            settle_rounds_ = 1;
        }
    }
    close_drained_listeners();
    if (stage_listeners_open_ > 0)
        uv_timer_start(
            &accept_drain_timer_,
            [](uv_timer_t *t) { static_cast<Worker *>(t->data)->close_drained_listeners(); }, kDrainRoundMs,
            kDrainRoundMs);
    // Idle connections stay open through the drain window: their next request is answered, with
    // Connection: close, rather than racing our close of the connection.
    uv_timer_start(
        &idle_drain_timer_, [](uv_timer_t *t) { static_cast<Worker *>(t->data)->close_idle_draining(); },
        static_cast<uint64_t>(config().limits.drain_timeout.count()), 0);
    // HTTP/2 connections have no next response to say Connection: close on: they send GOAWAY now.
    for (ClientConnection *c : connections_)
        if (draining(c->listener())) c->drain_started();
    check_drain_progress();
}

void Worker::close_drained_listeners() {
    static constexpr unsigned kMaxDrainRounds = 100;
    bool last_round = ++drain_rounds_ > kMaxDrainRounds;
    for (auto &l : listeners_) {
        auto *handle = reinterpret_cast<uv_handle_t *>(&l->tcp);
        if (uv_is_closing(handle)) continue;
        if (stage_ == DrainStage::kFront && drains_last(*l->config)) continue;
        // A worker that never listened leaves what is queued to the others sharing the socket.
        bool can_accept = listening_ && !failed_ && !l->paused;
        // A handshake that passed before the filter went on completes within one round.
        bool settling = drain_rounds_ <= settle_rounds_;
        if (can_accept && (settling || has_queued_connection(handle)) && !last_round) continue;
        uv_close(handle, nullptr);
        --stage_listeners_open_;
    }
    if (stage_listeners_open_ == 0) {
        uv_timer_stop(&accept_drain_timer_);
        check_drain_progress();
    }
}

void Worker::close_idle_draining() {
    std::vector<ClientConnection *> idle(connections_.begin(), connections_.end());
    for (ClientConnection *c : idle)
        if (draining(c->listener())) c->close_if_idle();
}

void Worker::check_drain_progress() {
    if (!stopping_ || closed_ || stage_listeners_open_ > 0) return;
    if (stage_ == DrainStage::kFront) {
        if (front_connections_ > 0 || front_reported_) return;
        front_reported_ = true;
        uv_timer_stop(&idle_drain_timer_);
        reports_.front_drained();
        return;
    }
    if (!connections_.empty()) return;
    close_everything();
}

void Worker::close_everything() {
    closed_ = true;
    // Posting is refused from here on; until now (a drain included) a plugin could still post
    // the finish of a parked response.
    posts_.close();
    // Plugin timers still waiting are cancelled without a call (plugin.h); work on the thread
    // pool keeps the loop running until its done calls have run.
    plugin_waits_.cancel_timers();
    for (auto &u : upstreams_)
        u->close_all_idle();
    for (uv_handle_t *h :
         {reinterpret_cast<uv_handle_t *>(&grace_timer_),
          reinterpret_cast<uv_handle_t *>(&accept_drain_timer_),
          reinterpret_cast<uv_handle_t *>(&idle_drain_timer_), reinterpret_cast<uv_handle_t *>(&stop_async_),
          reinterpret_cast<uv_handle_t *>(&listen_async_), reinterpret_cast<uv_handle_t *>(&release_async_)})
        uv_close(h, nullptr);
}

} // namespace proxyd
