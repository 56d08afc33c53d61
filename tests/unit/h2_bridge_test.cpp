// The request half of serving an HTTP/2 stream through the HTTP/1.1 pipeline: the stream's head
// goes into the RequestParser as the fields it came in (accept_head), its body as bare bytes. What
// a user relies on is that this serves exactly the request the same head written as HTTP/1.1 and
// parsed would have been (as proxyd did before), so each case here runs both ways and compares
// everything the connection, the filters and the exchanges read from the parser. The response half
// writes fields, not text: response_fields_test.cpp.
#include "http/header_rules.hpp"
#include "http/request_parser.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using proxyd::RequestLimits;
using proxyd::RequestParser;

namespace {

using Field = std::pair<std::string, std::string>;
using Result = RequestParser::Result;

struct Request {
    std::string method = "GET";
    std::string path = "/";
    std::vector<Field> fields{{"host", "example.com"}};
    std::vector<std::string> body; // one piece a DATA frame; none: END_STREAM with the head
};

// All the connection can learn from the parser about one request.
struct Seen final : RequestParser::Events {
    RequestParser *parser = nullptr;
    int begun = 0, heads = 0, completed = 0;
    std::string method, target, path, query, host;
    std::vector<Field> fields;
    bool chunked = false, has_body = false, keep_alive = false;
    // The request asks to switch protocols as the proxy exchange reads it (exchange/tunnel's
    // wants_upgrade): HTTP/1.1, GET, no body, an Upgrade field and the upgrade Connection option.
    bool upgrade = false;
    int64_t content_length = -2;
    int major = 0, minor = 0;
    std::string body;
    std::optional<int> error_status;

    void on_request_begin() override { ++begun; }
    void on_head_received() override {}
    void on_request_head() override {
        ++heads;
        const auto &view = parser->view();
        method = parser->method();
        CHECK(view.method == method);
        target = view.target;
        path = view.path;
        query = view.query;
        host = view.host;
        for (size_t i = 0; i < parser->head().header_count(); ++i)
            fields.emplace_back(parser->head().header_name(i), parser->head().header_value(i));
        chunked = parser->chunked();
        has_body = parser->has_body();
        content_length = parser->content_length();
        major = parser->http_major();
        minor = parser->http_minor();
        keep_alive = parser->should_keep_alive();
        const proxyd::MessageHead &head = parser->head();
        upgrade = minor == 1 && method == "GET" && !has_body && head.count(proxyd::FieldKind::kUpgrade) > 0 &&
                  proxyd::ConnectionOptions(head).lists("upgrade");
    }
    void on_request_body(std::string_view data) override { body.append(data); }
    void on_request_complete() override { ++completed; }

    bool operator==(const Seen &o) const {
        return begun == o.begun && heads == o.heads && completed == o.completed && method == o.method &&
               target == o.target && path == o.path && query == o.query && host == o.host &&
               fields == o.fields && chunked == o.chunked && has_body == o.has_body && upgrade == o.upgrade &&
               keep_alive == o.keep_alive && content_length == o.content_length && major == o.major &&
               minor == o.minor && body == o.body && error_status == o.error_status;
    }
};

std::ostream &operator<<(std::ostream &out, const Seen &s) {
    out << "begun " << s.begun << " heads " << s.heads << " completed " << s.completed << " status "
        << s.error_status.value_or(0) << " [" << s.method << " " << s.target << " path " << s.path
        << " query " << s.query << " host " << s.host << "] upgrade " << s.upgrade << " chunked " << s.chunked
        << " length " << s.content_length << " body '" << s.body << "' fields";
    for (const auto &[name, value] : s.fields)
        out << " " << name << "=" << value;
    return out;
}

RequestLimits small_limits() {
    RequestLimits limits;
    limits.max_header_bytes = 300;
    limits.max_headers = 6;
    limits.max_uri_bytes = 100;
    limits.max_body_bytes = 50;
    return limits;
}

std::string hex(size_t n) {
    char text[24];
    return {text, static_cast<size_t>(std::snprintf(text, sizeof text, "%zx", n))};
}

// The way proxyd served a stream before accept_head: the head written as HTTP/1.1 (a body
// without content-length chunked, a chunk a DATA frame), parsed.
Seen through_text(const Request &r, const RequestLimits &limits) {
    Seen seen;
    RequestParser parser(limits, seen);
    seen.parser = &parser;
    bool has_length = false;
    std::string text = r.method + " " + r.path + " HTTP/1.1\r\n";
    for (const auto &[name, value] : r.fields) {
        text += name + ": " + value + "\r\n";
        has_length = has_length || name == "content-length";
    }
    bool chunked = !r.body.empty() && !has_length;
    if (chunked) text += "transfer-encoding: chunked\r\n";
    text += "\r\n";
    std::vector<std::string> inputs{text};
    for (const std::string &piece : r.body) {
        if (!chunked)
            inputs.push_back(piece);
        else if (!piece.empty())
            inputs.push_back(hex(piece.size()) + "\r\n" + piece + "\r\n");
    }
    if (chunked) inputs.push_back("0\r\n\r\n");
    for (const std::string &input : inputs)
        if (parser.execute(input.data(), input.size()) == Result::kError) {
            seen.error_status = parser.error_status();
            break;
        }
    return seen;
}

Seen through_fields(const Request &r, const RequestLimits &limits) {
    Seen seen;
    RequestParser parser(limits, seen);
    seen.parser = &parser;
    Result result = parser.accept_head(r.method, r.path, r.fields, !r.body.empty());
    for (size_t i = 0; i < r.body.size() && result != Result::kError; ++i)
        if (!r.body[i].empty()) result = parser.execute(r.body[i].data(), r.body[i].size());
    if (result != Result::kError && !r.body.empty()) result = parser.end_body();
    if (result == Result::kError) seen.error_status = parser.error_status();
    return seen;
}

void check_same(const Request &r, const RequestLimits &limits = {}) {
    INFO(r.method << " " << r.path);
    Seen text = through_text(r, limits);
    Seen fields = through_fields(r, limits);
    CHECK(fields == text);
}

Request with_path(std::string path) {
    Request r;
    r.path = std::move(path);
    return r;
}

// An extended CONNECT (RFC 8441) as h2/h2_websocket_upgrade makes it: the Upgrade GET of its
// :path, the client's fields, then connection, upgrade and proxyd's key.
Request websocket_upgrade(std::string path, std::vector<Field> client_fields) {
    Request r{"GET", std::move(path), std::move(client_fields), {}};
    r.fields.emplace_back("connection", "upgrade");
    r.fields.emplace_back("upgrade", "websocket");
    r.fields.emplace_back("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    return r;
}

} // namespace

TEST_CASE("h2 head: requests are served as their HTTP/1.1 text was", "[h2][parser]") {
    check_same({});
    check_same({"POST", "/up?x=1&y", {{"host", "h"}, {"content-length", "5"}, {"x-a", ""}}, {"he", "llo"}});
    check_same({"POST", "/up", {{"host", "h"}, {"user-agent", "t"}}, {"ab", "", "cde"}}); // chunked
    check_same({"PUT", "/e", {{"host", "h"}, {"content-length", "0"}}, {""}});
    check_same({"OPTIONS", "*", {{"host", "h"}}, {}});
    check_same({"GET", "*", {{"host", "h"}}, {}});                                // 400: * is OPTIONS' alone
    check_same({"PURGE", "/cache", {{"host", "h"}, {"cookie", "a=1; b=2"}}, {}}); // extension method
    check_same({"GET", "/", {{"accept", "*/*"}}, {}});                            // 400: no Host
    check_same({"GET", "/", {{"host", "a"}, {"host", "a"}}, {}});                 // 400: two
    check_same({"GET", "/", {{"host", "a@b"}}, {}});                              // 400: not a uri-host
    check_same({"GET", "/", {{"host", "h"}, {"expect", "100-continue"}}, {}});
    check_same({"GET", "/", {{"host", "h"}, {"expect", "gold"}}, {}}); // 417
    check_same({"GET", "/", {{"host", "h"}, {"x-v", "obs\x80text\xff"}}, {}});
    check_same({"GET", "/", {{"host", "h"}, {"X-Upper", "v"}}, {}});
    check_same({"GET", "/", {{"host", "h"}, {"x-request-id", "abc"}}, {}});
}

TEST_CASE("h2 head: every byte in a :path is taken or refused as in a request line", "[h2][parser]") {
    for (int byte = 1; byte < 256; ++byte) {
        if (byte == '\r' || byte == '\n') continue; // would end the text's line: below
        std::string ch(1, static_cast<char>(byte));
        check_same(with_path("/a" + ch + "b"));
        check_same(with_path("/a?q" + ch + "v"));
        check_same(with_path("/a#f" + ch));
        check_same(with_path(ch + "/"));
    }
    check_same(with_path("/a?b?c#d#e?f"));
    check_same(with_path("http://other.example/x?y")); // absolute-form: its authority is the host
    check_same(with_path("https://other.example"));
    check_same(with_path("other.example:443")); // authority-form: CONNECT's, not served
}

TEST_CASE("h2 head: method tokens, length and bytes, as in a request line", "[h2][parser]") {
    for (std::string method :
         {"get", "M-SEARCH", "X!#$%&'*+-.^_`|~9", "A(B", "A,B", "A:B", "A\"B", "A;B", "A\x7f", "A\xc3\xa9"}) {
        Request r;
        r.method = method;
        check_same(r);
    }
    Request longest;
    longest.method = std::string(proxyd::RequestLineAdapter::kMaxMethodBytes, 'M');
    check_same(longest);
    longest.method += "M"; // 501
    check_same(longest);
}

TEST_CASE("h2 head: content-length is read as llhttp reads it", "[h2][parser]") {
    for (std::string length :
         {"3", "003", "+3", "-1", "3a", "0x3", "", "18446744073709551616", "99999999999999999999999"}) {
        Request r{"POST", "/", {{"host", "h"}, {"content-length", length}}, {"abc"}};
        INFO("content-length: " << length);
        check_same(r);
    }
    check_same({"POST", "/", {{"host", "h"}, {"content-length", "3"}, {"content-length", "3"}}, {"abc"}});
    check_same({"POST", "/", {{"host", "h"}, {"content-length", "3"}, {"content-length", "4"}}, {"abc"}});
}

TEST_CASE("h2 head: the limits answer as they do for HTTP/1.1", "[h2][parser]") {
    RequestLimits limits = small_limits();
    check_same(with_path("/" + std::string(99, 'u')), limits);
    check_same(with_path("/" + std::string(100, 'u')), limits); // 414
    Request many;
    for (int i = 0; i < 5; ++i)
        many.fields.emplace_back("x-" + std::to_string(i), "v");
    check_same(many, limits);
    many.fields.emplace_back("x-last", "v"); // 431: seven fields
    check_same(many, limits);
    Request chunked{"POST", "/", {{"host", "h"}, {"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}, {"x"}};
    check_same(chunked, limits);
    chunked.fields.emplace_back("e", "5"); // 431: the added transfer-encoding is the seventh
    check_same(chunked, limits);
    for (size_t size : {200, 260, 280, 300}) {
        Request big;
        big.fields.emplace_back("x-big", std::string(size, 'v'));
        check_same(big, limits);
    }
    check_same({"POST", "/", {{"host", "h"}, {"content-length", "51"}}, {std::string(51, 'b')}}, limits);
    check_same({"POST", "/", {{"host", "h"}}, {std::string(30, 'b'), std::string(30, 'c')}}, limits);
}

TEST_CASE("h2 head: what HTTP/1.1 text cannot carry is refused, not split into more fields", "[h2][parser]") {
    RequestLimits limits;
    for (std::string value : {std::string("a\r\nx-injected: 1"), std::string("a\nb"), std::string("a\0b", 3),
                              std::string("a\x7f")}) {
        Request r;
        r.fields.emplace_back("x-v", value);
        Seen seen = through_fields(r, limits);
        CHECK(seen.error_status == 400);
        CHECK(seen.begun == 0); // refused before anything was handed on
    }
    for (std::string name : {"", "x y", "x:y", "x\r\ny"}) {
        Request r;
        r.fields.emplace_back(name, "v");
        CHECK(through_fields(r, limits).error_status == 400);
    }
    CHECK(through_fields(with_path(""), limits).error_status == 400);
    CHECK(through_fields(with_path("/a\r\nb"), limits).error_status == 400);
}

TEST_CASE("h2 head: a parser that served a stream serves HTTP/1.1 next, and the other way", "[h2][parser]") {
    RequestLimits limits;
    Seen seen;
    RequestParser parser(limits, seen);
    seen.parser = &parser;
    std::vector<Field> fields{{"host", "h"}};
    REQUIRE(parser.accept_head("POST", "/up", fields, true) == Result::kNeedMore);
    REQUIRE(parser.execute("abc", 3) == Result::kNeedMore);
    REQUIRE(parser.end_body() == Result::kMessageEnd);
    CHECK(parser.execute("x", 1) == Result::kMessageEnd); // ended: nothing more is taken
    CHECK(parser.consumed() == 0);
    parser.reset();
    std::string text = "GET /next HTTP/1.0\r\n\r\n";
    REQUIRE(parser.execute(text.data(), text.size()) == Result::kMessageEnd);
    CHECK(parser.http_minor() == 0);
    CHECK(parser.method() == "GET");
    CHECK_FALSE(parser.should_keep_alive());
    parser.reset();
    REQUIRE(parser.accept_head("DELETE", "/x", fields, false) == Result::kMessageEnd);
    CHECK(parser.method() == "DELETE");
    CHECK(parser.http_minor() == 1);
    CHECK(seen.completed == 3);
    CHECK(seen.body == "abc");
}

TEST_CASE("h2 bridge: a request's trailers are kept when its body has no length, dropped when it has one",
          "[h2][trailers]") {
    RequestLimits limits;
    Seen seen;
    RequestParser parser(limits, seen);
    seen.parser = &parser;
    std::vector<Field> fields{{"host", "h"}};
    std::vector<Field> trailers{{"x-checksum", "1"}, {"grpc-timeout", "5S"}};
    REQUIRE(parser.accept_head("POST", "/up", fields, true) == Result::kNeedMore);
    REQUIRE(parser.chunked());
    REQUIRE(parser.execute("ab", 2) == Result::kNeedMore);
    parser.accept_trailers(trailers);
    REQUIRE(parser.end_body() == Result::kMessageEnd);
    const proxyd::MessageHead *kept = parser.trailers();
    REQUIRE(kept != nullptr);
    REQUIRE(kept->header_count() == 2);
    CHECK(kept->header_name(0) == "x-checksum");
    CHECK(kept->header_value(1) == "5S");
    CHECK(parser.head().header_count() == 2); // host, and the transfer-encoding it goes on with
    parser.reset();
    CHECK(parser.trailers() == nullptr);

    std::vector<Field> sized{{"host", "h"}, {"content-length", "2"}};
    REQUIRE(parser.accept_head("PUT", "/x", sized, true) == Result::kNeedMore);
    parser.accept_trailers(trailers);
    CHECK(parser.execute("ab", 2) == Result::kMessageEnd);
    CHECK(parser.trailers() == nullptr);
}

TEST_CASE("h2 head: a WebSocket's extended CONNECT is the Upgrade GET its HTTP/1.1 text was",
          "[h2][parser]") {
    Request chat = websocket_upgrade("/chat?room=1", {{"host", "chat.example"},
                                                      {"sec-websocket-version", "13"},
                                                      {"sec-websocket-protocol", "chat, superchat"}});
    check_same(chat);
    Seen seen = through_fields(chat, {});
    CHECK(seen.method == "GET");
    CHECK(seen.target == "/chat?room=1");
    CHECK(seen.path == "/chat");
    CHECK(seen.host == "chat.example");
    CHECK(seen.upgrade);
    CHECK_FALSE(seen.has_body);
    CHECK(seen.completed == 1); // the message ended with its head
    CHECK(seen.fields.size() == 6);

    // The checks the text made: byte classes, and the limits with the three fields added.
    Request control = chat;
    control.fields[2].second = "chat\x01";
    check_same(control); // 400
    CHECK(through_fields(control, {}).begun == 0);
    RequestLimits limits = small_limits(); // six fields at most
    check_same(chat, limits);
    Request seventh = chat;
    seventh.fields.insert(seventh.fields.begin() + 3, {"sec-websocket-extensions", "permessage-deflate"});
    check_same(seventh, limits);                                                                       // 431
    check_same(websocket_upgrade("/" + std::string(100, 'u'), {{"host", "h"}}), limits);               // 414
    check_same(websocket_upgrade("/chat", {{"host", "h"}, {"x-big", std::string(250, 'v')}}), limits); // 431
    check_same(websocket_upgrade("/chat", {{"sec-websocket-version", "13"}})); // 400: no Host
}

TEST_CASE("h2 head: the bytes after a WebSocket's head are left for its tunnel, as after its text",
          "[h2][parser]") {
    Request chat = websocket_upgrade("/chat", {{"host", "h"}});
    const std::string tunnel = "\x81\x85\x0a\x0b\x0c\x0dhello";
    RequestLimits limits;

    Seen text_seen;
    RequestParser text(limits, text_seen);
    text_seen.parser = &text;
    std::string head = "GET /chat HTTP/1.1\r\n";
    for (const auto &[name, value] : chat.fields)
        head += name + ": " + value + "\r\n";
    head += "\r\n";
    std::string input = head + tunnel;
    REQUIRE(text.execute(input.data(), input.size()) == Result::kMessageEnd);
    CHECK(text.consumed() == head.size());

    Seen fields_seen;
    RequestParser fields(limits, fields_seen);
    fields_seen.parser = &fields;
    REQUIRE(fields.accept_head(chat.method, chat.path, chat.fields, false) == Result::kMessageEnd);
    CHECK(fields.execute(tunnel.data(), tunnel.size()) == Result::kMessageEnd);
    CHECK(fields.consumed() == 0);
    CHECK(fields_seen == text_seen);
    CHECK(fields_seen.upgrade);
    CHECK(fields_seen.body.empty());
}
