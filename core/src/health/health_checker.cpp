#include "health/health_checker.hpp"

#include "health/peer_probe.hpp"

#include <cstdint>

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
        uv_close(reinterpret_cast<uv_handle_t *>(&self->follow_async_), nullptr);
    });
    uv_async_init(&loop_, &follow_async_,
                  [](uv_async_t *a) { static_cast<HealthChecker *>(a->data)->take_followed(); });
    stop_async_.data = follow_async_.data = this;
    // The probes are made here, before the thread runs, and touched only by it until stop().
    first_slot_probe_.assign(config_.upstreams.size(), SIZE_MAX);
    for (size_t g = 0; g < config_.upstreams.size(); ++g) {
        const UpstreamConfig &u = config_.upstreams[g];
        if (!u.health_check) continue;
        uint64_t interval = static_cast<uint64_t>(u.health_check->interval.count());
        for (size_t p = 0; p < u.peers.size(); ++p) {
            // A discovered slot's probe is vacant until follow() names its occupant.
            if (u.peers[p].discovered && first_slot_probe_[g] == SIZE_MAX)
                first_slot_probe_[g] = probes_.size();
            probes_.push_back(std::make_unique<PeerProbe>(
                &loop_, *u.health_check, u.tls.get(), u.peers[p].discovered ? nullptr : &u.peers[p],
                board_.group(g), p, logger_, interval * p / u.peers.size()));
        }
    }
    take_followed();
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        running_ = true;
    }
    thread_ = std::thread([this] { run(); });
}

void HealthChecker::follow(size_t upstream, std::vector<std::shared_ptr<const PeerConfig>> peers,
                           std::vector<uint32_t> occupants) {
    if (!config_.upstreams[upstream].health_check) return;
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    // Only the latest placement of a group matters.
    std::erase_if(inbox_, [&](const Occupants &o) { return o.upstream == upstream; });
    inbox_.push_back({upstream, std::move(peers), std::move(occupants)});
    if (running_) uv_async_send(&follow_async_);
}

void HealthChecker::take_followed() {
    std::vector<Occupants> taken;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        taken.swap(inbox_);
    }
    for (Occupants &o : taken) {
        size_t first = o.upstream < first_slot_probe_.size() ? first_slot_probe_[o.upstream] : SIZE_MAX;
        if (first == SIZE_MAX) continue;
        for (size_t k = 0; k < o.peers.size() && k < o.numbers.size() && first + k < probes_.size(); ++k)
            probes_[first + k]->occupy(std::move(o.peers[k]), o.numbers[k]);
    }
}

void HealthChecker::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void HealthChecker::stop() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        running_ = false;
    }
    uv_async_send(&stop_async_);
    thread_.join();
    probes_.clear();
    uv_loop_close(&loop_);
}

} // namespace proxyd
