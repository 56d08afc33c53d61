// Outlier ejection for one upstream group, shared by every worker (Envoy's outlier detection): a
// peer that answers 5xx, fails to connect or times out the configured number of times in a row,
// counted across all workers, is left out of the balancer's choice for base_ejection times the
// number of its ejections (at most max_ejection), and never more than max_ejection_percent of the
// group at once. Its count of ejections starts again once it has served max_ejection past its
// last one. Lock-free: relaxed atomics per peer; an ejection is a compare-exchange, undone when a
// racing ejection of another peer took the last place under the cap. Times are milliseconds of
// one monotonic clock (every worker's uv_now()).
//
// A slot of discovered peers (UpstreamConfig::discovery) counts only while a peer fills it: a
// vacant slot is neither ejected nor part of the base of max_ejection_percent, and a slot that
// gets another peer starts with clean counts (renew, from the thread that publishes discovery).
#pragma once

#include "config/upstream_policies.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace proxyd {

class OutlierDetector {
  public:
    enum class Event : uint8_t { kResponse, k5xx, kConnectFailure, kTimeout };
    enum class Reason : uint8_t { kNone, k5xx, kConnectFailures, kTimeouts };

    OutlierDetector(const OutlierConfig &config, size_t peers);

    // Counts an attempt's end; when it ejects the peer, says why and sets ejected_for_ms.
    Reason report(size_t peer, Event event, uint64_t now_ms, uint64_t &ejected_for_ms);
    bool ejected(size_t peer, uint64_t now_ms) const {
        return peers_[peer].ejected_until_ms.load(std::memory_order_relaxed) > now_ms;
    }
    uint64_t ejected_until_ms(size_t peer) const {
        return peers_[peer].ejected_until_ms.load(std::memory_order_relaxed);
    }

    // The arithmetic, for tests: the n-th ejection's length (n >= 1), and how many peers of a
    // group may be out at once (at least one, never all).
    static uint64_t ejection_ms(const OutlierConfig &config, uint32_t n);
    static size_t max_ejected(const OutlierConfig &config, size_t peers);

    static const char *reason_text(Reason reason);

    // The slot's peer changed: its counts and ejections start again; occupied false for a
    // vacant slot. Every slot starts occupied.
    void renew(size_t peer, bool occupied);
    // How many slots hold a peer (the base of max_ejection_percent).
    size_t occupied() const { return occupied_.load(std::memory_order_relaxed); }

  private:
    struct Peer {
        std::atomic<uint32_t> consecutive_5xx{0};
        std::atomic<uint32_t> consecutive_connect_failures{0};
        std::atomic<uint32_t> consecutive_timeouts{0};
        std::atomic<uint32_t> ejections{0};
        std::atomic<uint64_t> ejected_until_ms{0};
        std::atomic<bool> occupied{true};
    };
    size_t ejected_count(uint64_t now_ms) const;
    bool eject(size_t peer, uint64_t now_ms, uint64_t &ejected_for_ms);

    OutlierConfig config_;
    size_t count_;
    std::unique_ptr<Peer[]> peers_;
    std::atomic<size_t> occupied_;
};

} // namespace proxyd
