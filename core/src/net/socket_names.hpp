// The addresses of a connected libuv TCP socket as text, for logs, the plugins' request view
// and URLs proxyd writes itself.
#pragma once

#include <string>
#include <uv.h>

namespace proxyd {

// The peer's IP address ("127.0.0.1", "::1"), or "-" when the socket has none.
std::string peer_ip(const uv_tcp_t *tcp);

// The address the client reached, as a URL host ("[::1]" for IPv6): what a redirect names when
// the request has no Host (HTTP/1.0). "localhost" when the socket has none.
std::string local_url_host(const uv_tcp_t *tcp);

} // namespace proxyd
