// routing/prefix: virtual hosts (host groups, then the longest prefix), on the logic the plugin links.
#include "host_routes.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using proxyd::prefix::host_pattern_problem;
using proxyd::prefix::HostRoutes;
using proxyd::prefix::kMaxHostLength;
using proxyd::prefix::normalise_host_pattern;
using proxyd::prefix::normalise_request_host;
using proxyd::prefix::PrefixMatch;
using proxyd::prefix::PrefixRoute;

namespace {

// The target of the route found, -1 when none is, -2 for a redirect to path + "/".
int target_of(const HostRoutes &routes, std::string_view host, std::string_view path) {
    PrefixMatch m = routes.find(host, path);
    if (m.add_slash) return -2;
    return m ? static_cast<int>(m.route->target) : -1;
}

std::string normalised(std::string_view host) {
    char buf[kMaxHostLength];
    return std::string(normalise_request_host(host, buf));
}

} // namespace

TEST_CASE("a request's host is compared without case, port or trailing dot", "[prefix][hosts]") {
    CHECK(normalised("APP.Example.COM") == "app.example.com");
    CHECK(normalised("app.example.com:18000") == "app.example.com");
    CHECK(normalised("app.example.com:80") == "app.example.com");
    CHECK(normalised("app.example.com:") == "app.example.com");
    CHECK(normalised("app.example.com.") == "app.example.com");
    CHECK(normalised("app.example.com.:80") == "app.example.com");
    CHECK(normalised("127.0.0.1:9") == "127.0.0.1");
    // An IPv6 literal keeps its brackets; the port is what follows the ']'.
    CHECK(normalised("[::1]:8080") == "[::1]");
    CHECK(normalised("[::1]") == "[::1]");
    CHECK(normalised("[2001:DB8::1]:443") == "[2001:db8::1]");
}

TEST_CASE("a request host that no named route can match normalises to empty", "[prefix][hosts]") {
    CHECK(normalised("").empty());
    CHECK(normalised(":80").empty());
    CHECK(normalised(".").empty());
    // Only one trailing dot is ignored.
    CHECK(normalised("app.example.com..").empty());
    CHECK(normalised(".example.com").empty());
    CHECK(normalised("a..example.com").empty());
    CHECK(normalised(std::string(kMaxHostLength + 1, 'a')).empty());
    CHECK(normalised(std::string(kMaxHostLength, 'a')).size() == kMaxHostLength);
    CHECK(normalised(std::string(kMaxHostLength, 'a') + ".:8080").size() == kMaxHostLength);
}

TEST_CASE("host patterns are normalised at load like request hosts", "[prefix][hosts]") {
    CHECK(normalise_host_pattern("APP.Example.com.") == "app.example.com");
    CHECK(normalise_host_pattern("*.Example.COM") == "*.example.com");
    CHECK(normalise_host_pattern("[2001:DB8::1]") == "[2001:db8::1]");
}

TEST_CASE("acceptable host patterns", "[prefix][hosts]") {
    for (const char *good : {"app.example.com", "APP.example.com.", "*.example.com", "*.com", "localhost",
                             "[::1]", "[::ffff:127.0.0.1]", "127.0.0.1", "a-b_c.example"}) {
        CAPTURE(good);
        CHECK(host_pattern_problem(good).empty());
    }
    CHECK(host_pattern_problem(std::string(kMaxHostLength, 'a')).empty());
}

TEST_CASE("host patterns that cannot be a host are explained", "[prefix][hosts]") {
    struct Case {
        std::string pattern;
        std::string message;
    };
    const Case cases[] = {
        {"", "host '' is empty: leave 'host' out for a route that serves any host"},
        {".", "host '.' is empty: leave 'host' out for a route that serves any host"},
        {"app.example.com:8080", "host 'app.example.com:8080': give the host name without a port (every port "
                                 "of the listener matches)"},
        {"*.example.com:80",
         "host '*.example.com:80': give the host name without a port (every port of the listener matches)"},
        {"[::1]:80", "host '[::1]:80': give the IPv6 address in brackets without a port, as in \"[::1]\" "
                     "(every port of the listener matches)"},
        {"[::1", "host '[::1' is not an IPv6 address in brackets"},
        {"[]", "host '[]' is not an IPv6 address in brackets"},
        {"[::g]", "host '[::g]' is not an IPv6 address in brackets"},
        {"*.[::1]", "host '*.[::1]': a wildcard covers host names, not IPv6 addresses"},
        {"http://app.example.com",
         "host 'http://app.example.com': give the host name alone, without a scheme"},
        {"app.example.com/x", "host 'app.example.com/x': give the host name alone, without a path"},
        {"a..example.com", "host 'a..example.com' has an empty label"},
        {".example.com", "host '.example.com' has an empty label"},
        {"*.", "host '*.': '*' may only be the whole first label, as in \"*.example.com\""},
        {"*..example.com", "host '*..example.com' has an empty label"},
        {"app.example.com..", "host 'app.example.com..' has an empty label"},
        {"*", "host '*': '*' may only be the whole first label, as in \"*.example.com\""},
        {"app*.example.com", "host 'app*.example.com': '*' may only be the whole first label, as in "
                             "\"*.example.com\""},
        {"*.*.example.com", "host '*.*.example.com': '*' may only be the whole first label, as in "
                            "\"*.example.com\""},
        {"www.*.com", "host 'www.*.com': '*' may only be the whole first label, as in \"*.example.com\""},
        {"app example.com", "host 'app example.com' contains a space or control character"},
        {" app.example.com", "host ' app.example.com' contains a space or control character"},
        {"app\texample.com", "host 'app\texample.com' contains a space or control character"},
        {"user@app.example.com", "host 'user@app.example.com' contains '@', which no host name has"},
        {std::string(kMaxHostLength + 1, 'a'),
         "host '" + std::string(kMaxHostLength + 1, 'a') + "' is longer than 255 bytes"},
    };
    for (const Case &c : cases) {
        CAPTURE(c.pattern);
        CHECK(host_pattern_problem(c.pattern) == c.message);
    }
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
    REQUIRE(routes.add("[::1]", {"/", 9, false}));

    CHECK(target_of(routes, "app.example.com", "/x") == 1);
    CHECK(target_of(routes, "APP.EXAMPLE.COM:443", "/admin/users") == 2);
    CHECK(target_of(routes, "app.example.com.", "/admin/users") == 2);
    // An exact name beats a wildcard that also covers it, even for a longer prefix.
    CHECK(target_of(routes, "app.example.com", "/static/a.css") == 1);
    CHECK(target_of(routes, "x.example.com", "/x") == 3);
    CHECK(target_of(routes, "x.y.example.com", "/static/a.css") == 4);
    CHECK(target_of(routes, "c.b.example.com", "/") == 5);   // the longer wildcard suffix
    CHECK(target_of(routes, "d.c.b.example.com", "/") == 5); // any number of labels in front
    CHECK(target_of(routes, "b.example.com", "/") == 3);     // *.b.example.com needs one more label
    CHECK(target_of(routes, "example.com", "/") == 6);       // not matched by *.example.com
    CHECK(target_of(routes, "xexample.com", "/") == 6);      // a suffix counts at a label boundary only
    CHECK(target_of(routes, "..example.com", "/") == 6);     // an empty label is not a label
    CHECK(target_of(routes, "other.test", "/health") == 7);
    CHECK(target_of(routes, "", "/") == 6); // HTTP/1.0 without Host
    CHECK(target_of(routes, "[::1]:8080", "/") == 9);
    CHECK(target_of(routes, "[::2]:8080", "/") == 6);
    CHECK(target_of(routes, std::string(kMaxHostLength - 12, 'a') + ".example.com", "/") == 3);
    CHECK(target_of(routes, std::string(kMaxHostLength, 'a') + ".example.com", "/") == 6); // too long
}

TEST_CASE("a host group without a matching prefix falls back to the less specific groups",
          "[prefix][hosts]") {
    HostRoutes routes;
    REQUIRE(routes.add("admin.example.com", {"/admin/", 1, false}));
    REQUIRE(routes.add("*.admin.example.com", {"/reports/", 2, false}));
    REQUIRE(routes.add("*.example.com", {"/static/", 3, false}));
    REQUIRE(routes.add("", {"/", 4, false}));

    CHECK(target_of(routes, "admin.example.com", "/admin/x") == 1);
    CHECK(target_of(routes, "admin.example.com", "/static/x") == 3); // exact → wildcard
    CHECK(target_of(routes, "admin.example.com", "/x") == 4);        // exact → no host
    CHECK(target_of(routes, "eu.admin.example.com", "/reports/1") == 2);
    CHECK(target_of(routes, "eu.admin.example.com", "/static/x") == 3); // longer wildcard → shorter
    CHECK(target_of(routes, "eu.admin.example.com", "/admin/x") == 4);  // an exact name is never borrowed
    // A group's redirect to path + "/" is its answer, found in the same order.
    CHECK(target_of(routes, "admin.example.com", "/admin") == -2);
    CHECK(target_of(routes, "admin.example.com", "/static") == -2);  // exact → wildcard
    CHECK(target_of(routes, "eu.admin.example.com", "/admin") == 4); // not borrowed either
    CHECK(target_of(routes, "www.example.com", "/reports") == 4);
    // The redirect is the group's answer: a less specific group's slash-less route is not reached.
    REQUIRE(routes.add("", {"/admin", 5, false}));
    CHECK(target_of(routes, "admin.example.com", "/admin") == -2);
    CHECK(target_of(routes, "other.test", "/admin") == 5);
}

TEST_CASE("when no group has a matching prefix, nothing matches", "[prefix][hosts]") {
    HostRoutes routes;
    REQUIRE(routes.add("api.example.com", {"/v1/", 1, true}));
    REQUIRE(routes.add("*.example.com", {"/assets/", 2, false}));
    CHECK(target_of(routes, "api.example.com", "/v1/x") == 1);
    CHECK(target_of(routes, "api.example.com", "/v2/x") == -1);
    CHECK(target_of(routes, "www.example.com", "/v1/x") == -1);
    CHECK(target_of(routes, "other.test", "/assets/x") == -1);
    CHECK(target_of(routes, "", "/v1/x") == -1);
    CHECK_FALSE(HostRoutes().find("a.example", "/"));
}

TEST_CASE("routes without a host ignore the request's host", "[prefix][hosts]") {
    HostRoutes routes;
    REQUIRE(routes.add("", {"/", 1, false}));
    REQUIRE(routes.add("", {"/images/", 2, true}));
    CHECK_FALSE(routes.has_hosts());
    for (const char *host : {"", "a.example", "A..B", "[::1]:1", "x:y:z"}) {
        CAPTURE(host);
        CHECK(target_of(routes, host, "/images/a.png") == 2);
        CHECK(target_of(routes, host, "/about") == 1);
    }
}

TEST_CASE("a duplicate prefix is refused within one host group only", "[prefix][hosts]") {
    HostRoutes routes;
    CHECK(routes.add("a.example", {"/", 1, false}));
    CHECK_FALSE(routes.add("a.example", {"/", 2, false}));
    CHECK(routes.add("a.example", {"/x/", 3, false}));
    CHECK(routes.add("b.example", {"/", 4, false}));
    CHECK(routes.add("*.a.example", {"/", 5, false}));
    CHECK(routes.add("*.example", {"/", 6, false}));
    CHECK_FALSE(routes.add("*.example", {"/", 7, false}));
    CHECK(routes.add("", {"/", 8, false}));
    CHECK_FALSE(routes.add("", {"/", 9, false}));
    CHECK(target_of(routes, "a.example", "/") == 1);
    CHECK(target_of(routes, "c.example", "/") == 6);
}

TEST_CASE("many hosts: each request finds what the rules say, whatever the declaration order",
          "[prefix][hosts]") {
    // Exact names h0..h49.example.com, wildcards *.z0..z9.example.com and *.example.com, each
    // group with its own prefix so that the fallback order shows in the target.
    std::vector<std::pair<std::string, PrefixRoute>> declared;
    for (uint32_t i = 0; i < 50; ++i)
        declared.push_back({"h" + std::to_string(i) + ".example.com", {"/e/", 1000 + i, false}});
    for (uint32_t i = 0; i < 10; ++i)
        declared.push_back({"*.z" + std::to_string(i) + ".example.com", {"/w/", 2000 + i, false}});
    declared.push_back({"*.example.com", {"/c/", 3000, false}});
    declared.push_back({"", {"/", 4000, false}});

    for (bool reversed : {false, true}) {
        HostRoutes routes;
        if (reversed) std::reverse(declared.begin(), declared.end());
        for (const auto &[host, route] : declared)
            REQUIRE(routes.add(host, route));
        for (uint32_t i = 0; i < 50; ++i) {
            std::string host = "H" + std::to_string(i) + ".Example.com:8080";
            CHECK(target_of(routes, host, "/e/x") == static_cast<int>(1000 + i));
            CHECK(target_of(routes, host, "/c/x") == 3000);
            CHECK(target_of(routes, host, "/w/x") == 4000);
        }
        for (uint32_t i = 0; i < 10; ++i) {
            std::string host = "a.h1.z" + std::to_string(i) + ".example.com";
            CHECK(target_of(routes, host, "/w/x") == static_cast<int>(2000 + i));
            CHECK(target_of(routes, host, "/e/x") == 4000);
            CHECK(target_of(routes, host, "/c/x") == 3000);
        }
        CHECK(target_of(routes, "h50.example.com", "/e/x") == 4000);
        CHECK(target_of(routes, "z1.example.com", "/w/x") == 4000);
    }
}
