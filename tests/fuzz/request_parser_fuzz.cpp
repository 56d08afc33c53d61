// libFuzzer target: the request parser (llhttp plus proxyd's limits, framing and request-line
// rules) fed arbitrary bytes in arbitrary pieces, with pipelined messages and chunked bodies, the
// way a connection drives it. Checks the parser's own promises, not only that it does not crash.
#include "http/request_parser.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

[[noreturn]] void broken(const char *what) {
    std::fprintf(stderr, "request parser broke a promise: %s\n", what);
    std::abort();
}

struct Events final : proxyd::RequestParser::Events {
    proxyd::RequestParser *parser = nullptr;
    const proxyd::RequestLimits *limits = nullptr;
    bool in_message = false;
    bool head_seen = false;
    uint64_t body_bytes = 0;

    void on_request_begin() override {
        if (in_message) broken("a request began inside another");
        in_message = true;
        head_seen = false;
        body_bytes = 0;
    }
    void on_head_received() override {}
    void on_request_head() override {
        const proxyd::RequestView &view = parser->view();
        // What plugins see must be consistent: the path starts with '/' (or the target is "*"),
        // and a head that passed has a length-delimited or chunked body, never both.
        if (view.target != "*" && (view.path.empty() || view.path.front() != '/')) broken("path without '/'");
        if (view.target.size() > limits->max_uri_bytes) broken("target over the limit");
        if (parser->head().size() > limits->max_header_bytes) broken("head over the limit");
        if (parser->chunked() && parser->content_length() >= 0) broken("chunked and a length");
        if (parser->http_major() != 1 || parser->http_minor() > 1) broken("version passed");
        head_seen = true;
    }
    void on_request_body(std::string_view data) override {
        if (!head_seen) broken("body before the head");
        body_bytes += data.size();
        if (limits->max_body_bytes && body_bytes > limits->max_body_bytes) broken("body over the limit");
        int64_t length = parser->content_length();
        if (length >= 0 && body_bytes > static_cast<uint64_t>(length)) broken("body over its length");
    }
    void on_request_complete() override {
        if (!head_seen) broken("message ended without a head");
        in_message = false;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The first byte chooses the piece size, so splits at every position get explored; the second
    // chooses small limits now and then, so the 413/414/431 paths are reached with short inputs.
    if (size < 2) return 0;
    size_t piece = static_cast<size_t>(data[0] % 64) + 1;
    bool small_limits = (data[1] & 1) != 0;
    data += 2;
    size -= 2;

    proxyd::RequestLimits limits;
    if (small_limits) {
        limits.max_header_bytes = 256;
        limits.max_headers = 8;
        limits.max_body_bytes = 64;
        limits.max_uri_bytes = 64;
    }
    Events events;
    proxyd::RequestParser parser(limits, events);
    events.parser = &parser;
    events.limits = &limits;

    std::string_view input(reinterpret_cast<const char *>(data), size);
    std::string_view pending; // bytes the parser left after a message, fed before new input
    while (!input.empty() || !pending.empty()) {
        std::string_view chunk;
        if (!pending.empty()) {
            chunk = pending;
            pending = {};
        } else {
            chunk = input.substr(0, piece);
            input.remove_prefix(chunk.size());
        }
        auto result = parser.execute(chunk.data(), chunk.size());
        if (parser.consumed() > chunk.size()) broken("consumed more than given");
        if (result == proxyd::RequestParser::Result::kError) {
            if (parser.error_status() < 400 || parser.error_status() > 505) broken("odd error status");
            break;
        }
        if (result == proxyd::RequestParser::Result::kMessageEnd) {
            if (events.in_message) broken("message end without completion");
            // As a connection does once the response went out: the rest is the next request.
            // Pieces split at the input's edge are rejoined the same way a connection's buffer would.
            pending = chunk.substr(parser.consumed());
            parser.reset();
        } else if (parser.consumed() != chunk.size()) {
            broken("bytes left over without a message end");
        }
    }
    return 0;
}
