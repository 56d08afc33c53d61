// Smooth weighted round-robin (the scheme nginx uses): over a window of sum(weights) picks each
// peer is chosen weight times, and the picks of a heavy peer are spread out, not bunched.
#ifndef PROXYD_PLUGINS_SMOOTH_WRR_HPP
#define PROXYD_PLUGINS_SMOOTH_WRR_HPP

#include <cstdint>
#include <proxyd/plugin.h>
#include <span>
#include <vector>

namespace proxyd::round_robin {

// The state of one worker for one peer group. Not thread-safe: each worker owns its own.
class SmoothWrr {
  public:
    // Index of the next peer among those not down and not tried (tried may be nullptr: none
    // tried), or -1 when there is none. peers must have the same length and order on every call.
    int pick(std::span<const proxyd_peer> peers, const bool *tried);

  private:
    std::vector<int64_t> current_;
};

} // namespace proxyd::round_robin

#endif
