// Longest path-prefix matching for the routing/prefix plugin: pure logic, no ABI calls.
#ifndef PROXYD_PLUGINS_PREFIX_TABLE_HPP
#define PROXYD_PLUGINS_PREFIX_TABLE_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::prefix {

struct PrefixRoute {
    std::string prefix; // starts with '/'
    uint32_t target = 0;
    bool strip_prefix = false;
};

// What a request path gets from a table: a route to send it to, a route whose prefix is the path
// with a '/' added (the request is to be redirected there), or nothing.
struct PrefixMatch {
    const PrefixRoute *route = nullptr;
    bool add_slash = false;
    explicit operator bool() const { return route != nullptr; }
};

// A set of prefixes where the longest one that begins the path wins, whatever the order they were
// added in. Built once at load time, then read-only (shared by every worker without locks).
class PrefixTable {
  public:
    // Adds a route; false (and nothing added) when its prefix is already present.
    bool add(PrefixRoute route);

    // The route with the longest prefix that is a byte prefix of path. Except: a path that lacks
    // only the trailing '/' of a route's prefix ("/images" for "/images/") gets that route with
    // add_slash, unless a route's prefix is the path itself. nginx answers such a path with a
    // redirect to path + "/", so that a user who leaves the slash off still reaches the route,
    // and the page's relative links resolve under it. Does not allocate.
    PrefixMatch find(std::string_view path) const;

    size_t size() const { return routes_.size(); }

  private:
    // Sorted by descending prefix length, so the first hit is the longest. For the handful of
    // prefixes a listener has, a linear scan over short, mostly inline (SSO) strings beats a trie
    // or a hash per prefix length.
    std::vector<PrefixRoute> routes_;
};

// What remains of path once prefix (which path starts with) is removed, as the path the target
// sees: "/images/x.jpg" minus "/images/" is "/x.jpg", "/api" minus "/api" is "/".
struct StrippedPath {
    // A view into path whenever the remainder (with its leading '/') is a substring of it.
    // Otherwise the remainder without the '/' the caller must put in front, e.g. "x" for
    // "/apix" minus "/api".
    std::string_view text;
    bool needs_leading_slash = false;
};
StrippedPath strip_prefix(std::string_view path, std::string_view prefix);

// Why prefix cannot match any request path, or an empty string when it is acceptable.
std::string prefix_problem(std::string_view prefix);

} // namespace proxyd::prefix

#endif
