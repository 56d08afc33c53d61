// A response head written as HTTP/2 fields (ResponseHeadWriter into ResponseFields): what an
// HTTP/2 stream's HEADERS carry, by the rules the HTTP/1.1 text follows, and what the session
// submits of them.
#include "h2/h2_session.hpp"
#include "http/response_fields.hpp"
#include "http/response_head_writer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using namespace proxyd;

namespace {

constexpr std::string_view kDate = "Sat, 05 Dec 2026 17:00:00 GMT";

std::vector<std::pair<std::string, std::string>> list(const ResponseFields &fields) {
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < fields.size(); ++i)
        out.emplace_back(fields.name(i), fields.value(i));
    return out;
}

HeadEnding ending(std::optional<uint64_t> length, bool chunked = false, bool keep_alive = true) {
    HeadEnding e;
    e.content_length = length;
    e.chunked = chunked;
    e.keep_alive = keep_alive;
    return e;
}

} // namespace

TEST_CASE("fields: names lower-case, hop-by-hop and Connection-named fields dropped", "[http][head][h2]") {
    ResponseFields fields;
    ResponseHeadWriter head(fields, 200);
    CHECK(head.fields_out() == &fields);
    head.field("X-Kept", "yes");
    head.field("Connection", "close, X-Hop");
    head.field("Keep-Alive", "timeout=5");
    head.field("Transfer-Encoding", "chunked");
    head.field("X-Hop", "1");
    head.field("Upgrade", "websocket");
    head.end(kDate, ending(5, false, false));
    CHECK(fields.status() == 200);
    CHECK(fields.content_length() == 5u);
    CHECK(list(fields) == std::vector<std::pair<std::string, std::string>>{
                              {"x-kept", "yes"}, {"date", std::string(kDate)}, {"content-length", "5"}});
}

TEST_CASE("fields: proxyd's own answer, formatted lines and HSTS as the text writer has them",
          "[http][head][h2]") {
    ResponseFields fields;
    ResponseHeadWriter head(fields, 404);
    head.strict_transport_security("max-age=600");
    head.origin_fields(kDate);
    head.formatted_fields("Content-Type: text/plain\r\nX-Two:  spaced \r\n");
    head.field("Strict-Transport-Security", "max-age=1"); // the listener's replaces it
    head.end(kDate, ending(12));
    CHECK(list(fields) ==
          std::vector<std::pair<std::string, std::string>>{{"server", "proxyd"},
                                                           {"date", std::string(kDate)},
                                                           {"content-type", "text/plain"},
                                                           {"x-two", "spaced"},
                                                           {"strict-transport-security", "max-age=600"},
                                                           {"content-length", "12"}});
}

TEST_CASE("fields: the body's length is known only from a content-length", "[http][head][h2]") {
    ResponseFields fields;
    SECTION("a re-chunked body has none") {
        ResponseHeadWriter head(fields, 200);
        head.end(kDate, ending(std::nullopt, true));
        CHECK_FALSE(fields.content_length());
        CHECK(list(fields).size() == 1); // date only: no transfer-encoding
    }
    SECTION("a 204 carries none, whatever is asked") {
        ResponseHeadWriter head(fields, 204);
        head.end(kDate, ending(7));
        CHECK_FALSE(fields.content_length());
    }
    SECTION("a HEAD answer keeps the length it describes") {
        ResponseHeadWriter head(fields, 200);
        head.field("Date", "Mon, 01 Jan 2024 00:00:00 GMT");
        head.end(kDate, ending(1000));
        CHECK(fields.content_length() == 1000u);
        CHECK(list(fields) == std::vector<std::pair<std::string, std::string>>{
                                  {"date", "Mon, 01 Jan 2024 00:00:00 GMT"}, {"content-length", "1000"}});
    }
}

TEST_CASE("fields: an interim head, and the next head reuses the buffer", "[http][head][h2]") {
    ResponseFields fields;
    {
        ResponseHeadWriter head(fields, 103);
        head.field("Link", "</a.css>; rel=preload");
        head.field("Connection", "x");
        head.end_interim();
        CHECK(fields.status() == 103);
        CHECK(list(fields) ==
              std::vector<std::pair<std::string, std::string>>{{"link", "</a.css>; rel=preload"}});
    }
    ResponseHeadWriter head(fields, 201);
    head.end(kDate, ending(2));
    CHECK(fields.status() == 201);
    CHECK(list(fields) == std::vector<std::pair<std::string, std::string>>{{"date", std::string(kDate)},
                                                                           {"content-length", "2"}});
}

namespace {

struct NoEvents : H2Events {
    std::vector<int32_t> streams;
    void on_request_head(H2RequestHead head) override { streams.push_back(head.stream_id); }
    void on_request_data(int32_t, std::string_view) override {}
    void on_request_trailers(int32_t, std::vector<H2Field> &&) override {}
    void on_request_end(int32_t) override {}
    void on_stream_close(int32_t, uint32_t, size_t) override {}
    void on_response_data_sent(int32_t, size_t) override {}
    void on_response_read_failed(int32_t, int) override {}
};

// A client's preface, SETTINGS and one GET on stream 1 (HPACK: indexed :method GET, :scheme
// https, :path /, then a literal :authority "a").
std::string client_get() {
    std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
    std::string block = "\x82\x87\x84\x41\x01"
                        "a";
    bytes += std::string("\x00\x00", 2) + static_cast<char>(block.size()) + "\x01\x05" +
             std::string("\x00\x00\x00\x01", 4) + block;
    return bytes;
}

} // namespace

TEST_CASE("fields: the session submits a written head as it lies", "[h2][head]") {
    NoEvents events;
    H2Session session(events);
    std::string in = client_get(), out;
    REQUIRE(session.receive(in.data(), in.size(), out) == H2Session::Status::kOk);
    REQUIRE(events.streams == std::vector<int32_t>{1});
    ResponseFields fields;
    ResponseHeadWriter early(fields, 103);
    early.field("Link", "</a.css>");
    early.end_interim();
    CHECK(session.submit_interim(1, fields));
    ResponseHeadWriter head(fields, 200);
    head.field("X-A", "b");
    head.end(kDate, ending(2));
    CHECK(session.submit_response(1, fields, true));
    CHECK_FALSE(session.submit_response(1, fields, true)); // answered once
    CHECK(session.send_data(1, "ok", true));
    out.clear();
    REQUIRE(session.flush(out) == H2Session::Status::kOk);
    // Two HEADERS frames (the 103, then the 200) and the DATA frame that ends the stream.
    size_t at = 0;
    std::vector<int> types;
    while (at + 9 <= out.size()) {
        size_t length = (static_cast<uint8_t>(out[at]) << 16) | (static_cast<uint8_t>(out[at + 1]) << 8) |
                        static_cast<uint8_t>(out[at + 2]);
        types.push_back(static_cast<uint8_t>(out[at + 3]));
        at += 9 + length;
    }
    CHECK(std::count(types.begin(), types.end(), 0x1) == 2);
    CHECK(std::count(types.begin(), types.end(), 0x0) == 1);
    CHECK(out.find("ok") != std::string::npos);
}
