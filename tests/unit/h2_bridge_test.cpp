// The two halves of serving an HTTP/2 stream through the HTTP/1.1 pipeline: the stream's request
// rendered as HTTP/1.1 bytes (H2RequestRender), and the HTTP/1.1 response the exchanges write
// read back into an HTTP/2 head and body (H2ResponseReader).
#include "h2/h2_request_render.hpp"
#include "h2/h2_response_reader.hpp"

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

struct Recorder : H2ResponseReader::Output {
    int status = 0;
    std::vector<H2Field> fields;
    bool has_body = false;
    std::string body;
    int ends = 0;
    void response_head(int s, const std::vector<H2Field> &f, bool b) override {
        status = s;
        fields = f;
        has_body = b;
    }
    void response_data(std::string_view data, bool end) override {
        body.append(data);
        if (end) ++ends;
    }
    std::vector<std::pair<int, std::vector<H2Field>>> interims;
    void interim_head(int s, const std::vector<H2Field> &f) override { interims.emplace_back(s, f); }
    bool has(std::string_view name) const {
        for (const auto &[n, v] : fields)
            if (n == name) return true;
        return false;
    }
};

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

TEST_CASE("h2 reader: a content-length response, hop-by-hop fields dropped, names lower-case") {
    Recorder out;
    H2ResponseReader reader(out, false);
    REQUIRE(
        reader.write("HTTP/1.1 200 OK\r\nServer: proxyd\r\nContent-Length: 5\r\nConnection: close, X-Hop\r\n"
                     "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nX-Kept: yes\r\n\r\nhel"));
    CHECK(out.status == 200);
    CHECK(out.has_body);
    CHECK(out.has("server"));
    CHECK(out.has("content-length"));
    CHECK(out.has("x-kept"));
    CHECK_FALSE(out.has("connection"));
    CHECK_FALSE(out.has("keep-alive"));
    CHECK_FALSE(out.has("x-hop"));
    CHECK(out.ends == 0);
    REQUIRE(reader.write("lo"));
    CHECK(out.body == "hello");
    CHECK(out.ends == 1);
    CHECK(reader.complete());
    CHECK(reader.finish());
}

TEST_CASE("h2 reader: chunked framing is removed and transfer-encoding dropped") {
    Recorder out;
    H2ResponseReader reader(out, false);
    REQUIRE(reader.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"));
    REQUIRE(reader.write("2\r\nde\r\n0\r\n\r\n"));
    CHECK_FALSE(out.has("transfer-encoding"));
    CHECK(out.body == "abcde");
    CHECK(out.ends == 1);
}

TEST_CASE("h2 reader: HEAD, 204, 304 and an empty body end with the head") {
    SECTION("HEAD") {
        Recorder out;
        H2ResponseReader reader(out, true);
        REQUIRE(reader.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"));
        CHECK(out.status == 200);
        CHECK_FALSE(out.has_body);
        CHECK(out.has("content-length"));
        CHECK(reader.complete());
    }
    SECTION("304") {
        Recorder out;
        H2ResponseReader reader(out, false);
        REQUIRE(reader.write("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"));
        CHECK(out.status == 304);
        CHECK_FALSE(out.has_body);
    }
    SECTION("Content-Length: 0") {
        Recorder out;
        H2ResponseReader reader(out, false);
        REQUIRE(reader.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
        CHECK(out.status == 404);
        CHECK_FALSE(out.has_body);
        CHECK(out.ends == 0);
    }
}

TEST_CASE("h2 reader: 103 Early Hints is passed on before the final head, 100 Continue is not") {
    Recorder out;
    H2ResponseReader reader(out, false);
    REQUIRE(reader.write(
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: x\r\nX: 1\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"));
    REQUIRE(out.interims.size() == 1);
    CHECK(out.interims[0].first == 103);
    CHECK(out.interims[0].second == std::vector<H2Field>{{"link", "</a.css>; rel=preload"}});
    CHECK(out.status == 201);
    CHECK(out.body == "ok");
}

TEST_CASE("h2 reader: a body delimited by the end completes at finish; a short one is cut") {
    SECTION("until close") {
        Recorder out;
        H2ResponseReader reader(out, false);
        REQUIRE(reader.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc"));
        CHECK(out.has_body);
        CHECK(reader.finish());
        CHECK(out.body == "abc");
        CHECK(out.ends == 1);
    }
    SECTION("short") {
        Recorder out;
        H2ResponseReader reader(out, false);
        REQUIRE(reader.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
        CHECK_FALSE(reader.finish());
        CHECK_FALSE(reader.error_text().empty());
        CHECK(out.ends == 0);
    }
    SECTION("garbage") {
        Recorder out;
        H2ResponseReader reader(out, false);
        CHECK_FALSE(reader.write("not http at all\r\n\r\n"));
        CHECK_FALSE(reader.error_text().empty());
    }
}
