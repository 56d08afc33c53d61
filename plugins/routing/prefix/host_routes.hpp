// Virtual hosts for the routing/prefix plugin: routes grouped by the host they serve, pure logic
// with no ABI calls.
//
// A route's host pattern is an exact name ("app.example.com"), a leading wildcard
// ("*.example.com": any name with at least one more label in front, not "example.com" itself),
// or none (any host). Hosts compare as RFC 9110 §4.2.3 and §7.2 say: case-insensitively, without
// the port, and with one trailing dot ignored. For a request, the most specific host group that
// has a prefix matching the path wins: the exact name, then the wildcards from the longest
// suffix down, then the routes without a host; within a group, the longest prefix wins. So a
// catch-all behind specific hosts answers the paths they do not define, as nginx's default
// server does.
#ifndef PROXYD_PLUGINS_HOST_ROUTES_HPP
#define PROXYD_PLUGINS_HOST_ROUTES_HPP

#include "prefix_table.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace proxyd::prefix {

class HostRoutes {
  public:
    // host_pattern as normalise_host_pattern() returned it ("" for any host). False (and nothing
    // added) when that host group already has the route's prefix.
    bool add(std::string_view host_pattern, PrefixRoute route);

    // The route for a request's host (as sent: any case, maybe a port) and path, or nullptr.
    // Does not allocate.
    const PrefixRoute *find(std::string_view request_host, std::string_view path) const;

  private:
    struct HostGroup {
        std::string host; // exact: the name; wildcard: the suffix with its dot (".example.com")
        PrefixTable routes;
    };

    std::vector<HostGroup> exact_;
    std::vector<HostGroup> wildcards_; // longest suffix first
    PrefixTable any_host_;
};

// The longest host a request may name and still match an exact or wildcard route (RFC 1035).
constexpr size_t kMaxHostLength = 255;

// The request's host lowercased, without its port and trailing dot, written into buf; empty when
// it is empty or longer than kMaxHostLength.
std::string_view normalise_request_host(std::string_view host, char (&buf)[kMaxHostLength + 1]);

// Why a configured host pattern is unusable ("" when it is fine); normalise_host_pattern() gives
// the form add() takes.
std::string host_pattern_problem(std::string_view pattern);
std::string normalise_host_pattern(std::string_view pattern);

} // namespace proxyd::prefix

#endif
