// WebSocket over HTTP/2 (RFC 8441): an extended CONNECT rendered as the HTTP/1.1 Upgrade request
// an upstream expects, with a key of proxyd's own, and the accept value that answers a key.
#include "h2/h2_websocket_render.hpp"
#include "http/websocket_key.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd;

TEST_CASE("websocket key: the accept value of RFC 6455's example, and fresh keys") {
    CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    std::string a = websocket_key(), b = websocket_key();
    CHECK(a.size() == 24);
    CHECK(a.substr(22) == "==");
    CHECK(a != b);
}

TEST_CASE("h2 websocket: an extended CONNECT becomes an Upgrade GET with proxyd's key") {
    H2RequestHead head;
    head.method = "CONNECT";
    head.protocol = "websocket";
    head.path = "/chat?room=1";
    head.scheme = "https";
    head.has_body = true;
    head.fields = {{"sec-websocket-version", "13"},
                   {"sec-websocket-key", "c2VudCBieSB0aGUgY2xpZW50"},
                   {"content-length", "5"},
                   {"host", "chat.example"}};
    REQUIRE(is_websocket_connect(head));
    std::string out;
    render_websocket_request(head, out);
    std::string prefix = "GET /chat?room=1 HTTP/1.1\r\nsec-websocket-version: 13\r\nhost: chat.example\r\n"
                         "connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-key: ";
    REQUIRE(out.size() == prefix.size() + 24 + 4);
    CHECK(out.substr(0, prefix.size()) == prefix);
    CHECK(out.substr(out.size() - 4) == "\r\n\r\n");
    CHECK(out.find("c2VudCBieSB0aGUgY2xpZW50") == std::string::npos); // the client's key is not used

    head.protocol = "WebSocket";
    CHECK(is_websocket_connect(head));
    head.protocol = "connect-udp";
    CHECK_FALSE(is_websocket_connect(head));
    head.protocol.clear();
    CHECK_FALSE(is_websocket_connect(head));
}
