// Token buckets by key, for one worker: each key's bucket holds up to `burst` tokens and refills
// at `rate` tokens a second; a request takes one or is refused with the seconds until one is
// back. The table holds at most max_keys buckets: the least recently used go first. Each call also
// forgets up to two idle buckets at the cold end (full again: forgetting one changes nothing), so
// an idle table shrinks without a timer. When the table is full of busy keys, the coldest busy key
// is forgotten anyway (counted in evicted_busy()): a flood of new keys can then reset an old key's
// bucket, the price of a bounded table.
#ifndef PROXYD_PLUGINS_FILTER_RATE_LIMIT_TOKEN_BUCKETS_HPP
#define PROXYD_PLUGINS_FILTER_RATE_LIMIT_TOKEN_BUCKETS_HPP

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace proxyd::rate_limit {

class TokenBuckets {
  public:
    // rate > 0 tokens a second, burst >= 1, max_keys >= 1.
    TokenBuckets(double rate, double burst, size_t max_keys);
    TokenBuckets(const TokenBuckets &) = delete;
    TokenBuckets &operator=(const TokenBuckets &) = delete;

    struct Decision {
        bool allowed = true;
        uint64_t retry_after_s = 0; // when refused: whole seconds until a token is back, >= 1
    };
    // now_ns: a monotonic clock; it must not go backwards between calls.
    Decision take(std::string_view key, uint64_t now_ns);

    size_t size() const { return lru_.size(); }
    uint64_t evicted_busy() const { return evicted_busy_; }

  private:
    struct Bucket {
        std::string key;
        double tokens;
        uint64_t updated_ns;
    };
    using Lru = std::list<Bucket>; // front: most recently used

    double tokens_at(const Bucket &bucket, uint64_t now_ns) const;
    void forget(Lru::iterator it);

    double rate_;
    double burst_;
    size_t max_keys_;
    Lru lru_;
    // Views into the keys of lru_'s nodes, which never move.
    std::unordered_map<std::string_view, Lru::iterator> index_;
    uint64_t evicted_busy_ = 0;
};

} // namespace proxyd::rate_limit

#endif
