// Where a cleartext listener with `redirect_https` sends every request (Caddy's default): the same
// host and target over https, the host's port replaced by the HTTPS listener's (left out when it
// is 443). No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace proxyd {

// The host part of a Host value or authority: "[::1]:80" gives "[::1]", "example.com:80"
// gives "example.com".
std::string_view host_without_port(std::string_view host);

// "https://HOST[:PORT]PATH[?QUERY]". host may carry a port (it is dropped); has_query keeps a
// '?' with an empty query as sent. A path that is not origin-form ("*") becomes "/".
std::string https_location(std::string_view host, uint16_t port, std::string_view path,
                           std::string_view query, bool has_query);

} // namespace proxyd
