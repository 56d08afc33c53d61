// The calls plugins post to a worker from any thread (proxyd_host.worker_post): a queue under a
// mutex and a uv_async_t that runs them on the worker's loop, in the order they were posted (so
// in order per posting thread). Posting is accepted from open() until close(), which the worker
// calls once it has no connection left and closes its handles; a call accepted before close()
// runs, on the worker's thread, even if only in run_remaining() after the loop has ended.
#pragma once

#include <proxyd/plugin.h>

#include <deque>
#include <mutex>
#include <uv.h>

namespace proxyd {

class PostQueue {
  public:
    using Fn = void (*)(void *arg);

    // Loop thread, or before the loop's thread starts.
    void open(uv_loop_t *loop);
    // Any thread. PROXYD_ESTATE once closed (fn will then never run), PROXYD_EINVAL without fn.
    int post(Fn fn, void *arg);
    // Loop thread: refuses further posts and closes the async handle (its close runs in the loop).
    void close();
    // Loop thread, after the loop ended: runs what was accepted but not run yet.
    void run_remaining();

  private:
    struct Call {
        Fn fn;
        void *arg;
    };
    static void on_async(uv_async_t *async);
    void run_queued();

    std::mutex mutex_;
    std::deque<Call> calls_; // under mutex_
    bool open_ = false;      // under mutex_
    uv_async_t async_{};
};

// proxyd_host.worker_post (request_host_calls.cpp fills it in).
int worker_post(const proxyd_worker_handle *worker, void (*fn)(void *arg), void *arg);

} // namespace proxyd
