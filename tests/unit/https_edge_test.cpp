// The pure parts of the HTTPS edge options: the redirect's Location, the HSTS value check and the
// certificate expiry warning.
#include "http/https_redirect.hpp"
#include "http/strict_transport_security.hpp"
#include "tls/certificate_check.hpp"

#include <catch2/catch.hpp>

using proxyd::check_strict_transport_security;
using proxyd::expiry_warning;
using proxyd::host_without_port;
using proxyd::https_location;

TEST_CASE("the redirect keeps host, path and query and replaces the port", "[https][redirect]") {
    CHECK(https_location("example.com", 443, "/a/b", "x=1&y", true) == "https://example.com/a/b?x=1&y");
    CHECK(https_location("example.com:8080", 443, "/", "", false) == "https://example.com/");
    CHECK(https_location("example.com:80", 8443, "/p", "", true) == "https://example.com:8443/p?");
    CHECK(https_location("[::1]:80", 443, "/", "", false) == "https://[::1]/");
    CHECK(https_location("[::1]", 8443, "/", "", false) == "https://[::1]:8443/");
    CHECK(https_location("127.0.0.1", 443, "*", "", false) == "https://127.0.0.1/"); // OPTIONS *
    CHECK(host_without_port("a.example:1") == "a.example");
    CHECK(host_without_port("a.example") == "a.example");
}

TEST_CASE("an HSTS value needs one max-age and well-formed directives", "[https][hsts]") {
    CHECK(check_strict_transport_security("max-age=31536000").empty());
    CHECK(check_strict_transport_security("max-age=31536000; includeSubDomains; preload").empty());
    CHECK(check_strict_transport_security("Max-Age=\"0\"").empty());
    CHECK(check_strict_transport_security("includeSubDomains").find("needs max-age") != std::string::npos);
    CHECK(check_strict_transport_security("max-age=1y").find("number of seconds") != std::string::npos);
    CHECK(check_strict_transport_security("max-age=1; max-age=2").find("twice") != std::string::npos);
    CHECK(check_strict_transport_security("max-age=1; preload=yes").find("no value") != std::string::npos);
    CHECK(!check_strict_transport_security("max-age=1\r\nX-Evil: 1").empty());
    CHECK(!check_strict_transport_security("max-age=1; in(valid)").empty());
}

TEST_CASE("a certificate expiring within 14 days, or expired, gets a warning naming it", "[tls][expiry]") {
    std::time_t now = 1'800'000'000;
    CHECK(expiry_warning("/c.pem", now + 15 * 86400, now).empty());
    std::string soon = expiry_warning("/c.pem", now + 3 * 86400 + 60, now);
    CHECK(soon.find("/c.pem") != std::string::npos);
    CHECK(soon.find("expires on 2027-01-18") != std::string::npos);
    CHECK(soon.find("in 3 day(s)") != std::string::npos);
    std::string expired = expiry_warning("/c.pem", now - 1, now);
    CHECK(expired.find("EXPIRED on") != std::string::npos);
}
