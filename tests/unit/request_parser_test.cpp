#include "http/request_parser.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using proxyd::RequestLimits;
using proxyd::RequestParser;

namespace {

// Records what the parser reports, the way a connection would see it.
struct Recorder final : RequestParser::Events {
    std::vector<std::string> methods;
    std::vector<std::string> targets;
    std::vector<std::string> hosts;
    std::string body;
    bool chunked = false;
    std::string path, query;
    std::vector<bool> body_in_input; // at each head
    int begun = 0;
    int completed = 0;
    RequestParser *parser = nullptr;

    void on_request_begin() override { ++begun; }
    void on_head_received() override {}
    void on_request_head() override {
        methods.emplace_back(parser->view().method);
        targets.emplace_back(parser->view().target);
        hosts.emplace_back(parser->view().host);
        path = parser->view().path;
        query = parser->view().query;
        chunked = parser->chunked();
        body_in_input.push_back(parser->body_in_input());
    }
    void on_request_body(std::string_view data) override { body.append(data); }
    void on_request_complete() override {
        ++completed;
        if (const proxyd::MessageHead *t = parser->trailers())
            for (size_t i = 0; i < t->header_count(); ++i)
                trailers.push_back(std::string(t->header_name(i)) + "=" + std::string(t->header_value(i)));
    }
    std::vector<std::string> trailers; // as each message completed
};

struct Harness {
    RequestLimits limits;
    Recorder events;
    RequestParser parser{limits, events};
    explicit Harness(bool allow_bare_lf = false) : limits(limits_with_bare_lf(allow_bare_lf)) {
        events.parser = &parser;
    }
    static RequestLimits limits_with_bare_lf(bool allow) {
        RequestLimits made;
        made.allow_bare_lf = allow;
        return made;
    }

    // Feeds every byte, resetting after each message as a connection does once it answered.
    RequestParser::Result feed_all(std::string_view input) {
        RequestParser::Result result = RequestParser::Result::kNeedMore;
        while (!input.empty()) {
            result = parser.execute(input.data(), input.size());
            if (result == RequestParser::Result::kError) return result;
            input.remove_prefix(parser.consumed());
            if (result == RequestParser::Result::kMessageEnd) parser.reset();
        }
        return result;
    }
};

} // namespace

TEST_CASE("pipelined requests come out one at a time, with their bodies", "[http][parser]") {
    Harness h;
    std::string input =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /b?q=1 HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\nabc"
        "PUT /c HTTP/1.1\r\nHost: z\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n";
    auto first = h.parser.execute(input.data(), input.size());
    CHECK(first == RequestParser::Result::kMessageEnd);
    CHECK(h.parser.consumed() == 28);
    CHECK(h.parser.method() == "GET");
    CHECK_FALSE(h.parser.has_body());
    h.parser.reset();
    h.feed_all(std::string_view(input).substr(28));
    CHECK(h.events.targets == std::vector<std::string>{"/a", "/b?q=1", "/c"});
    CHECK(h.events.hosts == std::vector<std::string>{"x", "y", "z"});
    CHECK(h.events.body == "abcde");
    CHECK(h.events.completed == 3);
    CHECK(h.events.chunked);
}

TEST_CASE("an absolute-form target gives the path, query and host", "[http][parser]") {
    Harness h;
    h.feed_all("GET http://example.org:8080/p/q?x=y HTTP/1.1\r\nHost: ignored\r\n\r\n");
    CHECK(h.events.hosts == std::vector<std::string>{"example.org:8080"});
    CHECK(h.events.path == "/p/q");
    CHECK(h.events.query == "x=y");
}

TEST_CASE("the request's path is the target's with dot segments removed and slashes merged", "[http][parser]") {
    Harness h;
    REQUIRE(h.feed_all("GET /public/../admin//x?q=/../ HTTP/1.1\r\nHost: a\r\n\r\n") ==
            RequestParser::Result::kMessageEnd);
    CHECK(h.events.path == "/admin/x");
    CHECK(h.events.query == "q=/../"); // the query is not a path
    CHECK(h.events.targets == std::vector<std::string>{"/public/../admin//x?q=/../"});

    Harness above;
    CHECK(above.feed_all("GET /a/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n") ==
          RequestParser::Result::kError);
    CHECK(above.parser.error_status() == 400);
}

TEST_CASE("an absolute-form target without a path means '/'", "[http][parser]") {
    // Found by the request_parser fuzz target: the query came right after the authority.
    Harness h;
    h.feed_all("GET http://h.example:81?q HTTP/1.1\r\nHost: h.example:81\r\n\r\n");
    CHECK(h.events.hosts == std::vector<std::string>{"h.example:81"});
    CHECK(h.events.path == "/");
    CHECK(h.events.query == "q");
}

TEST_CASE("OPTIONS to an absolute-form URI without path or query asks what OPTIONS * does",
          "[http][parser]") {
    // RFC 9112 §3.2.4: the last proxy forwards it to the origin as "*".
    Harness h;
    h.feed_all("OPTIONS http://h.example HTTP/1.1\r\nHost: h.example\r\n\r\n");
    CHECK(h.events.path == "*");
    Harness with_query;
    with_query.feed_all("OPTIONS http://h.example?q HTTP/1.1\r\nHost: h.example\r\n\r\n");
    CHECK(with_query.events.path == "/");
    Harness other_method;
    other_method.feed_all("GET http://h.example HTTP/1.1\r\nHost: h.example\r\n\r\n");
    CHECK(other_method.events.path == "/");
}

TEST_CASE("each refusal earns its RFC status", "[http][parser]") {
    struct Case {
        const char *input;
        int status;
        bool head_valid = false; // the refusal comes after the head was handed on
    };
    const Case cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 400},                       // no Host in 1.1
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400}, // two Hosts
        {"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400},          // not a uri-host
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},          // nor a path
        {"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400},        // nor DEL
        // nor a quote, which would end Forwarded's host="..." and let a client add a for=
        {"GET / HTTP/1.1\r\nHost: x\",for=6.6.6.6;by=\"y\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a{b}\r\n\r\n", 400},
        {"GET example.org:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400}, // authority-form
        {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},              // asterisk, not OPTIONS
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},              // a version we do not speak
        {"GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505},              // another major
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
        {"FR(B / HTTP/1.1\r\nHost: a\r\n\r\n", 400}, // a method that is not a token
        // llhttp 8.1 alone would take "XY" for the CRLF after a chunk's data.
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", 400, true},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", 400,
         true},
        // Transfer codings: chunked must be final and once; anything else before it is unknown.
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        // The head's grammar (HeadScanner).
        {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400}, // obs-fold
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},              // space before the colon
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},                 // bare LF
        {"GET / HTTP/1.1\r\nHost: a\r\n\n", 400},                 // bare LF ending the head
        {"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400},         // bare CR
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},  // control byte
        {"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400},           // tab in the target
        {"GET /a.html#.png HTTP/1.1\r\nHost: a\r\n\r\n", 400},    // a fragment (RFC 9112 §3.2)
        {"GET http://a/b#c HTTP/1.1\r\nHost: a\r\n\r\n", 400},    // in absolute-form too
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},              // two spaces
        {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},               // malformed version
        {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},              // malformed version
        {"GET /\r\nHost: a\r\n\r\n", 400},                        // no version
        {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},               // not a token
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, true},
        // A length llhttp takes but an int64 cannot hold, and the first one llhttp refuses.
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
    };
    for (const Case &c : cases) {
        Harness h;
        INFO(c.input);
        CHECK(h.feed_all(c.input) == RequestParser::Result::kError);
        CHECK(h.parser.error_status() == c.status);
        CHECK(h.events.targets.size() == (c.head_valid ? 1u : 0u));
    }
}

TEST_CASE("a NUL in the head is refused, and a head split anywhere scans the same", "[http][parser]") {
    std::string bad = std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a") + '\0' + "b\r\n\r\n";
    std::string good = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
    for (size_t split = 1; split < good.size(); ++split) {
        Harness ok;
        ok.feed_all(good.substr(0, split));
        ok.feed_all(good.substr(split));
        CHECK(ok.events.completed == 1);
    }
    for (size_t split = 1; split < bad.size(); ++split) {
        Harness h;
        auto first = h.feed_all(bad.substr(0, split));
        auto second = first == RequestParser::Result::kError ? first : h.feed_all(bad.substr(split));
        CHECK(second == RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 400);
        CHECK(h.events.targets.empty());
    }
}

TEST_CASE("the CRLF after a chunk is checked even when a read ends inside it", "[http][parser]") {
    std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::string tail : {"3\r\nabc\r\n0\r\n\r\n", "3\r\nabcXY0\r\n\r\n", "3\r\nabc\rY0\r\n\r\n"}) {
        bool good = tail[6] == '\r' && tail[7] == '\n';
        for (size_t split = 1; split < tail.size(); ++split) {
            Harness h;
            INFO(tail << " split at " << split);
            auto first = h.feed_all(head + tail.substr(0, split));
            auto last = first == RequestParser::Result::kError ? first : h.feed_all(tail.substr(split));
            CHECK((last == RequestParser::Result::kError) == !good);
            CHECK(h.events.completed == (good ? 1 : 0));
        }
    }
}

TEST_CASE("bare LF passes only when allowed", "[http][parser]") {
    Harness h;
    h.limits.allow_bare_lf = true;
    RequestParser lenient(h.limits, h.events);
    h.events.parser = &lenient;
    std::string input = "GET / HTTP/1.1\nHost: a\nX: 1\n\n";
    CHECK(lenient.execute(input.data(), input.size()) == RequestParser::Result::kMessageEnd);
    CHECK(h.events.hosts == std::vector<std::string>{"a"});
}

TEST_CASE("the head limits answer 414, 431 and 413", "[http][parser]") {
    SECTION("a long target") {
        Harness h;
        h.limits.max_uri_bytes = 16;
        CHECK(h.feed_all("GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n") ==
              RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 414);
    }
    SECTION("too many header bytes") {
        Harness h;
        h.limits.max_header_bytes = 40;
        CHECK(h.feed_all("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + std::string(64, 'v') + "\r\n\r\n") ==
              RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 431);
    }
    SECTION("too many header fields") {
        Harness h;
        h.limits.max_headers = 2;
        CHECK(h.feed_all("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n") ==
              RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 431);
    }
    SECTION("a declared body over the limit is refused before any of it arrives") {
        Harness h;
        h.limits.max_body_bytes = 4;
        CHECK(h.feed_all("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") ==
              RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 413);
    }
    SECTION("chunk extensions over their bound") {
        Harness h;
        h.limits.max_chunk_extension_bytes = 16;
        std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        CHECK(h.feed_all(head + "1;a=0123456789\r\nx\r\n1;b=0123456789\r\ny\r\n0\r\n\r\n") ==
              RequestParser::Result::kMessageEnd);
        CHECK(h.events.body == "xy");
        Harness over;
        over.limits.max_chunk_extension_bytes = 16;
        CHECK(over.feed_all(head + "1;a=0123456789;b=0123456789\r\nx\r\n") == RequestParser::Result::kError);
        CHECK(over.parser.error_status() == 400);
    }
    SECTION("a chunked body that grows over the limit") {
        Harness h;
        h.limits.max_body_bytes = 4;
        CHECK(
            h.feed_all(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n") ==
            RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 413);
        CHECK(h.events.body == "abc");
    }
}

TEST_CASE("a request after an upgrade request is parsed as the next request", "[http][parser]") {
    // The upgrade was refused or ignored: what follows on the connection is HTTP again.
    Harness h;
    std::string input = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                        "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(h.feed_all(input) == RequestParser::Result::kMessageEnd);
    REQUIRE(h.events.targets.size() == 2);
    CHECK(h.events.targets[1] == "/next");
    CHECK(h.events.completed == 2);
}

TEST_CASE("an expectation other than 100-continue earns 417", "[http][parser]") {
    Harness h;
    CHECK(h.feed_all("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx") ==
          RequestParser::Result::kMessageEnd);
    Harness other;
    CHECK(other.feed_all(
              "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x-fast\r\nContent-Length: 1\r\n\r\nx") ==
          RequestParser::Result::kError);
    CHECK(other.parser.error_status() == 417);
    CHECK(other.events.targets.empty()); // refused before the request reached anyone
}

TEST_CASE("CONNECT earns 501, a tunnel this proxy does not make", "[http][parser]") {
    Harness h;
    CHECK(h.feed_all("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n") ==
          RequestParser::Result::kError);
    CHECK(h.parser.error_status() == 501);
    CHECK(h.events.targets.empty());
}

TEST_CASE("an HTTP/1.0 request's expectation is ignored, whatever it is", "[http][parser]") {
    Harness h;
    CHECK(h.feed_all("POST / HTTP/1.0\r\nExpect: x-fast\r\nContent-Length: 1\r\n\r\nx") ==
          RequestParser::Result::kMessageEnd);
    CHECK(h.events.completed == 1);
}

// Feeds input split at split (0: whole), resetting after each message as a connection does.
static void feed_split(Harness &h, const std::string &input, size_t split) {
    if (split == 0 || split >= input.size()) {
        h.feed_all(input);
        return;
    }
    if (h.feed_all(input.substr(0, split)) == RequestParser::Result::kError) return;
    h.feed_all(input.substr(split));
}

TEST_CASE("an extension method is parsed and kept as sent, however the line is split", "[http][parser]") {
    // RFC 9110 §9.1: any token is a method; llhttp 8.1 knows a fixed list, so it is handed a
    // stand-in while the real token is kept.
    for (std::string method : {"FROB", "Frob", "get", "X_CUSTOM.1!", "M-SEARCH", "PATCH", "A"}) {
        std::string input = "\r\n" + method + " /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
                            "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
        for (size_t split = 0; split < input.size(); ++split) {
            Harness h;
            INFO(method << " split at " << split);
            feed_split(h, input, split);
            CHECK(h.events.completed == 2);
            CHECK(h.events.targets == std::vector<std::string>{"/x?y", "/next"});
            CHECK(h.events.body == "abc");
            CHECK(h.events.methods == std::vector<std::string>{method, "GET"});
        }
        Harness h;
        std::string one = method + " /x HTTP/1.1\r\nHost: a\r\n\r\n";
        CHECK(h.parser.execute(one.data(), one.size()) == RequestParser::Result::kMessageEnd);
        CHECK(h.parser.method() == method);
        CHECK(h.parser.view().method == method);
    }
}

TEST_CASE("a method over the bound earns 501, even when it comes a byte at a time", "[http][parser]") {
    std::string method(proxyd::RequestLineAdapter::kMaxMethodBytes + 1, 'M');
    Harness whole;
    std::string input = method + " / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(whole.feed_all(input) == RequestParser::Result::kError);
    CHECK(whole.parser.error_status() == 501);
    Harness trickle;
    RequestParser::Result result = RequestParser::Result::kNeedMore;
    for (size_t i = 0; i < method.size() && result != RequestParser::Result::kError; ++i)
        result = trickle.parser.execute(&method[i], 1);
    CHECK(result == RequestParser::Result::kError);
    CHECK(trickle.parser.error_status() == 501);
    Harness longest;
    std::string ok =
        std::string(proxyd::RequestLineAdapter::kMaxMethodBytes, 'M') + " / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(longest.feed_all(ok) == RequestParser::Result::kMessageEnd);
    CHECK(longest.events.completed == 1);
}

TEST_CASE("HTTP/1.x above 1.1 is served as 1.1, however the line is split", "[http][parser]") {
    // RFC 9112 §2.3: a higher minor of a major we implement is processed as our highest minor.
    for (std::string version : {"HTTP/1.2", "HTTP/1.9", "HTTP/1.1", "HTTP/1.0"}) {
        std::string input = "GET /v " + version + "\r\nHost: a\r\n\r\nGET /w HTTP/1.1\r\nHost: a\r\n\r\n";
        for (size_t split = 0; split < input.size(); ++split) {
            Harness h;
            INFO(version << " split at " << split);
            std::string first = input.substr(0, input.find("GET /w"));
            if (split >= first.size()) continue;
            if (split == 0) {
                CHECK(h.parser.execute(first.data(), first.size()) == RequestParser::Result::kMessageEnd);
            } else {
                CHECK(h.parser.execute(first.data(), split) == RequestParser::Result::kNeedMore);
                CHECK(h.parser.execute(first.data() + split, first.size() - split) ==
                      RequestParser::Result::kMessageEnd);
            }
            CHECK(h.parser.http_major() == 1);
            CHECK(h.parser.http_minor() == (version == "HTTP/1.0" ? 0 : 1));
            CHECK(h.parser.sent_minor() == version.back() - '0');
            CHECK(h.events.targets == std::vector<std::string>{"/v"});
        }
    }
}

TEST_CASE("whether a body came whole with its head is known at the head", "[http][parser]") {
    SECTION("a Content-Length body in the same read, a pipelined one too") {
        Harness h;
        h.feed_all("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                   "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        CHECK(h.events.body_in_input == std::vector<bool>{true, true});
    }
    SECTION("a body whose last byte is still to come") {
        Harness h;
        std::string head = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabc";
        CHECK(h.parser.execute(head.data(), head.size()) == RequestParser::Result::kNeedMore);
        CHECK(h.events.body_in_input == std::vector<bool>{false});
    }
    SECTION("a head split over reads, its body in the last") {
        Harness h;
        std::string first = "POST /a HTTP/1.1\r\nHost: x\r\nCont";
        std::string second = "ent-Length: 2\r\n\r\nok";
        h.parser.execute(first.data(), first.size());
        CHECK(h.parser.execute(second.data(), second.size()) == RequestParser::Result::kMessageEnd);
        CHECK(h.events.body_in_input == std::vector<bool>{true});
    }
    SECTION("a chunked body is never taken as whole") {
        Harness h;
        h.feed_all("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        CHECK(h.events.body_in_input == std::vector<bool>{false});
    }
}

TEST_CASE("a chunked request's trailers are kept apart from its head, until reset",
          "[http][parser][trailers]") {
    Harness h;
    std::string input = "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "2\r\nhi\r\n0\r\nX-Sum: 12\r\nX-Empty:\r\n\r\n";
    // Split at every byte: the trailer spans carry across reads as the head's do.
    for (size_t split = 1; split < input.size(); ++split) {
        Harness one;
        REQUIRE(one.parser.execute(input.data(), split) == RequestParser::Result::kNeedMore);
        REQUIRE(one.parser.execute(input.data() + split, input.size() - split) ==
                RequestParser::Result::kMessageEnd);
        CHECK(one.events.trailers == std::vector<std::string>{"X-Sum=12", "X-Empty="});
        CHECK(one.parser.head().header_count() == 2); // Host, Transfer-Encoding: the head is untouched
        CHECK(one.events.body == "hi");
    }
    REQUIRE(h.parser.execute(input.data(), input.size()) == RequestParser::Result::kMessageEnd);
    CHECK(h.parser.view().target == "/t");
    REQUIRE(h.parser.trailers() != nullptr);
    h.parser.reset();
    CHECK(h.parser.trailers() == nullptr);
}

TEST_CASE("request trailers are held to the head's byte classes: a control byte earns 400",
          "[http][parser][trailers]") {
    std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
    const std::string bad[] = {
        "X-A: a\x01"
        "b\r\n",
        std::string("X-A: a\0b\r\n", 10),
        "X-A: a\x7f\r\n",
        "X(A: a\r\n",
    };
    for (bool lenient : {false, true})
        for (const std::string &trailer : bad) {
            Harness h(lenient);
            INFO((lenient ? "allow_bare_lf: " : "strict: ") << trailer);
            CHECK(h.feed_all(head + trailer + "\r\n") == RequestParser::Result::kError);
            CHECK(h.parser.error_status() == 400);
        }
    // An obs-fold is joined into one line (RFC 9112 §5.2 allows that or a 400): what goes on
    // upstream is one field, with no line break a later field could hide behind.
    for (bool lenient : {false, true}) {
        Harness h(lenient);
        std::string folded = head + "X-A: a\r\n\tContent-Length: 5\r\n\r\n";
        REQUIRE(h.feed_all(folded) == RequestParser::Result::kMessageEnd);
        REQUIRE(h.events.trailers.size() == 1);
        CHECK(h.events.trailers[0].starts_with("X-A=a"));
        CHECK(h.events.trailers[0].find_first_of("\r\n") == std::string::npos);
    }
}

TEST_CASE("request trailers are held to the head's limits on their own: 431 over them",
          "[http][parser][trailers]") {
    std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
    SECTION("bytes") {
        Harness h;
        h.limits.max_header_bytes = 80;
        CHECK(h.feed_all(head + "X-Fits: " + std::string(60, 'v') + "\r\n\r\n") ==
              RequestParser::Result::kMessageEnd);
        Harness over;
        over.limits.max_header_bytes = 80;
        CHECK(over.feed_all(head + "X-Long: " + std::string(90, 'v') + "\r\n\r\n") ==
              RequestParser::Result::kError);
        CHECK(over.parser.error_status() == 431);
    }
    SECTION("fields") {
        Harness h;
        h.limits.max_headers = 3;
        CHECK(h.feed_all(head + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n") == RequestParser::Result::kError);
        CHECK(h.parser.error_status() == 431);
    }
}

// The error log's "bad request (...)" says what an operator can act on, not llhttp's
// "HPE_USER: User callback error" for every refusal proxyd makes itself.
TEST_CASE("a head refused by proxyd's own checks says why", "[http][parser]") {
    struct Case {
        std::string_view input;
        int status;
        std::string_view why;
    };
    const Case cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 400, "no Host field (HTTP/1.1 requires one)"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host field"},
        {"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "a path with a malformed %-escape"},
        {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "the target '*' with a method other than OPTIONS"},
        {"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501, "CONNECT: this reverse proxy makes no tunnels"},
        {"GET / HTTP/1.1\r\nHost: a\r\nExpect: bogus\r\n\r\n", 417, "an Expect other than 100-continue"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
         "Transfer-Encoding without chunked last"},
    };
    for (const Case &c : cases) {
        Harness h;
        INFO(c.input);
        CHECK(h.feed_all(c.input) == RequestParser::Result::kError);
        CHECK(h.parser.error_status() == c.status);
        CHECK(h.parser.error_text() == c.why);
    }
}
