// Weighted least-connections: the peer with the fewest requests in flight for its weight
// (in_flight / weight, lowest first), ties broken round-robin. A pick counts a request in flight on
// its peer; the attempt's end (attempt_done, ABI 1.1) takes it off again.
#ifndef PROXYD_PLUGINS_LEAST_CONN_HPP
#define PROXYD_PLUGINS_LEAST_CONN_HPP

#include <cstddef>
#include <cstdint>
#include <proxyd/plugin.h>
#include <span>
#include <string>
#include <vector>

namespace proxyd::least_conn {

// The counts of one worker for one peer group. Not thread-safe: each worker owns its own.
class LeastConn {
  public:
    explicit LeastConn(size_t peer_count = 0) : in_flight_(peer_count, 0) {}

    // Index of the peer to use among those not tried (tried may be nullptr: none tried), skipping
    // down peers unless every untried one is down; -1 when every peer was tried. Counts the pick
    // in flight. peers must have the same length and order on every call. loads, when given (one
    // per peer), is what the choice weighs instead of this worker's own counts: the process-wide
    // counts of scope = "process"; the pick is counted in this worker's all the same.
    int pick(std::span<const proxyd_peer> peers, const bool *tried, const uint32_t *loads = nullptr);
    // The attempt on peer ended, however it ended.
    void done(size_t peer);

    const std::vector<uint32_t> &in_flight() const { return in_flight_; }
    // "[1,0,2]", for logs.
    std::string in_flight_text() const;

  private:
    int choose(std::span<const proxyd_peer> peers, const bool *tried, bool include_down,
               const uint32_t *loads) const;

    std::vector<uint32_t> in_flight_;
    size_t next_ = 0; // where the round-robin among equals starts
};

} // namespace proxyd::least_conn

#endif
