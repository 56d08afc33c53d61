// What an upstream group does when its peers are busy or failing, beyond passive health: a cap on
// the connections each peer carries with a bounded queue in front (HAProxy's maxconn and queue),
// which failures are retried (retry_on) within a retry budget, and outlier ejection (Envoy's).
// Plain values, part of the immutable UpstreamConfig.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>

namespace proxyd {

// Which failures of an attempt send the request to another peer (still within max_tries, and only
// when that is safe: a connect failure always is; the others only for an idempotent request
// without a body).
struct RetryOn {
    bool connect_failure = true;  // "connect-failure"
    bool timeout = true;          // "timeout": no response head within read_timeout
    bool invalid_response = true; // "invalid-response": closed or garbage before a head
    std::bitset<100> statuses;    // 500..599 by status - 500: "5xx", "502", "503", ...
    bool status(int code) const { return code >= 500 && code < 600 && statuses.test(size_t(code - 500)); }
};

// Retries allowed over a sliding window (Linkerd's retry budget): ratio times the requests of the
// window, plus min_per_second for each of its seconds. Disabled when ratio < 0.
struct RetryBudgetConfig {
    double ratio = -1;
    uint32_t min_per_second = 3;
    bool enabled() const { return ratio >= 0; }
};

// Outlier ejection: a peer that fails this many times in a row (0: that count is off) is left out
// for base_ejection times the number of its ejections so far, at most max_ejection; never more
// than max_ejection_percent of the group's peers at once.
struct OutlierConfig {
    bool enabled = false;
    uint32_t consecutive_5xx = 5;
    uint32_t consecutive_connect_failures = 5;
    uint32_t consecutive_timeouts = 5;
    std::chrono::milliseconds base_ejection{30000};
    std::chrono::milliseconds max_ejection{300000};
    uint32_t max_ejection_percent = 10;
};

struct UpstreamPolicies {
    uint32_t max_connections = 0; // per peer, process-wide; 0: no limit
    uint32_t queue_size = 0;      // requests of the group waiting for a peer under its limit, process-wide
    std::chrono::milliseconds queue_timeout{5000};
    RetryOn retry_on;
    RetryBudgetConfig retry_budget;
    OutlierConfig outlier;
};

} // namespace proxyd
