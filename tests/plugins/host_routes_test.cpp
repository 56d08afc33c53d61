// routing/prefix: virtual hosts (host groups, then the longest prefix), on the logic the plugin links.
#include "host_routes.hpp"

#include <catch2/catch.hpp>
#include <string>

using proxyd::prefix::host_pattern_problem;
using proxyd::prefix::HostRoutes;
using proxyd::prefix::kMaxHostLength;
using proxyd::prefix::normalise_host_pattern;
using proxyd::prefix::normalise_request_host;

namespace {

// The target of the route found, or -1.
int target_of(const HostRoutes &routes, std::string_view host, std::string_view path) {
    const auto *r = routes.find(host, path);
    return r ? static_cast<int>(r->target) : -1;
}

} // namespace

TEST_CASE("a request's host is compared without case, port or trailing dot", "[prefix][hosts]") {
    char buf[kMaxHostLength + 1];
    CHECK(normalise_request_host("APP.Example.COM", buf) == "app.example.com");
    CHECK(normalise_request_host("app.example.com:18000", buf) == "app.example.com");
    CHECK(normalise_request_host("app.example.com.", buf) == "app.example.com");
    CHECK(normalise_request_host("app.example.com.:80", buf) == "app.example.com");
    CHECK(normalise_request_host("[::1]:8080", buf) == "[::1]");
    CHECK(normalise_request_host("[::1]", buf) == "[::1]");
    CHECK(normalise_request_host("127.0.0.1:9", buf) == "127.0.0.1");
    CHECK(normalise_request_host("", buf).empty());
    CHECK(normalise_request_host(std::string(kMaxHostLength + 1, 'a'), buf).empty());
    CHECK(normalise_request_host(std::string(kMaxHostLength, 'a'), buf).size() == kMaxHostLength);
}

TEST_CASE("host patterns are checked and normalised at load", "[prefix][hosts]") {
    for (const char *good : {"app.example.com", "APP.example.com.", "*.example.com", "localhost", "[::1]",
                             "127.0.0.1", "a-b_c.example"})
        CHECK(host_pattern_problem(good).empty());
    CHECK(normalise_host_pattern("APP.Example.com.") == "app.example.com");
    CHECK(host_pattern_problem("app.example.com:8080").find("without a port") != std::string::npos);
    CHECK(host_pattern_problem("http://app.example.com").find("without a scheme") != std::string::npos);
    CHECK(host_pattern_problem("app.example.com/x").find("without a path") != std::string::npos);
    CHECK(host_pattern_problem("a..example.com").find("empty label") != std::string::npos);
    CHECK(host_pattern_problem(".example.com").find("empty label") != std::string::npos);
    CHECK(host_pattern_problem("").find("is empty") != std::string::npos);
    CHECK(host_pattern_problem("app*.example.com").find("'*' may only") != std::string::npos);
    CHECK(host_pattern_problem("*.*.example.com").find("'*' may only") != std::string::npos);
    CHECK(host_pattern_problem("app example.com").find("contains ' '") != std::string::npos);
    CHECK(host_pattern_problem("[::1]:80").find("IPv6") != std::string::npos);
}

TEST_CASE("the most specific host wins, then the longest prefix", "[prefix][hosts]") {
    HostRoutes routes;
    REQUIRE(routes.add("app.example.com", {"/", 1, false}));
    REQUIRE(routes.add("app.example.com", {"/admin/", 2, false}));
    REQUIRE(routes.add("*.example.com", {"/", 3, false}));
    REQUIRE(routes.add("*.example.com", {"/static/", 4, false}));
    REQUIRE(routes.add("*.b.example.com", {"/", 5, false}));
    REQUIRE(routes.add("", {"/", 6, false}));
    REQUIRE(routes.add("", {"/health", 7, false}));
    REQUIRE(routes.add("admin.example.com", {"/admin/", 8, false}));

    CHECK(target_of(routes, "app.example.com", "/x") == 1);
    CHECK(target_of(routes, "APP.EXAMPLE.COM:443", "/admin/users") == 2);
    CHECK(target_of(routes, "x.example.com", "/x") == 3);
    CHECK(target_of(routes, "x.y.example.com", "/static/a.css") == 4);
    CHECK(target_of(routes, "c.b.example.com", "/") == 5); // the longer wildcard suffix
    CHECK(target_of(routes, "b.example.com", "/") == 3);   // *.b.example.com needs one more label
    CHECK(target_of(routes, "example.com", "/") == 6);     // not matched by *.example.com
    CHECK(target_of(routes, "other.test", "/health") == 7);
    CHECK(target_of(routes, "", "/") == 6); // HTTP/1.0 without Host
    // An exact host group without a matching prefix falls back to the less specific groups.
    CHECK(target_of(routes, "admin.example.com", "/admin/x") == 8);
    CHECK(target_of(routes, "admin.example.com", "/static/x") == 4);
    CHECK(target_of(routes, "admin.example.com", "/x") == 3);
}

TEST_CASE("a host group without a matching prefix and no catch-all declines", "[prefix][hosts]") {
    HostRoutes routes;
    REQUIRE(routes.add("api.example.com", {"/v1/", 1, true}));
    CHECK(target_of(routes, "api.example.com", "/v1/x") == 1);
    CHECK(target_of(routes, "api.example.com", "/v2/x") == -1);
    CHECK(target_of(routes, "www.example.com", "/v1/x") == -1);
}

TEST_CASE("a duplicate prefix is refused within one host group only", "[prefix][hosts]") {
    HostRoutes routes;
    CHECK(routes.add("a.example", {"/", 1, false}));
    CHECK_FALSE(routes.add("a.example", {"/", 2, false}));
    CHECK(routes.add("b.example", {"/", 3, false}));
    CHECK(routes.add("*.example", {"/", 4, false}));
    CHECK_FALSE(routes.add("*.example", {"/", 5, false}));
    CHECK(routes.add("", {"/", 6, false}));
}
