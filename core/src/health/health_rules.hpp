// The rules of active health, without I/O or clocks of their own, so unit tests drive them with
// plain values: rise/fall counting of check results, and the slow start curve.
#pragma once

#include <cstdint>

namespace proxyd {

// What active checks say of a peer. Unchecked: no verdict yet (no check configured, none finished,
// or a new generation that had nothing to inherit); such a peer is in rotation. Pending: a peer that
// DNS discovery just placed in a checked group, out of rotation until its first check decides.
enum class CheckState : uint8_t { unchecked, up, down, pending };
// What an operator said of a peer through the admin listener. Drain and maintenance take it out
// of rotation (in-flight requests finish); maintenance also pauses its checks.
enum class AdminState : uint8_t { ready, drain, maintenance };
// The result of the latest finished check.
enum class CheckResult : uint8_t { none, pass, fail };

// Consecutive results decide: `fall` failures in a row take a peer that is up (or unchecked) down,
// `rise` passes in a row bring a down peer back up. An unchecked peer's first pass makes it up at
// once: it was in rotation already. A pending peer's first result decides at once either way: it
// was never in rotation, so one pass lets it in and one failure marks it down (then `rise` passes
// bring it in). One checker thread owns each counter.
class RiseFall {
  public:
    explicit RiseFall(CheckState initial = CheckState::unchecked) : state_(initial) {}

    CheckState state() const { return state_; }
    // Counts one result; true when it changed the state (what the checker logs, once per change).
    bool record(bool pass, uint32_t rise, uint32_t fall) {
        if (pass) {
            fails_ = 0;
            if (state_ == CheckState::up) return false;
            if (state_ == CheckState::unchecked || state_ == CheckState::pending || ++passes_ >= rise)
                return become(CheckState::up);
            return false;
        }
        passes_ = 0;
        if (state_ == CheckState::down) return false;
        if (state_ == CheckState::pending || ++fails_ >= fall) return become(CheckState::down);
        return false;
    }
    // Consecutive results counted towards the next change.
    uint32_t streak() const { return state_ == CheckState::down ? passes_ : fails_; }

  private:
    bool become(CheckState next) {
        bool changed = next != state_;
        state_ = next;
        passes_ = fails_ = 0;
        return changed;
    }

    CheckState state_;
    uint32_t passes_ = 0;
    uint32_t fails_ = 0;
};

// Whether balancers may offer a peer in this state (while some other peer is in rotation).
inline bool in_rotation(CheckState state) {
    return state == CheckState::unchecked || state == CheckState::up;
}

// Slow start: the share of its weight, in percent, that a peer gets elapsed_ms after it came back
// (or joined), ramping linearly from kSlowStartFloorPercent to 100 over slow_start_ms.
inline constexpr uint32_t kSlowStartFloorPercent = 10;
inline uint32_t slow_start_percent(uint64_t elapsed_ms, uint64_t slow_start_ms) {
    if (slow_start_ms == 0 || elapsed_ms >= slow_start_ms) return 100;
    return kSlowStartFloorPercent +
           static_cast<uint32_t>((100 - kSlowStartFloorPercent) * elapsed_ms / slow_start_ms);
}

} // namespace proxyd
