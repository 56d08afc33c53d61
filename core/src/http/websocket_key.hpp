// The key and accept values of WebSocket's opening handshake (RFC 6455 §4.1, §4.2.2), for a
// proxy that makes the handshake itself: an HTTP/2 client's extended CONNECT (RFC 8441 §5)
// carries no Sec-WebSocket-Key, so proxyd sends the HTTP/1.1 upstream a key of its own and checks
// the upstream's Sec-WebSocket-Accept against it, as HAProxy does. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace proxyd {

// 16 random bytes, base64: a fresh Sec-WebSocket-Key (24 characters); nullopt when OpenSSL has no
// randomness to give (RFC 6455 §4.1 wants a nonce chosen at random, so then there is no upgrade).
std::optional<std::string> websocket_key();
// The Sec-WebSocket-Accept a server answers key with: base64(SHA-1(key + the RFC's GUID)).
std::string websocket_accept(std::string_view key);

} // namespace proxyd
