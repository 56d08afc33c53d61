// One generation of the running server: a loaded Config and everything that must live exactly as
// long as it: its log files and logger, the host table its plugins hold a pointer to, and the
// workers serving it. A reload (SIGHUP) builds a new generation beside the old one; the old one
// is destroyed, on the main thread, only after all of its workers have exited, because their
// threads and its plugin instances still use its config and logs until then.
#pragma once

#include "config/config_loader.hpp"
#include "discovery/discovery_service.hpp"
#include "health/health_board.hpp"
#include "health/health_checker.hpp"
#include "log/logger.hpp"
#include "server/host_table.hpp"
#include "server/worker.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace proxyd {

class Generation {
  public:
    // Loads the config at path with its plugins and opens its log files. Plugins that log while
    // loading go to loading_logger. Its workers count into metrics, which outlives every generation. nullptr,
    // with every problem appended to errors, on failure.
    static std::unique_ptr<Generation> load(uint64_t number, const std::string &path, LoadOptions options,
                                            const Logger &loading_logger, MetricsStore &metrics,
                                            std::vector<std::string> &errors);
    ~Generation();
    Generation(const Generation &) = delete;
    Generation &operator=(const Generation &) = delete;

    uint64_t number() const { return number_; } // 1 for the configuration started with
    const Config &config() const { return *config_; }
    const Logger &logger() const { return *logger_; }
    const WorkerShared &shared() const { return *shared_; }
    // Its DNS discovery of upstream peers (main thread; started by the server on its loop).
    DiscoveryService &discovery() { return *discovery_; }
    // Its peers' health, shared with the MetricsStore so the admin thread can show and set it.
    const std::shared_ptr<HealthBoard> &health() const { return health_; }
    // Main thread: the active health checks start with the workers, and stop when the generation
    // retires (its board keeps the last verdicts for the requests it still finishes).
    void start_health_checks() { checker_->start(); }
    void stop_health_checks() { checker_->stop(); }
    // Main thread: DNS discovery placed peers into upstream's slots (table); the health board
    // resets the slots whose address changed, and the checker follows them. Before the table
    // reaches the workers, so none of them offers a new peer on its predecessor's verdict.
    void place_discovered(size_t upstream, const SlotTable &table);

    // SIGUSR1: both log files opened anew at their configured paths. Main thread.
    bool reopen_logs(std::string &error);

    // The workers, started by the server; running counts those whose thread has not ended yet,
    // listening those that set up their plugin state and sockets, refused those that could not.
    std::vector<std::unique_ptr<Worker>> workers;
    std::atomic<unsigned> running{0};
    std::atomic<unsigned> listening{0};
    std::atomic<unsigned> refused{0};
    // Stopping: workers whose front listeners have drained (Worker::Reports::front_drained).
    std::atomic<unsigned> fronts_drained{0};
    bool last_listeners_released = false; // main thread only
    bool every_worker_reported() const { return listening.load() + refused.load() == workers.size(); }

  private:
    explicit Generation(uint64_t number) : number_(number) {}

    uint64_t number_;
    // The destructor joins the workers first; then these go bottom-up: the config with its plugin
    // instances, then the logger and files they may log to while being destroyed, then the host
    // table they point to.
    PluginHost host_{};
    LogFile error_log_;
    LogFile access_log_;
    std::unique_ptr<Logger> logger_;
    std::unique_ptr<Config> config_;
    std::unique_ptr<DiscoveryService> discovery_; // after the config it reads, before the workers' view
    std::shared_ptr<HealthBoard> health_;
    std::unique_ptr<HealthChecker> checker_; // stopped before the workers are joined
    std::unique_ptr<WorkerShared> shared_;
};

} // namespace proxyd
