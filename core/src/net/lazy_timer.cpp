#include "net/lazy_timer.hpp"

#include <type_traits>

namespace proxyd {

static_assert(std::is_standard_layout_v<LazyTimer>, "on_timer casts the handle back to its LazyTimer");

void LazyTimer::init(uv_loop_t *loop, void *owner, Callback fire) {
    uv_timer_init(loop, &timer_);
    timer_.data = owner;
    fire_ = fire;
}

void LazyTimer::arm(uint64_t ms) {
    deadline_ = uv_now(timer_.loop) + ms;
    if (due_ != 0 && due_ <= deadline_) return; // it fires first and re-arms for the rest
    uv_timer_start(&timer_, on_timer, ms, 0);
    due_ = deadline_;
}

void LazyTimer::on_timer(uv_timer_t *timer) {
    auto *self = reinterpret_cast<LazyTimer *>(timer);
    self->due_ = 0;
    if (self->deadline_ == 0) return;
    uint64_t now = uv_now(timer->loop);
    if (now < self->deadline_) {
        uv_timer_start(timer, on_timer, self->deadline_ - now, 0);
        self->due_ = self->deadline_;
        return;
    }
    self->deadline_ = 0;
    self->fire_(timer->data); // may arm again
}

} // namespace proxyd
