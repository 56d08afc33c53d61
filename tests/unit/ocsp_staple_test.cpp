// OCSP stapling's pure parts: when a response may be stapled, and the files refused before any
// certificate is looked at (the integration test test_tls_ocsp.py checks real responses).
#include "tls/ocsp_staple.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using proxyd::load_ocsp_staple;
using proxyd::ocsp_freshness;
using proxyd::OcspFreshness;
using proxyd::OcspStaple;

namespace {

struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string &bytes) {
        char pattern[] = "/tmp/proxyd-ocsp-test-XXXXXX";
        int fd = ::mkstemp(pattern);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = pattern;
        std::ofstream(path, std::ios::binary) << bytes;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

} // namespace

TEST_CASE("OCSP freshness: stapled from thisUpdate (less the clock skew) until nextUpdate", "[tls][ocsp]") {
    const std::time_t now = 1'800'000'000;
    CHECK(ocsp_freshness(now - 3600, now + 3600, now) == OcspFreshness::kFresh);
    CHECK(ocsp_freshness(now - 3600, std::nullopt, now) ==
          OcspFreshness::kFresh); // no nextUpdate: never stale
    CHECK(ocsp_freshness(now - 7200, now - 1, now) == OcspFreshness::kExpired);
    CHECK(ocsp_freshness(now - 7200, now, now) == OcspFreshness::kExpired);     // nextUpdate itself is stale
    CHECK(ocsp_freshness(now + 300, now + 3600, now) == OcspFreshness::kFresh); // within the skew
    CHECK(ocsp_freshness(now + 301, now + 3600, now) == OcspFreshness::kNotYetValid);
    CHECK(ocsp_freshness(now + 10, now + 3600, now, 0) == OcspFreshness::kNotYetValid);
}

TEST_CASE("OCSP staple: stale once nextUpdate passes while serving, reported once", "[tls][ocsp]") {
    const std::time_t next_update = 1'800'000'000;
    const OcspStaple staple("r.der", "bytes", next_update);
    CHECK(staple.fresh_at(next_update - 1));
    CHECK_FALSE(staple.fresh_at(next_update));
    CHECK(staple.claim_expiry_report());
    CHECK_FALSE(staple.claim_expiry_report());
    CHECK(OcspStaple("r.der", "bytes", std::nullopt).fresh_at(next_update * 2));
}

TEST_CASE("OCSP response files that cannot serve any certificate are errors naming the file", "[tls][ocsp]") {
    const std::string chain = "/nonexistent-chain.pem"; // never reached
    SECTION("missing") {
        auto loaded = load_ocsp_staple("/nonexistent/ocsp.der", chain, 0);
        CHECK(loaded.staple == nullptr);
        CHECK(loaded.error.starts_with("/nonexistent/ocsp.der: cannot read it"));
    }
    SECTION("not DER") {
        TempFile garbage("not an OCSP response\n");
        auto loaded = load_ocsp_staple(garbage.path, chain, 0);
        CHECK(loaded.staple == nullptr);
        CHECK(loaded.error.starts_with(garbage.path.string() + ": not a DER OCSP response"));
    }
    SECTION("a response followed by other bytes") {
        TempFile trailing(std::string("\x30\x03\x0a\x01\x03", 5) + "x");
        CHECK(load_ocsp_staple(trailing.path, chain, 0).error.find("not a DER OCSP response") !=
              std::string::npos);
    }
    SECTION("a responder's refusal (tryLater) has nothing to staple") {
        TempFile try_later(std::string("\x30\x03\x0a\x01\x03", 5)); // OCSPResponse { responseStatus 3 }
        auto loaded = load_ocsp_staple(try_later.path, chain, 0);
        CHECK(loaded.staple == nullptr);
        CHECK(loaded.error == try_later.path.string() +
                                  ": the responder answered trylater, not successful: there "
                                  "is nothing to staple");
    }
}
