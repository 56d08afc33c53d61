#include "http/header_rules.hpp"
#include "http/status_text.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace proxyd;

TEST_CASE("hop-by-hop fields of RFC 9110 7.6.1 are never forwarded", "[http]") {
    for (const char *name :
         {"Connection", "keep-alive", "Proxy-Connection", "TE", "Transfer-Encoding", "UPGRADE"})
        CHECK(is_hop_by_hop(name));
    // Same length and first letter as a hop-by-hop name, but not one; and Trailer, end-to-end
    // (RFC 9110 6.6.2).
    for (const char *name :
         {"Trailer", "Host", "Content-Length", "Accept", "Cookie", "X-Forwarded-For", "", "tx", "Tracing",
          "Updated", "Connectiox", "keep-alivf", "proxy-connectioN2", "Transfer-Encodinh"})
        CHECK_FALSE(is_hop_by_hop(name));
}

TEST_CASE("fields named by Connection are dropped too", "[http]") {
    std::vector<std::string_view> tokens;
    split_tokens(" close ,X-Secret,, foo\t", tokens);
    REQUIRE(tokens.size() == 3);
    CHECK(tokens[0] == "close");
    CHECK(tokens[1] == "X-Secret");
    CHECK(tokens[2] == "foo");

    // Two Connection fields, more options than are kept inline: every one counts.
    MessageHead head;
    auto add = [&head](std::string_view name, std::string_view value) {
        head.append_header_name(name);
        head.end_header_name();
        head.append_header_value(value);
    };
    add("Connection", " close ,X-Secret,, foo\t");
    add("Host", "example");
    add("connection", "a1, a2, a3, a4, a5, a6, X-Ninth, X-Tenth");
    ConnectionOptions options(head);
    CHECK(must_drop_when_forwarding("x-secret", options));
    CHECK(must_drop_when_forwarding("FOO", options));
    CHECK(must_drop_when_forwarding("x-ninth", options));
    CHECK(must_drop_when_forwarding("X-TENTH", options));
    CHECK(must_drop_when_forwarding("Keep-Alive", options)); // hop-by-hop without being listed
    CHECK_FALSE(must_drop_when_forwarding("X-Other", options));
    CHECK_FALSE(must_drop_when_forwarding("Host", options));
}

TEST_CASE("header names compare case-insensitively", "[http]") {
    CHECK(iequals("Content-Type", "content-type"));
    CHECK_FALSE(iequals("Content-Type", "content-typ"));
}

TEST_CASE("status codes carry their RFC 9110 reason phrases", "[http]") {
    CHECK(status_text(200) == "OK");
    CHECK(status_text(413) == "Content Too Large");
    CHECK(status_text(431) == "Request Header Fields Too Large");
    CHECK(status_text(502) == "Bad Gateway");
    CHECK(status_text(504) == "Gateway Timeout");
    CHECK(status_text(799) == "Unknown");
}

TEST_CASE("a response field name must be a token", "[http]") {
    auto head_with = [](std::string_view name) {
        MessageHead head;
        head.append_header_name(name);
        head.end_header_name();
        head.append_header_value("v");
        return head;
    };
    CHECK(field_names_are_tokens(head_with("X-Ok_1.2~")));
    CHECK_FALSE(field_names_are_tokens(head_with("X-A "))); // whitespace before the colon
    CHECK_FALSE(field_names_are_tokens(head_with("X(A)")));
    CHECK_FALSE(field_names_are_tokens(head_with("")));
}

TEST_CASE("the fields the core reads are recognised by kind once, whatever their case", "[http]") {
    const std::pair<const char *, FieldKind> known[] = {
        {"TE", FieldKind::kTe},
        {"via", FieldKind::kVia},
        {"HOST", FieldKind::kHost},
        {"Expect", FieldKind::kExpect},
        {"Trailer", FieldKind::kTrailer},
        {"upgrade", FieldKind::kUpgrade},
        {"Forwarded", FieldKind::kForwarded},
        {"Connection", FieldKind::kConnection},
        {"Keep-Alive", FieldKind::kKeepAlive},
        {"X-Request-ID", FieldKind::kXRequestId},
        {"content-length", FieldKind::kContentLength},
        {"X-Forwarded-For", FieldKind::kXForwardedFor},
        {"Proxy-Connection", FieldKind::kProxyConnection},
        {"x-forwarded-host", FieldKind::kXForwardedHost},
        {"Transfer-Encoding", FieldKind::kTransferEncoding},
        {"X-FORWARDED-PROTO", FieldKind::kXForwardedProto},
    };
    for (auto [name, kind] : known) {
        INFO(name);
        CHECK(classify_field(name) == kind);
    }
    // Same length and first letter as a known name, or a byte that only case-folding could match.
    for (const char *name : {"",
                             "tx",
                             "vie",
                             "Hosts",
                             "Hos",
                             "Tracing",
                             "Updated",
                             "Forwardee",
                             "Connectiox",
                             "Keep-Alivf",
                             "X-Request-Ie",
                             "X-Request_ID",
                             "Content-Lengti",
                             "Content-Range",
                             "X-Forwarded-Fox",
                             "X-Forwarded-Hosu",
                             "X-Forwarded-Prota",
                             "Transfer-Encodinh",
                             "\x08ost",
                             "hOST\r"})
        CHECK(classify_field(name) == FieldKind::kOther);
    CHECK(is_hop_by_hop(FieldKind::kConnection));
    CHECK(is_hop_by_hop(FieldKind::kUpgrade));
    CHECK_FALSE(is_hop_by_hop(FieldKind::kHost));
    CHECK_FALSE(is_hop_by_hop(FieldKind::kOther));
}

TEST_CASE("Transfer-Encoding fields read as RFC 9112 6.1 and 6.3 do", "[http]") {
    struct Case {
        std::vector<std::string> values;
        TransferCoding expected;
    } cases[] = {
        {{}, TransferCoding::kNone},
        {{"chunked"}, TransferCoding::kChunked},
        {{"Chunked "}, TransferCoding::kChunked},
        {{"gzip, chunked"}, TransferCoding::kOther},
        {{"gzip", "chunked"}, TransferCoding::kOther},
        {{"chunked, gzip"}, TransferCoding::kMalformed},
        {{"chunked", "chunked"}, TransferCoding::kMalformed},
        {{""}, TransferCoding::kMalformed},
        {{" , "}, TransferCoding::kMalformed},
    };
    for (const Case &c : cases) {
        MessageHead head;
        for (const std::string &value : c.values) {
            head.append_header_name("Transfer-Encoding");
            head.end_header_name();
            head.append_header_value(value);
        }
        INFO(c.values.size() << " fields, first '" << (c.values.empty() ? "" : c.values[0]) << "'");
        CHECK(transfer_coding(head) == c.expected);
    }
}
