// Which members of an ABI table a plugin's copy holds. Tables only grow at their end, and each
// starts with the struct_size the plugin was built with, so a member exists exactly when that
// size covers it; the core reads no member past it. The minimum each declared minor needs is its
// own last member's end: a 1.0 plugin's tables end before the first 1.1 member.
#pragma once

#include <cstddef>
#include <cstdint>
#include <proxyd/plugin.h>

namespace proxyd {

// The table's struct_size covers member (a member of ABI struct Type).
#define PROXYD_ABI_HAS(table, Type, member)                                                                \
    (offsetof(Type, member) + sizeof(static_cast<const Type *>(nullptr)->member) <= (table).struct_size)

// The size each table has in ABI 1.<minor> (minors 0 to 7 exist so far; 1.2 added no member to
// these tables, only the host call request_tls and its proxyd_tls_info; 1.3 the descriptor's
// filter member and the filter kind's table; 1.4 the balancers' response_head and the
// subrequest host calls; 1.5 no member at all, only bodies of several parts; 1.6 members of the
// request view only, which the core fills; 1.7 a route result and proxyd_route's location,
// in a struct the core owns and zeroes).
constexpr size_t descriptor_size(uint32_t minor) {
    return minor == 0   ? offsetof(proxyd_plugin_descriptor, create_worker_ex)
           : minor <= 2 ? offsetof(proxyd_plugin_descriptor, filter)
                        : sizeof(proxyd_plugin_descriptor);
}
constexpr size_t balancing_hooks_size(uint32_t minor) {
    // response_head is a 1.4 member: 1.1 to 1.3 tables end before it.
    return minor == 0   ? offsetof(proxyd_balancing_hooks, attempt_done)
           : minor <= 3 ? offsetof(proxyd_balancing_hooks, response_head)
                        : sizeof(proxyd_balancing_hooks);
}
constexpr size_t content_hooks_size(uint32_t minor) {
    return minor == 0 ? offsetof(proxyd_content_hooks, cancelled) : sizeof(proxyd_content_hooks);
}
constexpr size_t routing_hooks_size(uint32_t /*minor*/) { return sizeof(proxyd_routing_hooks); }
// The filter kind exists from 1.3 on, with all four hooks.
constexpr size_t filter_hooks_size(uint32_t /*minor*/) { return sizeof(proxyd_filter_hooks); }
constexpr uint32_t kFilterKindMinor = 3;
// PROXYD_ROUTE_REDIRECT means a redirect from 1.7 on; an older plugin never meant it.
constexpr uint32_t kRouteRedirectMinor = 7;
// The smallest proxyd_tls_info a plugin may hand request_tls: what 1.<minor> declared (1.2 on).
constexpr size_t tls_info_size(uint32_t /*minor*/) { return sizeof(proxyd_tls_info); }

} // namespace proxyd
