#include "server/worker.hpp"

#include "proxy/upstream_pool.hpp"
#include "server/client_connection.hpp"

#include <unistd.h>

namespace proxyd {

Worker::Worker(const WorkerShared &shared, unsigned index, std::vector<int> listen_fds,
               std::function<void()> exited)
    : shared_(shared), index_(index), listen_fds_(std::move(listen_fds)), exited_(std::move(exited)),
      metrics_(shared.metrics.add_worker(shared.config)), read_buffer_(new char[kReadBufferSize]) {}

Worker::~Worker() {
    join();
    for (int fd : listen_fds_)
        if (fd >= 0) ::close(fd);
}

void Worker::start() { thread_ = std::thread([this] { run(); }); }

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::request_stop() {
    // uv_async_send is the one libuv call that is safe from another thread.
    uv_async_send(&stop_async_);
}

void *Worker::plugin_worker(const PluginInstance *instance) const {
    auto it = plugin_workers_.find(instance);
    return it == plugin_workers_.end() ? nullptr : it->second;
}

void Worker::run() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, [](uv_async_t *a) { static_cast<Worker *>(a->data)->begin_stop(); });
    stop_async_.data = this;
    uv_timer_init(&loop_, &grace_timer_);
    grace_timer_.data = this;

    // Per-worker plugin state is created here, on the worker's own thread (plugin.h lifetimes).
    const Config &config = shared_.config;
    auto create_state = [&](const PluginInstance *instance) {
        if (!instance || plugin_workers_.count(instance)) return;
        void *state = nullptr;
        if (instance->create_worker(&state) != PROXYD_OK) {
            logger().error("worker " + std::to_string(index_) + ": plugin " + instance->module().name() + " (" +
                           instance->label() + ") could not create its worker state");
            failed_ = true;
        }
        plugin_workers_[instance] = state;
    };
    for (const auto &h : config.handlers) create_state(h.instance);
    for (const auto &l : config.listeners) create_state(l.router);
    for (const auto &u : config.upstreams) create_state(u.balancer);
    for (size_t i = 0; i < config.upstreams.size(); ++i)
        upstreams_.push_back(std::make_unique<UpstreamPool>(
            *this, config.upstreams[i], plugin_worker(config.upstreams[i].balancer), metrics_.upstream(i)));

    for (size_t i = 0; i < config.listeners.size() && !failed_; ++i) {
        auto handle = std::make_unique<ListenerHandle>();
        handle->worker = this;
        handle->config = &config.listeners[i];
        uv_tcp_init(&loop_, &handle->tcp);
        handle->tcp.data = handle.get();
        int rc = uv_tcp_open(&handle->tcp, listen_fds_[i]);
        if (rc == 0) {
            listen_fds_[i] = -1; // the handle owns it now
            rc = uv_listen(reinterpret_cast<uv_stream_t *>(&handle->tcp), 4096, on_connection);
        }
        if (rc != 0) {
            logger().error("worker " + std::to_string(index_) + ": listen on " + config.listeners[i].listen_text +
                           ": " + uv_strerror(rc));
            failed_ = true;
        }
        listeners_.push_back(std::move(handle));
    }
    if (failed_) begin_stop();

    uv_run(&loop_, UV_RUN_DEFAULT);

    upstreams_.clear();
    for (auto &[instance, state] : plugin_workers_) instance->destroy_worker(state);
    plugin_workers_.clear();
    uv_loop_close(&loop_);
    metrics_.retire();
    exited_();
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

void Worker::connection_closed(ClientConnection *c) {
    connections_.erase(c);
    if (stopping_) return finish_stop_if_idle();
    for (auto &l : listeners_) {
        if (!l->paused || connections_.size() >= config().limits.max_connections) continue;
        l->paused = false;
        ClientConnection::accept(*this, *l->config, reinterpret_cast<uv_stream_t *>(&l->tcp));
    }
}

void Worker::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    for (auto &l : listeners_)
        if (!uv_is_closing(reinterpret_cast<uv_handle_t *>(&l->tcp)))
            uv_close(reinterpret_cast<uv_handle_t *>(&l->tcp), nullptr);
    // Idle keep-alive connections go now; busy ones close after their current response.
    std::vector<ClientConnection *> snapshot(connections_.begin(), connections_.end());
    for (ClientConnection *c : snapshot) c->close_if_idle();
    uv_timer_start(
        &grace_timer_,
        [](uv_timer_t *t) {
            auto *self = static_cast<Worker *>(t->data);
            self->logger().warn("worker " + std::to_string(self->index_) + ": grace period over, closing " +
                                std::to_string(self->connections_.size()) + " connection(s)");
            std::vector<ClientConnection *> left(self->connections_.begin(), self->connections_.end());
            for (ClientConnection *c : left) c->abort();
        },
        static_cast<uint64_t>(config().limits.shutdown_timeout.count()), 0);
    finish_stop_if_idle();
}

void Worker::finish_stop_if_idle() {
    if (!connections_.empty() || closed_) return;
    close_everything();
}

void Worker::close_everything() {
    closed_ = true;
    for (auto &u : upstreams_) u->close_all_idle();
    uv_close(reinterpret_cast<uv_handle_t *>(&grace_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&stop_async_), nullptr);
}

} // namespace proxyd
