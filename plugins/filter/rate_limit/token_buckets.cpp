#include "token_buckets.hpp"

#include <algorithm>
#include <cmath>

namespace proxyd::rate_limit {

TokenBuckets::TokenBuckets(double rate, double burst, size_t max_keys)
    : rate_(rate), burst_(burst), max_keys_(std::max<size_t>(max_keys, 1)) {
    index_.reserve(std::min<size_t>(max_keys_, 4096));
}

double TokenBuckets::tokens_at(const Bucket &bucket, uint64_t now_ns) const {
    double elapsed_s =
        now_ns > bucket.updated_ns ? static_cast<double>(now_ns - bucket.updated_ns) / 1e9 : 0.0;
    return std::min(burst_, bucket.tokens + elapsed_s * rate_);
}

void TokenBuckets::forget(Lru::iterator it) {
    index_.erase(std::string_view(it->key));
    lru_.erase(it);
}

TokenBuckets::Decision TokenBuckets::take(std::string_view key, uint64_t now_ns) {
    for (int i = 0; i < 2 && !lru_.empty(); ++i) {
        auto coldest = std::prev(lru_.end());
        if (coldest->key == key || tokens_at(*coldest, now_ns) < burst_) break;
        forget(coldest);
    }

    Bucket *bucket = nullptr;
    if (auto found = index_.find(key); found != index_.end()) {
        lru_.splice(lru_.begin(), lru_, found->second);
        bucket = &lru_.front();
        bucket->tokens = tokens_at(*bucket, now_ns);
    } else {
        while (lru_.size() >= max_keys_) {
            auto coldest = std::prev(lru_.end());
            if (tokens_at(*coldest, now_ns) < burst_) ++evicted_busy_;
            forget(coldest);
        }
        lru_.push_front(Bucket{std::string(key), burst_, now_ns});
        index_.emplace(std::string_view(lru_.front().key), lru_.begin());
        bucket = &lru_.front();
    }
    bucket->updated_ns = now_ns;

    if (bucket->tokens >= 1.0) {
        bucket->tokens -= 1.0;
        return Decision{true, 0};
    }
    double wait_s = (1.0 - bucket->tokens) / rate_;
    return Decision{false, std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(wait_s - 1e-9)))};
}

} // namespace proxyd::rate_limit
