#include "upstream/retry_budget.hpp"

namespace proxyd {

RetryBudget::Bucket &RetryBudget::bucket(uint64_t second) {
    Bucket &b = buckets_[second % kWindowSeconds];
    uint64_t seen = b.second.load(std::memory_order_relaxed);
    // The first to see a new second empties the bucket it takes over from an older one (a worker
    // whose clock read is a little behind another's counts into the newer second).
    if ((seen == kUnused || seen < second) &&
        b.second.compare_exchange_strong(seen, second, std::memory_order_relaxed)) {
        b.requests.store(0, std::memory_order_relaxed);
        b.retries.store(0, std::memory_order_relaxed);
    }
    return b;
}

void RetryBudget::count_request(uint64_t now_ms) {
    if (!config_.enabled()) return;
    bucket(now_ms / 1000).requests.fetch_add(1, std::memory_order_relaxed);
}

bool RetryBudget::try_retry(uint64_t now_ms) {
    if (!config_.enabled()) return true;
    uint64_t second = now_ms / 1000;
    Bucket &current = bucket(second);
    uint64_t requests = 0, retries = 0;
    for (const Bucket &b : buckets_) {
        uint64_t s = b.second.load(std::memory_order_relaxed);
        if (s == kUnused || s > second || second - s >= kWindowSeconds) continue; // outside the window
        requests += b.requests.load(std::memory_order_relaxed);
        retries += b.retries.load(std::memory_order_relaxed);
    }
    if (static_cast<double>(retries) + 1 > allowance(config_, requests)) return false;
    current.retries.fetch_add(1, std::memory_order_relaxed);
    return true;
}

} // namespace proxyd
