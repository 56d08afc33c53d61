#include "h2/h2_websocket_render.hpp"

#include "http/header_rules.hpp"
#include "http/websocket_key.hpp"

namespace proxyd {

bool is_websocket_connect(const H2RequestHead &request) {
    // Upgrade tokens compare case-insensitively (RFC 9110 §7.8).
    return request.method == "CONNECT" && iequals(request.protocol, "websocket");
}

bool render_websocket_request(const H2RequestHead &request, std::string &out) {
    std::optional<std::string> key = websocket_key();
    if (!key) return false;
    out.append("GET ").append(request.path).append(" HTTP/1.1\r\n");
    for (const auto &[name, value] : request.fields) {
        // A key the client sent has no place in RFC 8441's handshake: the upstream gets ours. The
        // stream's DATA are the tunnel's bytes, never a body a length could frame.
        if (name == "sec-websocket-key" || name == "content-length") continue;
        out.append(name).append(": ").append(value).append("\r\n");
    }
    out.append("connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: ")
        .append(*key)
        .append("\r\n\r\n");
    return true;
}

} // namespace proxyd
