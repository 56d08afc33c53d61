// One attempt of a request on a peer: from the balancer's pick until the attempt ends, however it
// ends. Its end reaches the balancer exactly once (attempt_done, ABI 1.1): through end(), or, when
// the Attempt is destroyed or replaced before that, as the outcome set by end_when_dropped()
// (ABORTED unless told otherwise: proxyd itself cut the attempt, because the client left or a stop
// or reload closed the connection). An exchange holds its current attempt by value, so no path
// out of it, error or not, can skip the report. Worker thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <proxyd/plugin.h>
#include <utility>
#include <uv.h>

namespace proxyd {

// Who hears how attempts ended (the upstream pool, which tells the balancer).
class AttemptSink {
  public:
    // lease: what the sink handed out with the pick (Attempt's constructor), back to it.
    virtual void attempt_done(size_t peer, uint32_t lease, const proxyd_attempt &attempt) = 0;

  protected:
    ~AttemptSink() = default;
};

class Attempt {
  public:
    Attempt() = default; // no attempt: reports nothing
    // timed: the sink wants duration_ns. A sink that reports nowhere (a balancer without
    // attempt_done) spares the request path the two clock reads.
    // lease: the sink's own tag for this pick (the slot's lease, connection_limits.hpp); it
    // stays readable after the end.
    Attempt(AttemptSink &sink, size_t peer, bool timed = true, uint32_t lease = 0)
        : sink_(&sink), peer_(peer), lease_(lease), start_ns_(timed ? uv_hrtime() : 0) {}
    ~Attempt() { end(if_dropped_); }
    Attempt(Attempt &&other) noexcept { take(other); }
    Attempt &operator=(Attempt &&other) noexcept {
        if (this != &other) {
            end(if_dropped_);
            take(other);
        }
        return *this;
    }
    Attempt(const Attempt &) = delete;
    Attempt &operator=(const Attempt &) = delete;

    // A pick that is not reported yet.
    bool open() const { return sink_ != nullptr; }
    size_t peer() const { return peer_; }
    uint32_t lease() const { return lease_; }
    // The final response head's status, reported with the end (0 until one arrived).
    void set_status(int status) { status_ = status; }
    int status() const { return status_; }
    // The outcome reported when the attempt ends without end(): a 101 tunnel that proxyd no
    // longer watches ends as SUCCESS whenever it closes.
    void end_when_dropped(proxyd_outcome outcome) { if_dropped_ = outcome; }

    // Ends the attempt as end_when_dropped() says: the exchange lets it go unfinished.
    void drop() { end(if_dropped_); }
    // Reports the end now; nothing after the first report is reported.
    void end(proxyd_outcome outcome) {
        AttemptSink *sink = std::exchange(sink_, nullptr);
        if (!sink) return;
        proxyd_attempt attempt{};
        attempt.struct_size = sizeof(proxyd_attempt);
        attempt.outcome = outcome;
        attempt.status = status_;
        attempt.duration_ns = start_ns_ ? uv_hrtime() - start_ns_ : 0;
        sink->attempt_done(peer_, lease_, attempt);
    }

  private:
    void take(Attempt &other) {
        sink_ = std::exchange(other.sink_, nullptr);
        peer_ = other.peer_;
        lease_ = other.lease_;
        start_ns_ = other.start_ns_;
        status_ = other.status_;
        if_dropped_ = other.if_dropped_;
    }

    AttemptSink *sink_ = nullptr;
    size_t peer_ = 0;
    uint32_t lease_ = 0;
    uint64_t start_ns_ = 0;
    int status_ = 0;
    proxyd_outcome if_dropped_ = PROXYD_OUTCOME_ABORTED;
};

} // namespace proxyd
