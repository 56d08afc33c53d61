// A group's retry budget, shared by every worker (Linkerd's: retries may add at most `ratio` of the
// requests of the last kWindowSeconds, plus min_per_second for each of its seconds), so a failing
// backend cannot multiply its own load. Lock-free: one bucket per second of the window, counted
// with relaxed atomics. A bucket that a second boundary reuses can lose a count or two to a racing
// worker, and workers that spend the last retry at once can overshoot by one each: a budget, not
// an exact quota. Times are milliseconds of one monotonic clock (every worker's uv_now()).
#pragma once

#include "config/upstream_policies.hpp"

#include <array>
#include <atomic>
#include <cstdint>

namespace proxyd {

class RetryBudget {
  public:
    static constexpr uint64_t kWindowSeconds = 10;

    explicit RetryBudget(const RetryBudgetConfig &config) : config_(config) {}

    // A request reached the group (its first attempt).
    void count_request(uint64_t now_ms);
    // Whether a retry may go now; when it may, it is counted. Always true without a budget.
    bool try_retry(uint64_t now_ms);
    // The retries the window allows for this many requests (the arithmetic, for tests).
    static double allowance(const RetryBudgetConfig &config, uint64_t requests) {
        return config.ratio * static_cast<double>(requests) +
               static_cast<double>(config.min_per_second) * static_cast<double>(kWindowSeconds);
    }

  private:
    static constexpr uint64_t kUnused = ~uint64_t(0);
    struct Bucket {
        std::atomic<uint64_t> second{kUnused};
        std::atomic<uint64_t> requests{0};
        std::atomic<uint64_t> retries{0};
    };
    Bucket &bucket(uint64_t second);

    RetryBudgetConfig config_;
    std::array<Bucket, kWindowSeconds> buckets_;
};

} // namespace proxyd
