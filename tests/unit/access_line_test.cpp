// Access-log lines: the combined line is the documented format, and a JSON line stays valid JSON
// whatever bytes a client put in the fields it echoes.
#include "log/access_line.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;

namespace {

std::string json(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

AccessEntry sample() {
    AccessEntry e;
    e.client = "127.0.0.1";
    e.time = 1764170048; // 2025-11-26T15:14:08Z
    e.clf_time = "26/Nov/2025:15:14:08 +0000";
    e.method = "GET";
    e.target = "/a?b=c";
    e.status = 200;
    e.body_bytes = 12;
    e.user_agent = "curl/8";
    e.upstream = "127.0.0.1:9001";
    e.upstream_status = 200;
    e.request_time = 0.0042;
    e.listener = "web";
    e.request_id = "5f0c2a91d4e3b7a0";
    return e;
}

} // namespace

TEST_CASE("JSON strings escape quotes, backslashes and control bytes") {
    CHECK(json("plain") == "\"plain\"");
    CHECK(json("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(json(std::string_view("\x01\n\t\x7f", 4)) == "\"\\u0001\\u000a\\u0009\\u007f\"");
}

TEST_CASE("JSON strings keep valid UTF-8 and escape every byte of an invalid sequence") {
    CHECK(json("caf\xc3\xa9 \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""); // é and an emoji
    CHECK(json("caf\xe9") == "\"caf\\u00e9\"");                                        // Latin-1
    CHECK(json("\xc0\xaf") == "\"\\u00c0\\u00af\"");                                   // overlong '/'
    CHECK(json("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");                        // a surrogate
    CHECK(json("\xf4\x90\x80\x80") == "\"\\u00f4\\u0090\\u0080\\u0080\"");             // above U+10FFFF
    CHECK(json("\xe2\x82") == "\"\\u00e2\\u0082\"");                                   // truncated
}

TEST_CASE("the combined access line is the NCSA combined line plus proxyd's fields") {
    CHECK(format_access_line(sample(), AccessFormat::Combined) ==
          "127.0.0.1 - - [26/Nov/2025:15:14:08 +0000] \"GET /a?b=c HTTP/1.1\" 200 12 \"-\" \"curl/8\" "
          "upstream=127.0.0.1:9001 upstream_status=200 rt=0.004 listener=web request_id=5f0c2a91d4e3b7a0\n");
}

TEST_CASE("the combined line escapes what a client could forge fields with, as nginx does") {
    AccessEntry e = sample();
    e.target = "/a\"b";
    e.referer = "x\" 200 1 \"y";
    e.user_agent = "ua\\\tcaf\xc3\xa9";
    CHECK(
        format_access_line(e, AccessFormat::Combined) ==
        "127.0.0.1 - - [26/Nov/2025:15:14:08 +0000] \"GET /a\\x22b HTTP/1.1\" 200 12 \"x\\x22 200 1 \\x22y\" "
        "\"ua\\x5C\\x09caf\\xC3\\xA9\" upstream=127.0.0.1:9001 upstream_status=200 rt=0.004 listener=web "
        "request_id=5f0c2a91d4e3b7a0\n");
}

TEST_CASE("the JSON access line has every field, null where there is nothing") {
    AccessEntry e = sample();
    e.upstream = "-";
    e.upstream_status = 0;
    CHECK(format_access_line(e, AccessFormat::Json) ==
          "{\"time\":\"2025-11-26T15:14:08Z\",\"client\":\"127.0.0.1\",\"user\":null,\"method\":\"GET\","
          "\"target\":\"/"
          "a?b=c\","
          "\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":12,\"referer\":null,\"user_agent\":\"curl/8\","
          "\"upstream\":null,\"upstream_status\":null,\"request_time\":0.004,\"listener\":\"web\","
          "\"request_id\":\"5f0c2a91d4e3b7a0\"}\n");
}

TEST_CASE("a retried request's line lists each attempt's status beside its upstream, as nginx's") {
    AccessEntry e = sample();
    e.upstream = "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003";
    e.earlier_upstream_statuses = "503,-,";
    e.upstream_status = 200;
    CHECK_THAT(
        format_access_line(e, AccessFormat::Combined),
        Catch::Contains("upstream=127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003 upstream_status=503,-,200 "));
    // JSON keeps one number, the last attempt's: a field's type does not change with retries.
    CHECK_THAT(format_access_line(e, AccessFormat::Json), Catch::Contains(",\"upstream_status\":200,"));
    e.upstream_status = 0; // the last attempt failed too: 502 by proxyd
    CHECK_THAT(format_access_line(e, AccessFormat::Combined), Catch::Contains(" upstream_status=503,-,- "));
}

TEST_CASE("the Basic credentials' user is the line's user field, escaped so it cannot split the line") {
    AccessEntry e = sample();
    e.user = "alice";
    CHECK_THAT(format_access_line(e, AccessFormat::Combined), Catch::StartsWith("127.0.0.1 - alice [26/Nov"));
    CHECK_THAT(format_access_line(e, AccessFormat::Json), Catch::Contains(",\"user\":\"alice\","));
    // A space would end the unquoted field, a quote or backslash forge what follows.
    e.user = "a b\"c\\d\xff";
    CHECK_THAT(format_access_line(e, AccessFormat::Combined),
               Catch::StartsWith("127.0.0.1 - a\\x20b\\x22c\\x5Cd\\xFF [26/Nov"));
    CHECK_THAT(format_access_line(e, AccessFormat::Json),
               Catch::Contains(",\"user\":\"a b\\\"c\\\\d\\u00ff\","));
}
