#include "head_of_fields.hpp"
#include "http/trailer_fields.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd;

namespace {

bool forwardable(std::string_view name, const MessageHead &head = {}) {
    ConnectionOptions options(head);
    return trailer_field_forwardable(classify_field(name), name, options);
}

} // namespace

TEST_CASE("trailers: fields meant for after the content go on", "[http][trailers]") {
    for (std::string_view name : {"grpc-status", "Grpc-Message", "X-Checksum", "Server-Timing", "Digest",
                                  "Authentication-Info", "ETag", "Content-MD5"})
        CHECK(forwardable(name));
}

TEST_CASE("trailers: framing, routing, authentication, controls and content format stay out (RFC 9110 6.5.1)",
          "[http][trailers]") {
    for (std::string_view name : {"Content-Length",
                                  "transfer-encoding",
                                  "TE",
                                  "Trailer",
                                  "Connection",
                                  "Keep-Alive",
                                  "Proxy-Connection",
                                  "Upgrade",
                                  "Host",
                                  "Expect",
                                  "Authorization",
                                  "Proxy-Authorization",
                                  "WWW-Authenticate",
                                  "Proxy-Authenticate",
                                  "Cookie",
                                  "Set-Cookie",
                                  "Max-Forwards",
                                  "Range",
                                  "If-Match",
                                  "If-None-Match",
                                  "If-Modified-Since",
                                  "If-Unmodified-Since",
                                  "If-Range",
                                  "Cache-Control",
                                  "Expires",
                                  "Pragma",
                                  "Age",
                                  "Vary",
                                  "Location",
                                  "Retry-After",
                                  "Content-Type",
                                  "Content-Encoding",
                                  "Content-Range"})
        CHECK_FALSE(forwardable(name));
}

TEST_CASE("trailers: fields the proxy sets in the head it forwards cannot be contradicted",
          "[http][trailers]") {
    for (std::string_view name :
         {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "Via", "X-Request-ID"})
        CHECK_FALSE(forwardable(name));
}

TEST_CASE("trailers: names the head's Connection lists, and names that are not tokens, stay out",
          "[http][trailers]") {
    MessageHead head = head_of_fields({{"Connection", "keep-alive, X-Hop"}});
    CHECK_FALSE(forwardable("x-hop", head));
    CHECK(forwardable("x-end", head));
    CHECK_FALSE(forwardable("x bad"));
    CHECK_FALSE(forwardable(""));
}

TEST_CASE("trailers: the last chunk carries the fields that may go on, in order", "[http][trailers]") {
    MessageHead trailers = head_of_fields({{"X-Sum", "1"}, {"Content-Length", "9"}, {"grpc-status", "0"}});
    std::string out;
    append_last_chunk(trailers, ConnectionOptions(MessageHead{}), out);
    CHECK(out == "0\r\nX-Sum: 1\r\ngrpc-status: 0\r\n\r\n");
    out.clear();
    append_last_chunk(MessageHead{}, ConnectionOptions(MessageHead{}), out);
    CHECK(out == "0\r\n\r\n");
}
