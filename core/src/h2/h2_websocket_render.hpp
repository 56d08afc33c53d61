// WebSocket over HTTP/2 (RFC 8441): a stream's extended CONNECT (:method CONNECT, :protocol
// websocket) as the HTTP/1.1 request an upstream's WebSocket server expects (RFC 6455 §4.1),
// which the stream's connection then parses, routes and forwards like any Upgrade request:
// `GET :path`, the client's fields (Host from :authority, its sec-websocket-version, -protocol
// and -extensions), `Connection: upgrade`, `Upgrade: websocket` and a Sec-WebSocket-Key of
// proxyd's own (the HTTP/2 request carries none, RFC 8441 §5); the upstream's
// Sec-WebSocket-Accept is checked against it (exchange/tunnel) and never reaches the client.
// No body framing: after the upstream's 101 the stream's DATA are the tunnel's bytes. No I/O.
#pragma once

#include "h2/h2_session.hpp"

#include <string>

namespace proxyd {

// The stream asks for a WebSocket (the only protocol proxyd tunnels over HTTP/2).
bool is_websocket_connect(const H2RequestHead &request);
// The request line and fields, up to the blank line, appended to out; false (out unchanged) when
// no key could be made.
bool render_websocket_request(const H2RequestHead &request, std::string &out);

} // namespace proxyd
