// The active health checks of one config generation: one thread with its own uv loop, one
// PeerProbe per peer of every group with a health_check table, for the whole process (not per
// worker). Its verdicts go to the generation's HealthBoard, which every worker reads without a
// lock. It starts with the generation's workers and stops when the generation retires or ends,
// so two generations never check the same peers for long.
#pragma once

#include "config/config.hpp"
#include "health/health_board.hpp"
#include "log/logger.hpp"

#include <memory>
#include <thread>
#include <uv.h>
#include <vector>

namespace proxyd {

class PeerProbe;

class HealthChecker {
  public:
    HealthChecker(const Config &config, HealthBoard &board, const Logger &logger);
    ~HealthChecker();
    HealthChecker(const HealthChecker &) = delete;
    HealthChecker &operator=(const HealthChecker &) = delete;

    // Main thread: starts the thread, unless no group has checks.
    void start();
    // Main thread: stops the checks and joins the thread; the board keeps its last verdicts.
    void stop();

  private:
    void run();

    const Config &config_;
    HealthBoard &board_;
    const Logger &logger_;
    uv_loop_t loop_{};
    uv_async_t stop_async_{};
    std::vector<std::unique_ptr<PeerProbe>> probes_;
    std::thread thread_;
};

} // namespace proxyd
