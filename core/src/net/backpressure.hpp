// Write-queue thresholds for flow control between the two ends of a stream the proxy relays
// (client and upstream, both ways): above kHighWater queued bytes the side feeding the queue stops
// reading, at or below kLowWater it reads again. Low enough that a queue stays in cache and a slow
// peer pins little memory; the gap between them keeps reading from flapping on and off.
#pragma once

#include <cstddef>

namespace proxyd {

struct Backpressure {
    static constexpr size_t kHighWater = 64 * 1024;
    static constexpr size_t kLowWater = 16 * 1024;
};

} // namespace proxyd
