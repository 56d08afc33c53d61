// routing/prefix: longest-match and prefix stripping, on the logic the plugin links.
#include "prefix_table.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

using proxyd::prefix::prefix_problem;
using proxyd::prefix::PrefixMatch;
using proxyd::prefix::PrefixRoute;
using proxyd::prefix::PrefixTable;
using proxyd::prefix::strip_prefix;

namespace {

constexpr int64_t kNoRoute = -1;
constexpr int64_t kAddSlash = -2; // to be redirected to path + "/"

// The target id of the route that wins for path, kNoRoute or kAddSlash.
int64_t winner(const PrefixTable &table, std::string_view path) {
    PrefixMatch match = table.find(path);
    if (match.add_slash) return kAddSlash;
    return match ? int64_t{match.route->target} : kNoRoute;
}

// The path the target sees after stripping, as a string.
std::string stripped(std::string_view path, std::string_view prefix) {
    auto result = strip_prefix(path, prefix);
    return result.needs_leading_slash ? "/" + std::string(result.text) : std::string(result.text);
}

} // namespace

TEST_CASE("the longest matching prefix wins, whatever the order routes were declared in", "[prefix]") {
    std::vector<PrefixRoute> routes = {{"/", 1}, {"/images/", 2}, {"/images/thumbs/", 3}, {"/pdf/", 4}};
    std::sort(routes.begin(), routes.end(), [](auto &a, auto &b) { return a.prefix < b.prefix; });
    do {
        PrefixTable table;
        for (const PrefixRoute &r : routes)
            REQUIRE(table.add(r));
        CAPTURE(routes[0].prefix, routes[1].prefix, routes[2].prefix, routes[3].prefix);
        CHECK(winner(table, "/images/thumbs/a.png") == 3);
        CHECK(winner(table, "/images/a.png") == 2);
        CHECK(winner(table, "/images/") == 2);
        CHECK(winner(table, "/images/thumbs") == kAddSlash);
        CHECK(winner(table, "/pdf/report.pdf") == 4);
        CHECK(winner(table, "/about.html") == 1);
        CHECK(winner(table, "/") == 1);
    } while (std::next_permutation(routes.begin(), routes.end(),
                                   [](auto &a, auto &b) { return a.prefix < b.prefix; }));
}

TEST_CASE("a prefix is a plain, case-sensitive byte prefix of the path", "[prefix]") {
    PrefixTable table;
    REQUIRE(table.add({"/images/", 1}));
    REQUIRE(table.add({"/api", 2}));

    // Without its trailing slash the directory is not under "/images/": it is sent there.
    CHECK(winner(table, "/images") == kAddSlash);
    CHECK(winner(table, "/imag") == kNoRoute);
    CHECK(winner(table, "/Images/a.png") == kNoRoute);
    CHECK(winner(table, "/Images") == kNoRoute);
    // Like nginx's prefix locations: "/api" also covers "/apix" and "/api.json".
    CHECK(winner(table, "/api") == 2);
    CHECK(winner(table, "/api/v1") == 2);
    CHECK(winner(table, "/apix") == 2);
    CHECK(winner(table, "/ap") == kNoRoute);
    // Matching is on the path as sent: an encoded byte is not the same prefix.
    CHECK(winner(table, "/%69mages/a.png") == kNoRoute);
}

TEST_CASE("a path that lacks only a prefix's trailing slash is to be redirected to it", "[prefix]") {
    PrefixTable table;
    REQUIRE(table.add({"/", 1}));
    REQUIRE(table.add({"/images/", 2}));
    REQUIRE(table.add({"/docs/v1/", 3}));
    REQUIRE(table.add({"/api/", 4}));
    REQUIRE(table.add({"/api", 5}));

    PrefixMatch images = table.find("/images");
    CHECK(images.add_slash);
    REQUIRE(images.route);
    CHECK(images.route->prefix == "/images/");
    // The redirect outranks a shorter prefix that matches ("/"), as nginx's does.
    CHECK(winner(table, "/docs/v1") == kAddSlash);
    CHECK(winner(table, "/docs") == 1);
    // A route whose prefix is the path itself takes it: that is how a config keeps "/api" from
    // being redirected.
    CHECK(winner(table, "/api") == 5);
    // Only the one missing slash: a longer or different tail is an ordinary path.
    CHECK(winner(table, "/images.png") == 1);
    CHECK(winner(table, "/image") == 1);
    CHECK(winner(table, "/docs/v") == 1);
    // A prefix without a trailing slash is never a redirect target.
    PrefixTable bare;
    REQUIRE(bare.add({"/app", 1}));
    CHECK(winner(bare, "/ap") == kNoRoute);
}

TEST_CASE("no matching prefix means the plugin declines", "[prefix]") {
    PrefixTable table;
    REQUIRE(table.add({"/a/", 1}));
    CHECK_FALSE(table.find("/b/"));
    CHECK_FALSE(table.find(""));
    CHECK_FALSE(table.find("*"));
    CHECK_FALSE(PrefixTable().find("/"));
}

TEST_CASE("a duplicate prefix is refused", "[prefix]") {
    PrefixTable table;
    REQUIRE(table.add({"/a/", 1}));
    CHECK_FALSE(table.add({"/a/", 2}));
    CHECK(table.size() == 1);
    CHECK(winner(table, "/a/x") == 1);
}

TEST_CASE("stripping a prefix leaves a path that starts with '/'", "[prefix]") {
    CHECK(stripped("/images/x.jpg", "/images/") == "/x.jpg");
    CHECK(stripped("/images/", "/images/") == "/");
    CHECK(stripped("/images/a/b/", "/images/") == "/a/b/");
    CHECK(stripped("/api/v1", "/api") == "/v1");
    CHECK(stripped("/api", "/api") == "/");
    CHECK(stripped("/apix", "/api") == "/x");
    CHECK(stripped("/x", "/") == "/x");
    CHECK(stripped("/", "/") == "/");
}

TEST_CASE("stripping needs no copy unless the remainder lacks its own slash", "[prefix]") {
    const std::string path = "/images/x.jpg";
    auto inside = [&](std::string_view view) {
        return view.data() >= path.data() && view.data() + view.size() <= path.data() + path.size();
    };
    auto r = strip_prefix(path, "/images/");
    CHECK_FALSE(r.needs_leading_slash);
    CHECK(inside(r.text));

    const std::string api = "/api";
    auto whole = strip_prefix(api, "/api");
    CHECK_FALSE(whole.needs_leading_slash);
    CHECK(whole.text == "/");
    CHECK(whole.text.data() == api.data());

    auto glued = strip_prefix("/apix", "/api");
    CHECK(glued.needs_leading_slash);
    CHECK(glued.text == "x");
}

TEST_CASE("prefixes that can never match a request path are explained", "[prefix]") {
    CHECK(prefix_problem("/images/").empty());
    CHECK(prefix_problem("/").empty());
    CHECK(prefix_problem("images/") == "prefix 'images/' must start with '/'");
    CHECK(prefix_problem("") == "prefix '' must start with '/'");
    CHECK(prefix_problem("/a b") == "prefix '/a b' contains a space or control character");
    CHECK(prefix_problem("/a?b") == "prefix '/a?b' contains '?', which never occurs in a request path");
    CHECK(prefix_problem("/a#") == "prefix '/a#' contains '#', which never occurs in a request path");
    CHECK(prefix_problem("/caf\xc3\xa9/") ==
          "prefix '/caf\xc3\xa9/' contains a byte outside ASCII, which never occurs in a request path");
    // Sent back in a redirect's Location: "/\\evil.example/" would take a browser to another host.
    CHECK(prefix_problem("/\\evil.example/") ==
          "prefix '/\\evil.example/' contains '\\', which a URI path may not hold: write it as %5C");
    CHECK(prefix_problem("/a\"b/") ==
          "prefix '/a\"b/' contains '\"', which a URI path may not hold: write it as %22");
    for (std::string_view bad : {"/<", "/>", "/^", "/`", "/{", "/|", "/}"})
        CHECK_FALSE(prefix_problem(bad).empty());
    CHECK(prefix_problem("/caf%C3%A9/[x]/").empty());
    // The core routes by a clean path (core/src/http/request_path.hpp).
    CHECK(prefix_problem("/a//b/") ==
          "prefix '/a//b/' contains '//', which the core merges into '/' in every request path");
    CHECK(prefix_problem("/a/../b/") ==
          "prefix '/a/../b/' contains a dot segment, which the core removes from every request path");
    CHECK(prefix_problem("/a/./") ==
          "prefix '/a/./' contains a dot segment, which the core removes from every request path");
    CHECK(prefix_problem("/%61pi/") ==
          "prefix '/%61pi/' contains '%61', which the core decodes to 'a' in every request path");
    CHECK(prefix_problem("/a%zz/") == "prefix '/a%zz/' contains a '%' that starts no escape");
    // Still possible in a clean path: an escape of a reserved or non-ASCII byte, a partial
    // segment of dots, a partial escape at the end.
    CHECK(prefix_problem("/a%2Fb/").empty());
    CHECK(prefix_problem("/caf%C3%A9/").empty());
    CHECK(prefix_problem("/.well-known/").empty());
    CHECK(prefix_problem("/a/..").empty());
    CHECK(prefix_problem("/a%6").empty());
}
