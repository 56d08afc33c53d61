// LazyTimer on a real uv loop. Only lower bounds on elapsed time are asserted (a shared machine
// may run late, never early), plus one generous upper bound where a deadline moved earlier.
#include "net/lazy_timer.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;

namespace {

struct Probe {
    LazyTimer timer;
    int fired = 0;
    uint64_t fired_at = 0;
    int rearm_times = 0; // how many more times the callback arms it again
    uv_loop_t *loop = nullptr;
};

void on_fire(void *owner) {
    auto *p = static_cast<Probe *>(owner);
    ++p->fired;
    p->fired_at = uv_now(p->loop);
    if (p->rearm_times > 0) {
        --p->rearm_times;
        p->timer.arm(5);
    }
}

// Runs the loop until every handle has closed; the timer is closed by a second timer at stop_ms.
void run_until(uv_loop_t *loop, Probe &probe, uint64_t stop_ms) {
    uv_timer_t stopper;
    uv_timer_init(loop, &stopper);
    stopper.data = &probe;
    uv_timer_start(
        &stopper,
        [](uv_timer_t *t) {
            auto *p = static_cast<Probe *>(t->data);
            uv_close(p->timer.handle(), nullptr);
            uv_close(reinterpret_cast<uv_handle_t *>(t), nullptr);
        },
        stop_ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
}

} // namespace

TEST_CASE("a lazy timer fires once, at its latest deadline", "[net]") {
    uv_loop_t loop;
    uv_loop_init(&loop);
    Probe probe;
    probe.loop = &loop;
    probe.timer.init(&loop, &probe, on_fire);
    uint64_t start = uv_now(&loop);

    SECTION("moved later: the early uv timer re-arms for the rest") {
        probe.timer.arm(20);
        probe.timer.arm(60);
        run_until(&loop, probe, 400);
        CHECK(probe.fired == 1);
        CHECK(probe.fired_at - start >= 60);
    }
    SECTION("moved earlier: it fires at the earlier deadline") {
        probe.timer.arm(5000);
        probe.timer.arm(20);
        run_until(&loop, probe, 400);
        CHECK(probe.fired == 1);
        CHECK(probe.fired_at - start >= 20);
        CHECK(probe.fired_at - start < 5000);
    }
    SECTION("cancelled: it does not fire, and armed() says so") {
        probe.timer.arm(20);
        probe.timer.cancel();
        CHECK_FALSE(probe.timer.armed());
        run_until(&loop, probe, 100);
        CHECK(probe.fired == 0);
    }
    SECTION("cancelled, then armed again: it fires once") {
        probe.timer.arm(20);
        probe.timer.cancel();
        probe.timer.arm(40);
        CHECK(probe.timer.armed());
        run_until(&loop, probe, 400);
        CHECK(probe.fired == 1);
        CHECK(probe.fired_at - start >= 40);
    }
    SECTION("armed again from its own callback") {
        probe.rearm_times = 2;
        probe.timer.arm(5);
        run_until(&loop, probe, 400);
        CHECK(probe.fired == 3);
        CHECK_FALSE(probe.timer.armed());
    }
    REQUIRE(uv_loop_close(&loop) == 0);
}
