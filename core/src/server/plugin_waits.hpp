// What plugins wait on, on a worker's loop (plugin.h, 1.3): timers (timer_start/timer_cancel)
// and work on libuv's thread pool (queue_work). Worker thread only.
//
// A timer calls its function once, or never once cancelled; the core frees it after either,
// through the handle's close callback. Timers still waiting when the worker closes its handles
// are cancelled without a call. Work runs on a pool thread, then its done call on the loop; the
// loop does not end while any is outstanding, so a stop waits for it and done runs before
// destroy_worker.
#pragma once

#include <cstdint>
#include <proxyd/plugin.h>
#include <unordered_set>
#include <uv.h>

namespace proxyd {
class PluginWaits;
}

struct proxyd_timer {
    uv_timer_t handle;
    void (*fn)(void *arg);
    void *arg;
    proxyd::PluginWaits *owner;
};

namespace proxyd {

class PluginWaits {
  public:
    int start_timer(uv_loop_t *loop, uint64_t delay_ms, void (*fn)(void *), void *arg, proxyd_timer **timer);
    void cancel_timer(proxyd_timer *timer);
    int queue_work(uv_loop_t *loop, void (*work)(void *), void (*done)(void *), void *arg);
    // Closes every timer that has not fired, without calling it.
    void cancel_timers();

  private:
    static void close_timer(proxyd_timer *timer);
    std::unordered_set<proxyd_timer *> timers_; // started, not fired nor cancelled
};

} // namespace proxyd
