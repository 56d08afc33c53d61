#include "health/health_checker.hpp"

#include "health/peer_probe.hpp"

namespace proxyd {

HealthChecker::HealthChecker(const Config &config, HealthBoard &board, const Logger &logger)
    : config_(config), board_(board), logger_(logger) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
    bool any = false;
    for (const auto &u : config_.upstreams)
        any = any || u.health_check.has_value();
    if (!any || thread_.joinable()) return;
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, [](uv_async_t *a) {
        auto *self = static_cast<HealthChecker *>(a->data);
        for (auto &p : self->probes_)
            p->close();
        uv_close(reinterpret_cast<uv_handle_t *>(&self->stop_async_), nullptr);
    });
    stop_async_.data = this;
    // The probes are made here, before the thread runs, and touched only by it until stop().
    for (size_t g = 0; g < config_.upstreams.size(); ++g) {
        const UpstreamConfig &u = config_.upstreams[g];
        if (!u.health_check) continue;
        uint64_t interval = static_cast<uint64_t>(u.health_check->interval.count());
        for (size_t p = 0; p < u.peers.size(); ++p)
            // A slot of peers found in DNS changes address under the workers; checks cover the
            // peers the config names (docs/operating.md).
            if (!u.peers[p].discovered)
                probes_.push_back(std::make_unique<PeerProbe>(&loop_, *u.health_check, u.peers[p],
                                                          board_.group(g), p, logger_,
                                                          interval * p / u.peers.size()));
    }
    thread_ = std::thread([this] { run(); });
}

void HealthChecker::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void HealthChecker::stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_async_);
    thread_.join();
    probes_.clear();
    uv_loop_close(&loop_);
}

} // namespace proxyd
