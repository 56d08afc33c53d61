// WebSocket over HTTP/2 (RFC 8441): a stream's extended CONNECT (:method CONNECT, :protocol
// websocket) as the parts of the HTTP/1.1 request an upstream's WebSocket server expects (RFC 6455
// §4.1), which the stream's connection then takes into its parser as fields
// (RequestParser::accept_head), routes and forwards like any Upgrade request: `GET :path`, the
// client's fields (Host from :authority, its sec-websocket-version, -protocol and -extensions),
// `connection: upgrade`, `upgrade: websocket` and a sec-websocket-key of proxyd's own (the HTTP/2
// request carries none, RFC 8441 §5); the upstream's Sec-WebSocket-Accept is checked against it
// (exchange/tunnel) and never reaches the client. No body: the message ends with its head, and
// after the upstream's 101 the stream's DATA are the tunnel's bytes. No I/O.
#pragma once

#include "h2/h2_session.hpp"

namespace proxyd {

// The stream asks for a WebSocket (the only protocol proxyd tunnels over HTTP/2).
bool is_websocket_connect(const H2RequestHead &request);
// Makes request, an extended CONNECT for a WebSocket, the Upgrade GET it stands for: method GET,
// the target still its :path, the client's fields less a sec-websocket-key and content-length,
// then connection, upgrade and proxyd's sec-websocket-key; no body. False (request unchanged)
// when no key could be made.
bool make_websocket_upgrade(H2RequestHead &request);

} // namespace proxyd
