#include "server/server.hpp"

#include "admin/admin_server.hpp"
#include "admin/metrics.hpp"
#include "server/listen_socket.hpp"
#include "server/worker.hpp"

#include <atomic>
#include <csignal>
#include <memory>
#include <unistd.h>
#include <uv.h>

namespace proxyd {
namespace {

struct SignalState {
    std::vector<std::unique_ptr<Worker>> *workers;
    const Logger *logger;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_async_t worker_exited; // sent by each worker thread as it ends
    std::atomic<unsigned> workers_running{0};
    bool stopping = false;
};

void on_stop_signal(uv_signal_t *handle, int signum) {
    auto *state = static_cast<SignalState *>(handle->data);
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (state->stopping) {
        // The watchers stay installed until every worker is done, so a second signal cannot
        // fall back to the default action and kill requests mid-flight.
        state->logger->info(std::string("received ") + name + " again: still waiting for in-flight requests");
        return;
    }
    state->stopping = true;
    state->logger->info(std::string("received ") + name + ": stopping (in-flight requests finish first)");
    for (auto &w : *state->workers) w->request_stop();
}

void on_worker_exited(uv_async_t *handle) {
    auto *state = static_cast<SignalState *>(handle->data);
    if (state->workers_running.load() != 0) return;
    uv_close(reinterpret_cast<uv_handle_t *>(&state->sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&state->sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&state->worker_exited), nullptr);
}

} // namespace

int run_server(const Config &config, const PluginHost &host, const Logger &logger, const LogFile &access_log) {
    // Sockets first, all of them, so a taken address fails start-up before anything serves.
    for (const auto &l : config.listeners) {
        std::string error;
        if (!check_address_free(l.address, l.listen_text, error)) {
            logger.error("listener '" + l.name + "': " + error);
            return 1;
        }
    }
    // Owned here, not by a generation: counters outlive any one config and its workers.
    MetricsStore metrics;
    metrics.begin_generation(config, 1);
    std::unique_ptr<AdminServer> admin;
    if (config.admin.enabled) {
        admin =
            std::make_unique<AdminServer>(config.admin.address, config.admin.listen_text, metrics, logger);
        std::string error;
        if (!admin->open(error)) {
            logger.error("admin listener: " + error);
            return 1;
        }
    }
    std::vector<std::vector<int>> fds(config.workers);
    for (unsigned w = 0; w < config.workers; ++w) {
        for (const auto &l : config.listeners) {
            std::string error;
            int fd = open_listen_socket(l.address, l.listen_text, error);
            if (fd < 0) {
                logger.error("listener '" + l.name + "': " + error);
                for (auto &list : fds)
                    for (int f : list) ::close(f);
                return 1;
            }
            fds[w].push_back(fd);
        }
    }

    std::signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<std::unique_ptr<Worker>> workers;
    SignalState signals;
    signals.workers = &workers;
    signals.logger = &logger;
    signals.workers_running = config.workers;
    uv_signal_init(&loop, &signals.sigint);
    uv_signal_init(&loop, &signals.sigterm);
    uv_async_init(&loop, &signals.worker_exited, on_worker_exited);
    signals.sigint.data = signals.sigterm.data = signals.worker_exited.data = &signals;
    uv_signal_start(&signals.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&signals.sigterm, on_stop_signal, SIGTERM);

    WorkerShared shared{config, host, logger, access_log, metrics};
    for (unsigned w = 0; w < config.workers; ++w)
        workers.push_back(std::make_unique<Worker>(shared, w, std::move(fds[w]), [&signals] {
            --signals.workers_running;
            uv_async_send(&signals.worker_exited);
        }));

    for (auto &w : workers) w->start();
    if (admin) admin->start();
    std::string where;
    for (const auto &l : config.listeners) where += (where.empty() ? "" : ", ") + l.listen_text + " (" + l.name + ")";
    logger.info("proxyd " PROXYD_VERSION " serving " + where + " with " + std::to_string(config.workers) +
                " worker(s)");

    uv_run(&loop, UV_RUN_DEFAULT);
    for (auto &w : workers) w->join();
    admin.reset();
    uv_loop_close(&loop);

    bool failed = false;
    for (auto &w : workers) failed = failed || w->failed();
    logger.info(failed ? "stopped after a worker failed" : "stopped");
    return failed ? 1 : 0;
}

} // namespace proxyd
