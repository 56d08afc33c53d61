// The active health checks of one config generation: one thread with its own uv loop, one
// PeerProbe per peer of every group with a health_check table, for the whole process (not per
// worker). Its verdicts go to the generation's HealthBoard, which every worker reads without a
// lock. It starts with the generation's workers and stops when the generation retires or ends,
// so two generations never check the same peers for long. A group's discovered slots each have a
// probe too, following the slot's occupant as DNS discovery publishes it (follow()).
#pragma once

#include "config/config.hpp"
#include "health/health_board.hpp"
#include "log/logger.hpp"

#include <memory>
#include <mutex>
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
    // Main thread, before or after start(): who fills the discovered slots of upstream now, one
    // entry per slot (null: vacant), with the occupant numbers HealthBoard::place_discovered gave.
    // The checker thread takes the latest of each group from here.
    void follow(size_t upstream, std::vector<std::shared_ptr<const PeerConfig>> peers,
                std::vector<uint32_t> occupants);

  private:
    struct Occupants {
        size_t upstream;
        std::vector<std::shared_ptr<const PeerConfig>> peers;
        std::vector<uint32_t> numbers;
    };

    void run();
    void take_followed(); // the checker thread (or start(), before it runs)

    const Config &config_;
    HealthBoard &board_;
    const Logger &logger_;
    uv_loop_t loop_{};
    uv_async_t stop_async_{};
    uv_async_t follow_async_{};
    std::vector<std::unique_ptr<PeerProbe>> probes_;
    // probes_ index of each group's first discovered slot's probe (SIZE_MAX: none)
    std::vector<size_t> first_slot_probe_;
    std::thread thread_;
    std::mutex inbox_mutex_; // main thread and checker thread; never a worker
    std::vector<Occupants> inbox_;
    bool running_ = false; // under inbox_mutex_: follow() may wake the loop
};

} // namespace proxyd
