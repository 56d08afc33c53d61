#include "server/worker_post.hpp"

#include "server/worker.hpp"
#include "server/worker_handle.hpp"

#include <utility>

namespace proxyd {

void PostQueue::open(uv_loop_t *loop) {
    uv_async_init(loop, &async_, on_async);
    async_.data = this;
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
}

int PostQueue::post(Fn fn, void *arg) {
    if (!fn) return PROXYD_EINVAL;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!open_) return PROXYD_ESTATE;
    calls_.push_back(Call{fn, arg});
    // Under the lock: close() cannot have closed the handle in between.
    uv_async_send(&async_);
    return PROXYD_OK;
}

void PostQueue::close() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!open_) return;
        open_ = false;
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&async_), nullptr);
}

void PostQueue::on_async(uv_async_t *async) { static_cast<PostQueue *>(async->data)->run_queued(); }

// The calls run outside the lock, so a call may post again (it runs on a later wake-up).
void PostQueue::run_queued() {
    std::deque<Call> calls;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        calls.swap(calls_);
    }
    for (const Call &call : calls)
        call.fn(call.arg);
}

void PostQueue::run_remaining() {
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (calls_.empty()) return;
        }
        run_queued();
    }
}

int worker_post(const proxyd_worker_handle *worker, void (*fn)(void *arg), void *arg) {
    if (!worker || !worker->worker) return PROXYD_EINVAL;
    return worker->worker->posts().post(fn, arg);
}

} // namespace proxyd
