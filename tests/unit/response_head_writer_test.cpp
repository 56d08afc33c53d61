#include "http/response_head_writer.hpp"

#include <catch2/catch.hpp>
#include <string>

using proxyd::HeadEnding;
using proxyd::ResponseHeadWriter;

namespace {

// Designated initializers that skip a member trip GCC 12's -Wmissing-field-initializers.
HeadEnding length(uint64_t n) {
    HeadEnding e;
    e.content_length = n;
    return e;
}
HeadEnding chunked() {
    HeadEnding e;
    e.chunked = true;
    return e;
}
HeadEnding connection(bool keep_alive, uint8_t client_minor = 1) {
    HeadEnding e;
    e.keep_alive = keep_alive;
    e.client_minor = client_minor;
    return e;
}

constexpr std::string_view kDate = "Sat, 05 Dec 2026 17:00:00 GMT";

std::string write(int status, const HeadEnding &ending, std::string_view reason = {}) {
    std::string out;
    ResponseHeadWriter head(out, status, reason);
    head.field("X-A", "b");
    head.end(kDate, ending);
    return out;
}

} // namespace

TEST_CASE("a head has its status line, fields, Date, framing and the empty line", "[http][head]") {
    CHECK(write(200, length(5)) ==
          "HTTP/1.1 200 OK\r\nX-A: b\r\nDate: Sat, 05 Dec 2026 17:00:00 GMT\r\nContent-Length: 5\r\n\r\n");
    CHECK(write(200, chunked()) == "HTTP/1.1 200 OK\r\nX-A: b\r\nDate: Sat, 05 Dec 2026 17:00:00 "
                                   "GMT\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(write(404, length(0), "Gone Fishing").starts_with("HTTP/1.1 404 Gone Fishing\r\n"));
    CHECK(write(404, {}).starts_with("HTTP/1.1 404 Not Found\r\n"));
}

TEST_CASE("a Date the response has is kept, not doubled", "[http][head]") {
    std::string out;
    ResponseHeadWriter head(out, 200);
    head.field("date", "Mon, 01 Jan 2024 00:00:00 GMT");
    head.end(kDate, {});
    CHECK(out.find(kDate) == std::string::npos);
    CHECK(out.find("date: Mon, 01 Jan 2024") != std::string::npos);
}

TEST_CASE("proxyd's own answers say Server and Date once", "[http][head]") {
    std::string out;
    ResponseHeadWriter head(out, 502);
    head.origin_fields(kDate);
    head.end(kDate, length(10));
    CHECK(out == "HTTP/1.1 502 Bad Gateway\r\nServer: proxyd\r\nDate: Sat, 05 Dec 2026 17:00:00 GMT\r\n"
                 "Content-Length: 10\r\n\r\n");
}

TEST_CASE("a 204 and a 1xx carry no length and no transfer coding, whatever is asked", "[http][head]") {
    // RFC 9110 §8.6, RFC 9112 §6.1.
    for (int status : {204, 100, 103}) {
        INFO(status);
        CHECK(write(status, length(7)).find("Content-Length") == std::string::npos);
        CHECK(write(status, chunked()).find("Transfer-Encoding") == std::string::npos);
    }
    // A 304 keeps the length of the representation it describes.
    CHECK(write(304, length(7)).find("Content-Length: 7\r\n") != std::string::npos);
}

TEST_CASE("the connection field follows the keep-alive decision and the client's version", "[http][head]") {
    CHECK(write(200, connection(false)).ends_with("Connection: close\r\n\r\n"));
    CHECK(write(200, connection(true, 0)).ends_with("Connection: keep-alive\r\n\r\n"));
    CHECK(write(200, connection(false, 0)).ends_with("Connection: close\r\n\r\n"));
    // HTTP/1.1 keeps the connection by default: nothing to say.
    CHECK(write(200, connection(true)).find("Connection") == std::string::npos);
}

TEST_CASE("an interim head is its status line and fields only", "[http][head]") {
    std::string out;
    ResponseHeadWriter head(out, 103);
    head.field("Link", "</a.css>; rel=preload");
    head.end_interim();
    CHECK(out == "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
}

TEST_CASE("the listener's HSTS replaces the response's own on a final head only", "[http][head]") {
    std::string out;
    ResponseHeadWriter head(out, 200);
    head.strict_transport_security("max-age=60");
    head.field("Strict-Transport-Security", "max-age=0");
    head.end(kDate, length(0));
    CHECK(out.find("max-age=0") == std::string::npos);
    CHECK(out.find("Strict-Transport-Security: max-age=60\r\n") != std::string::npos);

    ResponseHeadWriter interim(out, 103);
    interim.strict_transport_security("max-age=60");
    interim.end_interim();
    CHECK(out == "HTTP/1.1 103 Early Hints\r\n\r\n");

    ResponseHeadWriter plain(out, 200);
    plain.field("Strict-Transport-Security", "max-age=5");
    plain.end(kDate, length(0));
    CHECK(out.find("Strict-Transport-Security: max-age=5\r\n") != std::string::npos);
}
