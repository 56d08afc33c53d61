// OCSP stapling from a file: a DER OCSP response that the operator's own job fetched (`openssl
// ocsp ... -respout FILE` from cron, as for nginx's ssl_stapling_file or HAProxy's .ocsp file),
// checked when the config loads and sent to the clients that ask for it (status_request) in the
// handshakes that serve its certificate. proxyd never asks the responder itself; a reload
// (SIGHUP) reads the renewed file.
//
// A staple is immutable once loaded, so every worker's handshakes read it without a lock; the
// one flag that changes, whether its expiry was reported, is atomic.
#pragma once

#include <atomic>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

namespace proxyd {

// Whether a response may be stapled at now, from its thisUpdate and nextUpdate (RFC 6960 §4.2.2.1;
// a response without nextUpdate never goes stale). A thisUpdate up to clock_skew ahead of now
// still counts as fresh, since the responder's clock and ours differ a little.
enum class OcspFreshness { kFresh, kNotYetValid, kExpired };
OcspFreshness ocsp_freshness(std::time_t this_update, std::optional<std::time_t> next_update, std::time_t now,
                             std::time_t clock_skew = 300);

class OcspStaple {
  public:
    OcspStaple(std::string file, std::string der, std::optional<std::time_t> next_update)
        : file_(std::move(file)), der_(std::move(der)), next_update_(next_update) {}

    const std::string &file() const { return file_; }
    const std::string &der() const { return der_; }
    // False once nextUpdate has passed: a stale staple makes a must-staple client fail hard, and
    // an absent one only makes it ask the responder (or soft-fail).
    bool fresh_at(std::time_t now) const { return !next_update_ || now < *next_update_; }
    // True for the first caller only: the expiry is reported once, not at every handshake.
    bool claim_expiry_report() const { return !expiry_reported_.exchange(true, std::memory_order_relaxed); }

  private:
    std::string file_;
    std::string der_;
    std::optional<std::time_t> next_update_;
    mutable std::atomic<bool> expiry_reported_{false};
};

struct OcspLoad {
    std::shared_ptr<const OcspStaple> staple; // null: nothing to staple (error or warning says why)
    std::string error;                        // the file cannot serve this certificate at all: a config error
    std::string warning; // a genuine response that must not be stapled now (revoked, stale, not yet valid)
};

// Reads response_file (DER) and checks it answers for the first certificate of chain_file (PEM):
// status successful, a basic response with a single response for that certificate's CertID,
// whose issuer must follow it in the chain, signed by that issuer or a responder it delegated to.
// Every sentence names the file.
OcspLoad load_ocsp_staple(const std::string &response_file, const std::string &chain_file, std::time_t now);

} // namespace proxyd
