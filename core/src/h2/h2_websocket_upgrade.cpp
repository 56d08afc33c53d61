#include "h2/h2_websocket_upgrade.hpp"

#include "http/header_rules.hpp"
#include "http/websocket_key.hpp"

namespace proxyd {

bool is_websocket_connect(const H2RequestHead &request) {
    // Upgrade tokens compare case-insensitively (RFC 9110 §7.8).
    return request.method == "CONNECT" && iequals(request.protocol, "websocket");
}

bool make_websocket_upgrade(H2RequestHead &request) {
    std::optional<std::string> key = websocket_key();
    if (!key) return false;
    request.method = "GET";
    // A key the client sent has no place in RFC 8441's handshake: the upstream gets ours. The
    // stream's DATA are the tunnel's bytes, never a body a length could frame.
    std::erase_if(request.fields, [](const H2Field &field) {
        return field.first == "sec-websocket-key" || field.first == "content-length";
    });
    request.fields.emplace_back("connection", "upgrade");
    request.fields.emplace_back("upgrade", "websocket");
    request.fields.emplace_back("sec-websocket-key", std::move(*key));
    request.has_body = false;
    return true;
}

} // namespace proxyd
