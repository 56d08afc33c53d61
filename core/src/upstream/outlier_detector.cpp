#include "upstream/outlier_detector.hpp"

#include <algorithm>

namespace proxyd {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// One more in a row; true when that reaches the threshold (0: this count is off).
bool reaches(std::atomic<uint32_t> &count, uint32_t threshold) {
    return count.fetch_add(1, kRelaxed) + 1 >= threshold && threshold > 0;
}

} // namespace

OutlierDetector::OutlierDetector(const OutlierConfig &config, size_t peers)
    : config_(config), count_(peers), peers_(new Peer[peers]), occupied_(peers) {}

void OutlierDetector::renew(size_t peer, bool occupied) {
    Peer &p = peers_[peer];
    p.consecutive_5xx.store(0, kRelaxed);
    p.consecutive_connect_failures.store(0, kRelaxed);
    p.consecutive_timeouts.store(0, kRelaxed);
    p.ejections.store(0, kRelaxed);
    p.ejected_until_ms.store(0, kRelaxed);
    if (p.occupied.exchange(occupied, kRelaxed) != occupied) {
        if (occupied)
            occupied_.fetch_add(1, kRelaxed);
        else
            occupied_.fetch_sub(1, kRelaxed);
    }
}

uint64_t OutlierDetector::ejection_ms(const OutlierConfig &config, uint32_t n) {
    uint64_t base = static_cast<uint64_t>(config.base_ejection.count());
    uint64_t cap = static_cast<uint64_t>(config.max_ejection.count());
    return std::min(cap, base * std::max<uint32_t>(n, 1));
}

size_t OutlierDetector::max_ejected(const OutlierConfig &config, size_t peers) {
    if (peers < 2 || config.max_ejection_percent == 0) return 0;
    size_t share = peers * config.max_ejection_percent / 100;
    return std::clamp<size_t>(share, 1, peers - 1);
}

const char *OutlierDetector::reason_text(Reason reason) {
    switch (reason) {
    case Reason::k5xx:
        return "consecutive 5xx";
    case Reason::kConnectFailures:
        return "consecutive connect failures";
    case Reason::kTimeouts:
        return "consecutive timeouts";
    case Reason::kNone:
        break;
    }
    return "none";
}

OutlierDetector::Reason OutlierDetector::report(size_t peer, Event event, uint64_t now_ms,
                                                uint64_t &ejected_for_ms) {
    if (!config_.enabled) return Reason::kNone;
    Peer &p = peers_[peer];
    if (!p.occupied.load(kRelaxed)) return Reason::kNone; // a late report about a peer now gone
    Reason reason = Reason::kNone;
    switch (event) {
    case Event::kResponse:
        p.consecutive_5xx.store(0, kRelaxed);
        p.consecutive_connect_failures.store(0, kRelaxed);
        p.consecutive_timeouts.store(0, kRelaxed);
        return Reason::kNone;
    case Event::k5xx:
        // Any response shows the peer reachable and answering in time.
        p.consecutive_connect_failures.store(0, kRelaxed);
        p.consecutive_timeouts.store(0, kRelaxed);
        if (reaches(p.consecutive_5xx, config_.consecutive_5xx)) reason = Reason::k5xx;
        break;
    case Event::kConnectFailure:
        if (reaches(p.consecutive_connect_failures, config_.consecutive_connect_failures))
            reason = Reason::kConnectFailures;
        break;
    case Event::kTimeout:
        if (reaches(p.consecutive_timeouts, config_.consecutive_timeouts)) reason = Reason::kTimeouts;
        break;
    }
    if (reason == Reason::kNone || !eject(peer, now_ms, ejected_for_ms)) return Reason::kNone;
    return reason;
}

size_t OutlierDetector::ejected_count(uint64_t now_ms) const {
    size_t n = 0;
    for (size_t i = 0; i < count_; ++i)
        n += ejected(i, now_ms) && peers_[i].occupied.load(kRelaxed) ? 1 : 0;
    return n;
}

bool OutlierDetector::eject(size_t peer, uint64_t now_ms, uint64_t &ejected_for_ms) {
    Peer &p = peers_[peer];
    uint64_t previous = p.ejected_until_ms.load(kRelaxed);
    size_t cap = max_ejected(config_, occupied());
    // Already out (another worker's report got there first), or the group's share is used up:
    // the counts stay, so the next failure asks again.
    if (previous > now_ms || ejected_count(now_ms) >= cap) return false;
    uint64_t max_ms = static_cast<uint64_t>(config_.max_ejection.count());
    uint32_t n = previous != 0 && now_ms >= previous + max_ms ? 1 : p.ejections.load(kRelaxed) + 1;
    uint64_t length = ejection_ms(config_, n);
    if (!p.ejected_until_ms.compare_exchange_strong(previous, now_ms + length, kRelaxed)) return false;
    if (ejected_count(now_ms) > cap) {
        // Another peer was ejected at the same moment and took the last place: undo ours.
        p.ejected_until_ms.store(previous, kRelaxed);
        return false;
    }
    p.ejections.store(n, kRelaxed);
    p.consecutive_5xx.store(0, kRelaxed);
    p.consecutive_connect_failures.store(0, kRelaxed);
    p.consecutive_timeouts.store(0, kRelaxed);
    ejected_for_ms = length;
    return true;
}

} // namespace proxyd
