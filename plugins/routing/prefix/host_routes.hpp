// Virtual hosts for the routing/prefix plugin: routes grouped by the host they serve. Pure logic,
// no ABI calls.
//
// Matching rules:
// - Hosts compare as RFC 9110 §4.2.3 and §7.2 say: case-insensitively, without the port (after
//   the last ':' of a name or IPv4 address; after the ']' of an IPv6 literal, whose brackets are
//   kept: "[::1]:8080" is "[::1]"), and with one trailing dot ignored ("app.example.com." is
//   "app.example.com"). The request's host is the authority of an absolute-form target, else the
//   Host field (the core chooses). A request host that is empty, longer than kMaxHostLength or
//   has an empty label matches no exact or wildcard route, only the routes without a host.
// - A route's host pattern is an exact name ("app.example.com"), a leading wildcard
//   ("*.example.com": any name with at least one more label in front, "a.example.com" and
//   "a.b.example.com" but not "example.com"), or none (any host).
// - The most specific host group wins first: the exact name, then the wildcards from the longest
//   suffix down, then the routes without a host. Within a group the longest prefix wins.
// - Fallback: a group without a prefix matching the path does not stop the search; the next less
//   specific group that has one answers. So a "*.example.com" or host-less catch-all behind
//   specific hosts serves the paths they do not define, as nginx's default server does. When no
//   group has a matching prefix, find() returns nullptr and the plugin declines.
//
// Built once at load time, then read-only: shared by every worker without locks.
#ifndef PROXYD_PLUGINS_HOST_ROUTES_HPP
#define PROXYD_PLUGINS_HOST_ROUTES_HPP

#include "prefix_table.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::prefix {

class HostRoutes {
  public:
    // host_pattern as normalise_host_pattern() returned it, "" for any host. False (and nothing
    // added) when that host group already has the route's prefix.
    bool add(std::string_view host_pattern, PrefixRoute route);

    // The route for a request's host (as sent: any case, maybe a port) and path under the rules
    // above (a group's redirect to path + "/", PrefixTable::find's, counts as its match), or
    // none. Does not allocate: the host is normalised into a stack buffer, exact names are found
    // by binary search, wildcards by a binary search per label of the host.
    PrefixMatch find(std::string_view request_host, std::string_view path) const;

    // True when some route names a host; otherwise find() never looks at the request's host.
    bool has_hosts() const { return !exact_.empty() || !wildcards_.empty(); }

  private:
    struct HostGroup {
        std::string host; // exact: the name; wildcard: the suffix with its dot (".example.com")
        PrefixTable routes;
    };
    static const PrefixTable *group(const std::vector<HostGroup> &groups, std::string_view host);
    static PrefixTable &group_for(std::vector<HostGroup> &groups, std::string_view host);

    std::vector<HostGroup> exact_;     // sorted by host
    std::vector<HostGroup> wildcards_; // sorted by suffix
    PrefixTable any_host_;
};

// The longest host a request may name and still match an exact or wildcard route (RFC 1035).
constexpr size_t kMaxHostLength = 255;

// The request's host lowercased, without its port and one trailing dot, written into buf and
// returned as a view of it; empty when the host is empty, longer than kMaxHostLength, or has an
// empty label (".a.com", "a..com").
std::string_view normalise_request_host(std::string_view host, char (&buf)[kMaxHostLength]);

// Why a configured host pattern is unusable (a message starting "host '<pattern>'"), or "" when
// it is fine. A port, a scheme, a path, a space, an empty label or a '*' anywhere but as the whole
// first label are refused.
std::string host_pattern_problem(std::string_view pattern);

// An acceptable pattern as add() takes it: lowercased, one trailing dot removed.
std::string normalise_host_pattern(std::string_view pattern);

} // namespace proxyd::prefix

#endif
