// The request half of serving an HTTP/2 stream through the HTTP/1.1 pipeline: the stream's
// request rendered as HTTP/1.1 bytes (H2RequestRender). The response half writes fields, not
// text: response_fields_test.cpp.
#include "h2/h2_request_render.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace proxyd;

namespace {

H2RequestHead request(std::string method, std::string path, std::vector<H2Field> fields, bool has_body) {
    H2RequestHead head;
    head.stream_id = 1;
    head.method = std::move(method);
    head.path = std::move(path);
    head.scheme = "https";
    head.fields = std::move(fields);
    head.has_body = has_body;
    return head;
}

} // namespace

TEST_CASE("h2 render: a bodiless GET becomes a request line, its fields and Host") {
    H2RequestRender render;
    std::string out = render.head(request(
        "GET", "/a?b=1", {{"user-agent", "t"}, {"host", "example.com"}, {"cookie", "a=1; b=2"}}, false));
    CHECK(out == "GET /a?b=1 HTTP/1.1\r\nuser-agent: t\r\nhost: example.com\r\ncookie: a=1; b=2\r\n\r\n");
    CHECK_FALSE(render.chunked());
    std::string end;
    render.end(end);
    CHECK(end.empty());
}

TEST_CASE("h2 render: a body without content-length is sent chunked, one chunk per DATA frame") {
    H2RequestRender render;
    std::string out = render.head(request("POST", "/up", {{"host", "h"}}, true));
    CHECK(out == "POST /up HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n");
    REQUIRE(render.chunked());
    std::string body;
    render.body("hello", body);
    render.body("", body); // an empty DATA frame is no chunk (a zero chunk would end the body)
    render.body(std::string(300, 'x'), body);
    render.end(body);
    CHECK(body == "5\r\nhello\r\n12c\r\n" + std::string(300, 'x') + "\r\n0\r\n\r\n");
}

TEST_CASE("h2 render: a body with content-length goes as it is") {
    H2RequestRender render;
    std::string out = render.head(request("PUT", "/x", {{"content-length", "3"}, {"host", "h"}}, true));
    CHECK(out == "PUT /x HTTP/1.1\r\ncontent-length: 3\r\nhost: h\r\n\r\n");
    std::string body;
    render.body("abc", body);
    render.end(body);
    CHECK(body == "abc");
}

TEST_CASE("h2 render: heads are appended to the buffer the owner reuses, each deciding its own framing") {
    H2RequestRender first;
    H2RequestRender second;
    std::string buffer = "kept ";
    first.head(request("POST", "/up", {{"host", "h"}}, true), buffer);
    CHECK(buffer == "kept POST /up HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n");
    CHECK(first.chunked());
    buffer.clear();
    second.head(request("GET", "/", {{"host", "h"}, {"accept", "*/*"}}, false), buffer);
    CHECK(buffer == "GET / HTTP/1.1\r\nhost: h\r\naccept: */*\r\n\r\n");
    CHECK_FALSE(second.chunked());
    CHECK(buffer.size() == buffer.find("\r\n\r\n") + 4); // sized exactly: nothing after the blank line
}
