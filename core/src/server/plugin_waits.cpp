#include "server/plugin_waits.hpp"

#include <memory>

namespace proxyd {
namespace {

struct Work {
    uv_work_t request;
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
};

} // namespace

void PluginWaits::close_timer(proxyd_timer *timer) {
    uv_close(reinterpret_cast<uv_handle_t *>(&timer->handle),
             [](uv_handle_t *h) { delete static_cast<proxyd_timer *>(h->data); });
}

int PluginWaits::start_timer(uv_loop_t *loop, uint64_t delay_ms, void (*fn)(void *), void *arg,
                             proxyd_timer **timer) {
    auto *t = new proxyd_timer{{}, fn, arg, this};
    uv_timer_init(loop, &t->handle);
    t->handle.data = t;
    int rc = uv_timer_start(
        &t->handle,
        [](uv_timer_t *h) {
            auto *self = static_cast<proxyd_timer *>(h->data);
            self->owner->timers_.erase(self);
            // Closed before the call: the plugin's handle is spent once fn runs, whatever fn does.
            close_timer(self);
            self->fn(self->arg);
        },
        delay_ms, 0);
    if (rc != 0) {
        close_timer(t);
        return PROXYD_EINVAL;
    }
    timers_.insert(t);
    *timer = t;
    return PROXYD_OK;
}

void PluginWaits::cancel_timer(proxyd_timer *timer) {
    // A timer that fired (or was cancelled) is gone: nothing to do, and its memory may be too.
    if (!timers_.erase(timer)) return;
    uv_timer_stop(&timer->handle);
    close_timer(timer);
}

void PluginWaits::cancel_timers() {
    for (proxyd_timer *timer : timers_)
        close_timer(timer);
    timers_.clear();
}

int PluginWaits::queue_work(uv_loop_t *loop, void (*work)(void *), void (*done)(void *), void *arg) {
    auto w = std::make_unique<Work>(Work{{}, work, done, arg});
    w->request.data = w.get();
    int rc = uv_queue_work(
        loop, &w->request,
        [](uv_work_t *r) { static_cast<Work *>(r->data)->work(static_cast<Work *>(r->data)->arg); },
        [](uv_work_t *r, int) {
            // Never cancelled by proxyd (uv_cancel), so done follows work whatever the status.
            std::unique_ptr<Work> self(static_cast<Work *>(r->data));
            self->done(self->arg);
        });
    if (rc != 0) return PROXYD_EINVAL;
    (void)w.release(); // the after-work callback owns it
    return PROXYD_OK;
}

} // namespace proxyd
