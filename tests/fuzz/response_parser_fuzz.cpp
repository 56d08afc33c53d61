// libFuzzer target: the response parser (llhttp plus proxyd's head limit, field-name, bodiless-
// status, 101 and chunk-CRLF rules) fed arbitrary upstream bytes in arbitrary pieces, the way a
// proxy exchange drives it, ending with the connection's end. Checks the parser's own promises,
// not only that it does not crash.
#include "http/header_rules.hpp"
#include "http/response_parser.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using proxyd::ResponseFraming;
using Result = proxyd::ResponseParser::Result;

[[noreturn]] void broken(const char *what) {
    std::fprintf(stderr, "response parser broke a promise: %s\n", what);
    std::abort();
}

struct Events final : proxyd::ResponseParser::Events {
    proxyd::ResponseParser *parser = nullptr;
    const proxyd::ResponseLimits *limits = nullptr;
    proxyd::ResponseContext context;
    bool final_head = false;
    bool completed = false;
    uint64_t body_bytes = 0;

    void check_head() const {
        if (parser->head().size() > limits->max_head_bytes) broken("head over the limit");
        if (!proxyd::field_names_are_tokens(parser->head()))
            broken("a field name that is not a token passed");
    }
    void on_interim_response() override {
        if (final_head) broken("an interim response after the final one");
        int status = parser->status();
        if (status < 100 || status > 199 || status == 101) broken("interim status out of 1xx");
        check_head();
    }
    bool on_response_head() override {
        if (final_head) broken("two final heads");
        final_head = true;
        int status = parser->status();
        if (status == 101 && !context.upgrade_offered) broken("a 101 without an upgrade offer");
        if (status < 200 && status != 101) broken("a 1xx reported as final");
        bool bodyless = context.head_request || status == 204 || status == 304 || status == 101;
        if (bodyless && parser->framing() != ResponseFraming::kNone)
            broken("a bodiless response with framing");
        if (parser->framing() == ResponseFraming::kContentLength && !parser->declared_length())
            broken("length framing without a length");
        check_head();
        return true;
    }
    void on_response_body(std::string_view data) override {
        if (!final_head) broken("body before the final head");
        if (parser->framing() == ResponseFraming::kNone) broken("body for a bodiless response");
        body_bytes += data.size();
        if (parser->framing() == ResponseFraming::kContentLength && body_bytes > *parser->declared_length())
            broken("body over its length");
    }
    void on_response_complete() override {
        if (!final_head) broken("completed without a final head");
        if (completed) broken("completed twice");
        if (parser->framing() == ResponseFraming::kContentLength && body_bytes != *parser->declared_length())
            broken("completed short of its length");
        completed = true;
    }
};

// One response from input in pieces, then the connection's end if the response has not ended.
void parse_response(proxyd::ResponseParser &parser, const Events &events, std::string_view input,
                    size_t piece) {
    Result result = Result::kNeedMore;
    while (!input.empty() && result == Result::kNeedMore) {
        std::string_view chunk = input.substr(0, piece);
        input.remove_prefix(chunk.size());
        result = parser.execute(chunk.data(), chunk.size());
        if (result == Result::kError) {
            if (parser.error_text().empty()) broken("an error without a reason");
            return;
        }
        if (parser.consumed() > chunk.size()) broken("consumed more than given");
        if (result == Result::kNeedMore && parser.consumed() != chunk.size())
            broken("bytes left over mid-message");
        if (result == Result::kMessageEnd && !events.completed) broken("message end without completion");
        if (result == Result::kSwitched && parser.status() != 101) broken("switched without a 101");
        if (result != Result::kNeedMore) {
            // Ended: the parser takes nothing more until it is reset.
            if (parser.execute(chunk.data(), chunk.size()) != result || parser.consumed() != 0)
                broken("parsed on after the end");
        }
    }
    if (result == Result::kNeedMore) {
        // The connection ends here.
        Result end = parser.finish();
        if (end == Result::kMessageEnd && parser.framing() != ResponseFraming::kUntilClose)
            broken("EOF completed a response not delimited by it");
        if (end == Result::kMessageEnd && !events.completed) broken("EOF end without completion");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The first byte chooses the piece size, so splits at every position get explored; the second
    // what the request was (HEAD, an upgrade offer), now and then a small head limit, and whether
    // the input is two responses: one cut off halfway, then a retry's on the same parser.
    if (size < 2) return 0;
    size_t piece = static_cast<size_t>(data[0] % 64) + 1;
    uint8_t flags = data[1];
    data += 2;
    size -= 2;

    proxyd::ResponseLimits limits;
    if (flags & 4) limits.max_head_bytes = 128;
    Events events;
    events.context.head_request = (flags & 1) != 0;
    events.context.upgrade_offered = (flags & 2) != 0;
    proxyd::MessageHead head;
    proxyd::ResponseParser parser(limits, head, events);
    events.parser = &parser;
    events.limits = &limits;
    parser.reset(events.context);

    // Now and then the exchange gives up halfway (a peer failed) and retries on another
    // connection with the same parser: the second half is a new response after reset().
    std::string_view input(reinterpret_cast<const char *>(data), size);
    std::string_view retry;
    if (flags & 8) {
        retry = input.substr(input.size() / 2);
        input = input.substr(0, input.size() / 2);
    }
    parse_response(parser, events, input, piece);
    if (flags & 8) {
        parser.reset(events.context);
        events.final_head = false;
        events.completed = false;
        events.body_bytes = 0;
        parse_response(parser, events, retry, piece);
    }
    return 0;
}
