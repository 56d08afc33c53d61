// One peer's active health check, repeated every interval on the health checker's loop: a TCP
// connect, and for an http check one HTTP/1.1 request with Connection: close, over TLS to a peer
// that speaks it (ProbeExchange: the handshake with the group's TLS settings, the request, the
// answer judged). Each result goes through RiseFall; a change of state is published to
// the peer's PeerHealth (what workers read) and logged once. A probe of a discovered slot checks
// whoever occupies the slot now (occupy()), and publishes only while that occupant holds the slot.
// Checker thread only.
#pragma once

#include "config/health_check_config.hpp"
#include "health/health_board.hpp"
#include "health/health_rules.hpp"
#include "log/logger.hpp"
#include "net/net_address.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <uv.h>

namespace proxyd {

struct ProbeCheck; // one check's connection, freed when its handle has closed
class TlsClientContext;

class PeerProbe {
  public:
    // first_delay_ms spreads a group's first checks over its interval. tls is the group's client
    // side (not null when any of its peers speaks TLS; it outlives the probe). peer is null for
    // a discovered slot, which is vacant until occupy() fills it.
    PeerProbe(uv_loop_t *loop, const HealthCheckConfig &config, const TlsClientContext *tls,
              const PeerConfig *peer, GroupHealth &group, size_t index, const Logger &logger,
              uint64_t first_delay_ms);
    ~PeerProbe() = default;
    PeerProbe(const PeerProbe &) = delete;
    PeerProbe &operator=(const PeerProbe &) = delete;

    // Closes the timers and any check in progress; the loop must run until they have closed.
    void close();
    // A discovered slot's occupant (null: vacant) numbered as the HealthBoard numbered it. A new
    // occupant drops the check in progress and starts from the board's state, checked at once.
    void occupy(std::shared_ptr<const PeerConfig> peer, uint32_t occupant);

    // -- for ProbeCheck --
    void finish(bool pass, const std::string &reason);

  private:
    void start_check();
    void schedule(uint64_t delay_ms);
    void write_request();
    bool holds_slot() const;

    const HealthCheckConfig &config_;
    const TlsClientContext *tls_;
    const PeerConfig *peer_;                 // null while a discovered slot is vacant
    std::shared_ptr<const PeerConfig> held_; // a discovered occupant, kept alive while checked
    uint32_t occupant_ = 0;                  // the board's number for it (0 for a fixed peer)
    GroupHealth &group_;
    size_t index_;
    const Logger &logger_;
    std::string request_; // the whole HTTP request, written once per check
    RiseFall verdicts_;
    uv_loop_t *loop_;
    uv_timer_t interval_timer_{};
    uv_timer_t timeout_timer_{};
    ProbeCheck *check_ = nullptr; // the check in progress
    std::string last_failure_;    // why the latest check failed, for the line that marks it down
    bool closed_ = false;
};

} // namespace proxyd
