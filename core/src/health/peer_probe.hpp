// One peer's active health check, repeated every interval on the health checker's loop: a TCP
// connect, and for an http check one HTTP/1.1 request with Connection: close whose answer the
// project's ResponseParser (llhttp) reads; the status must be in the expected range and the body
// hold the expected text. Each result goes through RiseFall; a change of state is published to
// the peer's PeerHealth (what workers read) and logged once. Checker thread only.
#pragma once

#include "config/health_check_config.hpp"
#include "config/net_address.hpp"
#include "health/health_board.hpp"
#include "health/health_rules.hpp"
#include "log/logger.hpp"

#include <cstdint>
#include <string>
#include <uv.h>

namespace proxyd {

struct ProbeCheck; // one check's connection, freed when its handle has closed

class PeerProbe {
  public:
    // first_delay_ms spreads a group's first checks over its interval.
    PeerProbe(uv_loop_t *loop, const HealthCheckConfig &config, const PeerConfig &peer, GroupHealth &group,
              size_t index, const Logger &logger, uint64_t first_delay_ms);
    ~PeerProbe() = default;
    PeerProbe(const PeerProbe &) = delete;
    PeerProbe &operator=(const PeerProbe &) = delete;

    // Closes the timers and any check in progress; the loop must run until they have closed.
    void close();

    // -- for ProbeCheck --
    void finish(bool pass, const std::string &reason);
    const HealthCheckConfig &config() const { return config_; }
    const std::string &request() const { return request_; }

  private:
    void start_check();
    void schedule(uint64_t delay_ms);

    const HealthCheckConfig &config_;
    const PeerConfig &peer_;
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
