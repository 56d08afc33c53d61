// A group's connections in use per peer and its queue length, counted across every worker, so
// that max_connections caps what a peer carries from the whole process (HAProxy's maxconn) and
// queue_size what waits for it. A connection is in use from the pick of an attempt until that
// attempt ends (attempt.hpp); pooled idle connections do not count. Lock-free: an acquire is a
// compare-exchange that never takes a peer past its limit.
//
// A slot of discovered peers that gets another peer starts again from zero (renew): each slot's
// count shares one 64-bit word with the slot's lease, which renew() moves on, and an attempt
// gives back only what it took under the lease it holds, so requests still in flight on the old
// address neither count against the new one nor drive its count below zero.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace proxyd {

class ConnectionLimits {
  public:
    // max_per_peer 0: no limit (the counts are kept for the admin pages and balancers all the same).
    ConnectionLimits(uint32_t max_per_peer, uint32_t queue_size, size_t peers)
        : max_(max_per_peer), queue_size_(queue_size), peers_(peers),
          slots_(new std::atomic<uint64_t>[peers]) {
        for (size_t i = 0; i < peers; ++i)
            slots_[i].store(0, std::memory_order_relaxed);
    }

    size_t peers() const { return peers_; }
    bool at_limit(size_t peer) const { return max_ != 0 && in_use(peer) >= max_; }
    uint32_t in_use(size_t peer) const { return count_of(slots_[peer].load(std::memory_order_relaxed)); }
    // The slot's current lease: what an attempt picked now holds.
    uint32_t lease(size_t peer) const { return lease_of(slots_[peer].load(std::memory_order_relaxed)); }
    // False when the peer is at its limit; else counts one more and says under which lease.
    bool acquire(size_t peer, uint32_t &lease) {
        uint64_t word = slots_[peer].load(std::memory_order_relaxed);
        do {
            if (max_ != 0 && count_of(word) >= max_) return false;
        } while (!slots_[peer].compare_exchange_weak(word, word + 1, std::memory_order_relaxed));
        lease = lease_of(word);
        return true;
    }
    // Gives back what acquire took under lease; nothing once the slot was renewed since.
    void release(size_t peer, uint32_t lease) {
        uint64_t word = slots_[peer].load(std::memory_order_relaxed);
        do {
            if (lease_of(word) != lease || count_of(word) == 0) return;
        } while (!slots_[peer].compare_exchange_weak(word, word - 1, std::memory_order_relaxed));
    }
    // Another peer fills the slot (or none): a new lease, nothing in use.
    void renew(size_t peer) {
        uint64_t word = slots_[peer].load(std::memory_order_relaxed);
        while (!slots_[peer].compare_exchange_weak(word, uint64_t(lease_of(word) + 1) << 32,
                                                   std::memory_order_relaxed)) {
        }
    }

    // A place in the queue; false when it is full.
    bool enter_queue() { return queue_size_ != 0 && take(queued_, queue_size_); }
    // Back in the queue after a turn that found no slot: the place it just left is still its own.
    void enter_queue_unchecked() { queued_.fetch_add(1, std::memory_order_relaxed); }
    void leave_queue() { queued_.fetch_sub(1, std::memory_order_relaxed); }
    uint32_t queued() const { return queued_.load(std::memory_order_relaxed); }

  private:
    static uint32_t count_of(uint64_t word) { return static_cast<uint32_t>(word); }
    static uint32_t lease_of(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
    static bool take(std::atomic<uint32_t> &count, uint32_t limit) {
        uint32_t n = count.load(std::memory_order_relaxed);
        do {
            if (limit != 0 && n >= limit) return false;
        } while (!count.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return true;
    }

    uint32_t max_;
    uint32_t queue_size_;
    size_t peers_;
    std::unique_ptr<std::atomic<uint64_t>[]> slots_; // per peer: lease << 32 | in use
    std::atomic<uint32_t> queued_{0};
};

} // namespace proxyd
