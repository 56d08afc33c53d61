#include "http/response_parser.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using proxyd::MessageHead;
using proxyd::ResponseContext;
using proxyd::ResponseFraming;
using proxyd::ResponseLimits;
using proxyd::ResponseParser;
using Result = proxyd::ResponseParser::Result;

namespace {

ResponseContext head_request() {
    ResponseContext c;
    c.head_request = true;
    return c;
}
ResponseContext upgrade_offered() {
    ResponseContext c;
    c.upgrade_offered = true;
    return c;
}

const char *framing_name(ResponseFraming f) {
    switch (f) {
    case ResponseFraming::kNone:
        return "none";
    case ResponseFraming::kContentLength:
        return "length";
    case ResponseFraming::kChunked:
        return "chunked";
    case ResponseFraming::kUntilClose:
        return "until-close";
    }
    return "?";
}

// Writes down what an exchange would hear, as one line per event; body pieces are joined, so a
// transcript does not depend on where the input was split.
struct Recorder final : ResponseParser::Events {
    ResponseParser *parser = nullptr;
    std::string transcript;
    std::string body;
    bool accept_head = true;

    std::string head_text() const {
        const MessageHead &h = parser->head();
        std::string out = std::to_string(parser->status()) + " " + std::string(h.reason());
        for (size_t i = 0; i < h.header_count(); ++i)
            out.append(" [").append(h.header_name(i)).append(": ").append(h.header_value(i)).append("]");
        return out;
    }
    void flush_body() {
        if (!body.empty()) transcript += "body " + body + "\n";
        body.clear();
    }
    void on_interim_response() override { transcript += "interim " + head_text() + "\n"; }
    bool on_response_head() override {
        auto length = parser->declared_length();
        transcript += "head " + head_text() + " framing=" + framing_name(parser->framing()) +
                      " length=" + (length ? std::to_string(*length) : "-") + "\n";
        return accept_head;
    }
    void on_response_body(std::string_view data) override { body.append(data); }
    void on_response_complete() override {
        flush_body();
        if (const MessageHead *t = parser->trailers()) {
            transcript += "trailers";
            for (size_t i = 0; i < t->header_count(); ++i)
                transcript.append(" [")
                    .append(t->header_name(i))
                    .append(": ")
                    .append(t->header_value(i))
                    .append("]");
            transcript += "\n";
        }
        transcript += "complete\n";
    }
};

struct Run {
    std::string transcript;
    Result result = Result::kNeedMore;
    size_t consumed = 0; // bytes of the input the response used
    bool keep_alive = false;
};

struct Harness {
    ResponseLimits limits;
    MessageHead head;
    Recorder events;
    ResponseParser parser{limits, head, events};
    size_t consumed = 0;
    Result result = Result::kNeedMore;

    explicit Harness(ResponseContext context = {}, size_t max_head = 64 * 1024) {
        limits.max_head_bytes = max_head;
        events.parser = &parser;
        parser.reset(context);
    }
    void feed(std::string_view input) {
        if (result != Result::kNeedMore) return; // the exchange stops feeding at an end or error
        result = parser.execute(input.data(), input.size());
        if (result != Result::kError) consumed += parser.consumed();
    }
    Run finish(bool eof) {
        if (eof && result == Result::kNeedMore) result = parser.finish();
        events.flush_body();
        // After an error nothing more is read from the connection: how far it got is moot.
        return {events.transcript, result, result == Result::kError ? 0 : consumed, parser.keep_alive()};
    }
};

Run parse_whole(std::string_view input, ResponseContext context = {}, bool eof = false) {
    Harness h(context);
    h.feed(input);
    return h.finish(eof);
}

// Every split into two reads gives what one read gives: llhttp's own state, the CRLF owed after a
// chunk and the head spans all carry across reads.
void check_every_split(std::string_view input, ResponseContext context = {}, bool eof = false) {
    Run whole = parse_whole(input, context, eof);
    for (size_t split = 1; split < input.size(); ++split) {
        Harness h(context);
        h.feed(input.substr(0, split));
        h.feed(input.substr(split));
        Run parts = h.finish(eof);
        INFO("split at " << split << " of:\n" << std::string(input));
        CHECK(parts.transcript == whole.transcript);
        CHECK(parts.result == whole.result);
        CHECK(parts.consumed == whole.consumed);
    }
}

} // namespace

TEST_CASE("a Content-Length response ends at its length, what follows is not its", "[http][response]") {
    std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA";
    Run run = parse_whole(input);
    CHECK(run.result == Result::kMessageEnd);
    CHECK(run.consumed == input.size() - 5);
    CHECK(run.transcript == "head 200 OK [Content-Length: 5] [X-A: b] framing=length length=5\n"
                            "body hello\ncomplete\n");
    CHECK(run.keep_alive);
    check_every_split(input);
}

TEST_CASE("a chunked response is decoded, its trailers kept apart from its head", "[http][response]") {
    std::string input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer-X: t\r\nGrpc-Status:  0 \r\n\r\n";
    Run run = parse_whole(input);
    CHECK(run.result == Result::kMessageEnd);
    CHECK(run.consumed == input.size());
    CHECK(run.transcript == "head 200 OK [Transfer-Encoding: chunked] framing=chunked length=-\n"
                            "body abcde\ntrailers [Trailer-X: t] [Grpc-Status: 0]\ncomplete\n");
    check_every_split(input);
}

TEST_CASE("response trailers over the head's size limit refuse the response", "[http][response]") {
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
    Harness h({}, 64);
    h.feed(head + "X-Long: " + std::string(100, 'a') + "\r\n\r\n");
    CHECK(h.result == Result::kError);
    CHECK_THAT(h.parser.error_text(), Catch::Contains("trailers"));
    Harness fits({}, 64);
    fits.feed(head + "X-Short: " + std::string(40, 'a') + "\r\n\r\n");
    CHECK(fits.result == Result::kMessageEnd);
}

TEST_CASE("reset() forgets the last response's trailers", "[http][response]") {
    Harness h;
    h.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n\r\n");
    REQUIRE(h.parser.trailers() != nullptr);
    CHECK(h.parser.trailers()->header_count() == 1);
    h.parser.reset({});
    CHECK(h.parser.trailers() == nullptr);
}

TEST_CASE("a response without a length ends with the connection", "[http][response]") {
    std::string input = "HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nsome body";
    Harness h;
    h.feed(input);
    CHECK(h.result == Result::kNeedMore);
    CHECK(h.parser.framing() == ResponseFraming::kUntilClose);
    Run run = h.finish(true);
    CHECK(run.result == Result::kMessageEnd);
    CHECK(run.transcript == "head 200 OK [X-A: b] framing=until-close length=-\nbody some body\ncomplete\n");
    CHECK_FALSE(run.keep_alive);
    check_every_split(input, {}, true);
}

TEST_CASE("a transfer coding proxyd cannot pass on refuses the response", "[http][response]") {
    // proxyd frames the body again, so the coding would be lost and its bytes taken for content.
    for (const char *input :
         {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"}) {
        INFO(input);
        Harness h;
        h.feed(input);
        CHECK(h.result == Result::kError);
        CHECK_THAT(h.parser.error_text(), Catch::Contains("Transfer-Encoding"));
    }
    // RFC 9112 §6.1: in an HTTP/1.0 message, Transfer-Encoding means faulty framing.
    Harness old;
    old.feed("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n");
    CHECK(old.result == Result::kError);
    CHECK_THAT(old.parser.error_text(), Catch::Contains("HTTP/1.0"));
    // A response without a body has nothing to decode: its head goes on.
    Harness not_modified;
    not_modified.feed("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    CHECK(not_modified.result == Result::kMessageEnd);
}

TEST_CASE("interim responses come before the final one, and end at their heads", "[http][response]") {
    std::string input = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nContent-Length: 9\r\n\r\n"
                        "HTTP/1.1 100 Continue\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    Run run = parse_whole(input);
    CHECK(run.result == Result::kMessageEnd);
    CHECK(run.consumed == input.size());
    CHECK(run.transcript == "interim 103 Early Hints [Link: </a.css>; rel=preload] [Content-Length: 9]\n"
                            "interim 100 Continue\n"
                            "head 200 OK [Content-Length: 2] framing=length length=2\nbody ok\ncomplete\n");
    check_every_split(input);
}

TEST_CASE("a higher HTTP/1.x is read as HTTP/1.1, in any split and after interim responses",
          "[http][response]") {
    // RFC 9112 §2.3: a recipient processes a higher minor version as the highest it implements.
    // llhttp 8.1 refuses anything but 1.0 and 1.1, so an origin that says HTTP/1.2 got a 502.
    std::string input = "HTTP/1.2 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                        "HTTP/1.9 200 OK\r\nContent-Length: 2\r\n\r\nok";
    Run run = parse_whole(input);
    CHECK(run.result == Result::kMessageEnd);
    CHECK(run.consumed == input.size());
    CHECK(run.transcript == "interim 103 Early Hints [Link: </a.css>; rel=preload]\n"
                            "head 200 OK [Content-Length: 2] framing=length length=2\nbody ok\ncomplete\n");
    CHECK(run.keep_alive); // as HTTP/1.1 does without Connection: close
    check_every_split(input);

    // Empty lines before a status line are skipped, the first one's or one after an interim.
    std::string spaced = "\r\nHTTP/1.2 100 Continue\r\n\r\n\r\n\r\nHTTP/1.2 204 No Content\r\n\r\n";
    Run spaced_run = parse_whole(spaced);
    CHECK(spaced_run.result == Result::kMessageEnd);
    CHECK(spaced_run.consumed == spaced.size());
    check_every_split(spaced);

    std::string plain = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
    CHECK(parse_whole(plain).result == Result::kMessageEnd);
    CHECK_FALSE(parse_whole(plain).keep_alive); // still HTTP/1.0
    check_every_split(plain);

    // Another major version, or no version at all, is still refused, however it is split.
    for (std::string bad :
         {"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.x 200 OK\r\n\r\n", "HTTP/3 200 OK\r\n\r\n",
          "HTTP/1. 200 OK\r\n\r\n", "HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n"}) {
        INFO(bad);
        CHECK(parse_whole(bad).result == Result::kError);
        check_every_split(bad);
    }
}

TEST_CASE("204, 304 and an answer to HEAD end at their heads whatever they declare", "[http][response]") {
    // RFC 9112 §6.3: read as having a body, these would swallow the next response on the
    // connection, or hang until the read timeout.
    struct Case {
        std::string input;
        ResponseContext context;
        std::string transcript;
    } cases[] = {
        {"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
         {},
         "head 204 No Content [Content-Length: 7] framing=none length=7\ncomplete\n"},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
         {},
         "head 304 Not Modified [Content-Length: 100] framing=none length=100\ncomplete\n"},
        {"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
         {},
         "head 304 Not Modified [Transfer-Encoding: chunked] framing=none length=-\ncomplete\n"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", head_request(),
         "head 200 OK [Content-Length: 100] framing=none length=100\ncomplete\n"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head_request(),
         "head 200 OK [Transfer-Encoding: chunked] framing=none length=-\ncomplete\n"},
    };
    for (const Case &c : cases) {
        INFO(c.input);
        // A next response on the same connection follows at once: it must not be read as a body.
        std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        Run run = parse_whole(c.input + next, c.context);
        CHECK(run.result == Result::kMessageEnd);
        CHECK(run.consumed == c.input.size());
        CHECK(run.transcript == c.transcript);
        CHECK(run.keep_alive);
        check_every_split(c.input + next, c.context);
    }
}

TEST_CASE("a 101 switches only when the request offered an upgrade", "[http][response]") {
    std::string head =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    std::string input = head + "\x81\x05hello";
    Run run = parse_whole(input, upgrade_offered());
    CHECK(run.result == Result::kSwitched);
    CHECK(run.consumed == head.size());
    CHECK(run.transcript ==
          "head 101 Switching Protocols [Upgrade: websocket] [Connection: upgrade] framing=none length=-\n");
    check_every_split(input, upgrade_offered());

    // Found by the fuzzer: without "Connection: upgrade" llhttp would read a body after the 101
    // (here until the connection's end, for the transfer coding) instead of switching.
    std::string bare =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nTransfer-Encoding: gzip\r\n\r\n";
    Run switched = parse_whole(bare + "\x81\x05hello", upgrade_offered());
    CHECK(switched.result == Result::kSwitched);
    CHECK(switched.consumed == bare.size());
    check_every_split(bare + "\x81\x05hello", upgrade_offered());

    Run refused = parse_whole(input);
    CHECK(refused.result == Result::kError);
    CHECK(refused.transcript.empty());
}

TEST_CASE("an interim response's close is kept for the connection, not taken for its end",
          "[http][response]") {
    // llhttp 8.1 alone would enter its closed state after the 1xx and swallow the final response.
    for (std::string interim :
         {"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n", "HTTP/1.0 103 Early\r\n\r\n"}) {
        std::string input = interim + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        INFO(input);
        Run run = parse_whole(input);
        CHECK(run.result == Result::kMessageEnd);
        CHECK(run.consumed == input.size());
        CHECK(run.transcript.find("body ok\ncomplete\n") != std::string::npos);
        CHECK_FALSE(run.keep_alive);
        check_every_split(input);
    }
    Harness h;
    h.feed("HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    h.parser.reset({}); // the next exchange's response starts clean
    h.result = Result::kNeedMore;
    h.feed("HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(h.result == Result::kMessageEnd);
    CHECK(h.parser.keep_alive());
}

TEST_CASE("an HTTP/1.0 response or Connection: close does not keep the connection", "[http][response]") {
    CHECK_FALSE(parse_whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK(parse_whole("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK_FALSE(parse_whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

TEST_CASE("malformed responses are refused, with a reason", "[http][response]") {
    struct Case {
        std::string input;
        std::string reason_part;
    } cases[] = {
        // llhttp 8.1 would let the space before the colon pass in a field it does not interpret.
        {"HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n", "not a token"},
        // The two bytes after a chunk's data must be CRLF (llhttp 8.1 takes any two).
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", "CRLF"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HPE_"},
        {"HTTP/1.1 2000 OK\r\n\r\n", "HPE_"},
        // Found by the fuzzer: llhttp 8.1 reads a status of fewer than three digits.
        {"HTTP/1.1 10 Odd\r\nContent-Length: 0\r\n\r\n", "three digits"},
        {"HTTP/1.1 1 Odd\r\nContent-Length: 0\r\n\r\n", "three digits"},
        {"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", "three digits"},
        {"HTTX/1.1 200 OK\r\n\r\n", "HPE_"},
    };
    for (const Case &c : cases) {
        INFO(c.input);
        Harness h;
        h.feed(c.input);
        CHECK(h.result == Result::kError);
        CHECK_THAT(h.parser.error_text(), Catch::Contains(c.reason_part));
        // Refused for good: more input changes nothing.
        h.result = Result::kNeedMore;
        h.feed("HTTP/1.1 200 OK\r\n\r\n");
        CHECK(h.result == Result::kError);
    }
}

TEST_CASE("the chunk CRLF check holds when the CRLF is split across reads", "[http][response]") {
    std::string input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n";
    check_every_split(input);
    CHECK(parse_whole(input).transcript.find("body abc") != std::string::npos); // the sound piece went on
}

TEST_CASE("a response head over the limit is refused", "[http][response]") {
    Harness h({}, 64);
    h.feed("HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n");
    CHECK(h.result == Result::kError);
    CHECK_THAT(h.parser.error_text(), Catch::Contains("size limit"));
}

TEST_CASE("a connection that ends inside a head or a delimited body cuts the response", "[http][response]") {
    for (std::string input :
         {"HTTP/1.1 200 OK\r\nContent-Len", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"}) {
        INFO(input);
        Harness h;
        h.feed(input);
        CHECK(h.result == Result::kNeedMore);
        CHECK(h.finish(true).result == Result::kError);
    }
}

TEST_CASE("an exchange may refuse a final head", "[http][response]") {
    Harness h;
    h.events.accept_head = false;
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK(h.result == Result::kError);
}

TEST_CASE("reset() readies the parser for a response on another connection", "[http][response]") {
    Harness h;
    h.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
    h.parser.reset(head_request());
    h.result = Result::kNeedMore;
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
    CHECK(h.result == Result::kMessageEnd);
    CHECK(h.parser.head().header_count() == 1);
    CHECK(h.parser.framing() == ResponseFraming::kNone);
}
