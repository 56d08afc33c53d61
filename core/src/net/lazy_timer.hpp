// A one-shot timeout whose deadline moves often at almost no cost. Moving it later, or
// cancelling it, makes no libuv call: the uv timer fires at the earlier time, finds the deadline
// moved, and re-arms itself for what is left (nginx treats its timers the same way). A keep-alive
// connection re-arms its timeouts several times per request; the profile counted 5.7
// uv_timer_start and 4 uv_timer_stop per proxied request before this, each a heap operation on
// the loop's timer heap.
#pragma once

#include <cstdint>
#include <uv.h>

namespace proxyd {

class LazyTimer {
  public:
    using Callback = void (*)(void *owner);

    // The handle's data is owner, so a close callback shared with the owner's other handles finds
    // the owner as it would with a plain uv_timer_t.
    void init(uv_loop_t *loop, void *owner, Callback fire);
    // fire(owner) runs once, ms (> 0) from now in loop time, unless armed again or cancelled.
    void arm(uint64_t ms);
    void cancel() { deadline_ = 0; }
    bool armed() const { return deadline_ != 0; }
    uv_handle_t *handle() { return reinterpret_cast<uv_handle_t *>(&timer_); }

  private:
    static void on_timer(uv_timer_t *timer);

    uv_timer_t timer_{}; // the first member: on_timer finds this object from the handle
    Callback fire_ = nullptr;
    uint64_t deadline_ = 0; // loop time at which fire_ is due; 0: not armed
    uint64_t due_ = 0;      // loop time at which the uv timer fires; 0: not running
};

} // namespace proxyd
