// WebSocket over HTTP/2 (RFC 8441): an extended CONNECT made the HTTP/1.1 Upgrade request an
// upstream expects, with a key of proxyd's own, and the accept value that answers a key. What the
// parser makes of that request: h2_bridge_test.cpp.
#include "h2/h2_websocket_upgrade.hpp"
#include "http/websocket_key.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

using namespace proxyd;

namespace {

class NoEvents final : public H2Events {
  public:
    void on_request_head(H2RequestHead) override {}
    void on_request_data(int32_t, std::string_view) override {}
    void on_request_trailers(int32_t, std::vector<H2Field> &&) override {}
    void on_request_end(int32_t) override {}
    void on_stream_close(int32_t, uint32_t, size_t) override {}
    void on_response_data_sent(int32_t, size_t) override {}
    void on_response_read_failed(int32_t, int) override {}
};

// The entries of the first frame a new session writes: its SETTINGS.
std::map<uint16_t, uint32_t> server_settings(const H2Limits &limits) {
    NoEvents events;
    H2Session session(events, limits);
    std::string out;
    session.flush(out);
    REQUIRE(out.size() >= 9);
    REQUIRE(out[3] == 4); // SETTINGS
    size_t length = (size_t(uint8_t(out[0])) << 16) | (size_t(uint8_t(out[1])) << 8) | uint8_t(out[2]);
    std::map<uint16_t, uint32_t> settings;
    for (size_t at = 9; at + 6 <= 9 + length && at + 6 <= out.size(); at += 6) {
        auto byte = [&](size_t i) { return uint32_t(uint8_t(out[at + i])); };
        settings[uint16_t(byte(0) << 8 | byte(1))] = byte(2) << 24 | byte(3) << 16 | byte(4) << 8 | byte(5);
    }
    return settings;
}

} // namespace

TEST_CASE("h2 websocket: SETTINGS_ENABLE_CONNECT_PROTOCOL only when enabled") {
    constexpr uint16_t kEnableConnectProtocol = 8;
    H2Limits limits;
    CHECK(server_settings(limits).count(kEnableConnectProtocol) == 0);
    limits.enable_connect_protocol = true;
    std::map<uint16_t, uint32_t> on = server_settings(limits);
    CHECK(on.count(kEnableConnectProtocol) == 1);
    CHECK(on[kEnableConnectProtocol] == 1);
    CHECK(on.count(3) == 1); // the others still there (MAX_CONCURRENT_STREAMS)
}

TEST_CASE("websocket key: the accept value of RFC 6455's example, and fresh keys") {
    CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    std::string a = websocket_key().value(), b = websocket_key().value();
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
    REQUIRE(make_websocket_upgrade(head));
    CHECK(head.method == "GET");
    CHECK(head.path == "/chat?room=1");
    CHECK_FALSE(head.has_body); // its DATA are the tunnel's, after the message ended with its head
    REQUIRE(head.fields.size() == 5);
    std::vector<H2Field> before_key(head.fields.begin(), head.fields.end() - 1);
    CHECK(before_key == std::vector<H2Field>{{"sec-websocket-version", "13"},
                                             {"host", "chat.example"},
                                             {"connection", "upgrade"},
                                             {"upgrade", "websocket"}});
    const H2Field &key = head.fields.back();
    CHECK(key.first == "sec-websocket-key");
    CHECK(key.second.size() == 24);
    CHECK(key.second != "c2VudCBieSB0aGUgY2xpZW50"); // the client's key is not used

    head.method = "CONNECT";
    head.protocol = "WebSocket";
    CHECK(is_websocket_connect(head));
    head.protocol = "connect-udp";
    CHECK_FALSE(is_websocket_connect(head));
    head.protocol.clear();
    CHECK_FALSE(is_websocket_connect(head));
}
