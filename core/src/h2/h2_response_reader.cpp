#include "h2/h2_response_reader.hpp"

#include "http/header_rules.hpp"

namespace proxyd {

H2ResponseReader::H2ResponseReader(Output &output, bool head_request)
    : output_(output), parser_(limits_, head_, *this) {
    // The exchange wrote the head itself; a generous bound only guards against a runaway one.
    limits_.max_head_bytes = 1024 * 1024;
    parser_.reset(ResponseContext{.head_request = head_request, .upgrade_offered = false});
}

bool H2ResponseReader::write(std::string_view bytes) {
    if (!error_.empty()) return false;
    if (parser_.complete() || bytes.empty()) return true; // nothing follows a response on a stream
    if (parser_.execute(bytes.data(), bytes.size()) == ResponseParser::Result::kError) {
        error_ = "the response for an HTTP/2 stream is not valid HTTP/1.1: " + parser_.error_text();
        return false;
    }
    return true;
}

bool H2ResponseReader::finish() {
    if (!error_.empty()) return false;
    if (parser_.complete()) return true;
    if (parser_.finish() == ResponseParser::Result::kMessageEnd) return true;
    error_ = "the response for an HTTP/2 stream ended early";
    return false;
}

std::vector<H2Field> H2ResponseReader::h2_fields() const {
    ConnectionOptions options(head_);
    std::vector<H2Field> fields;
    fields.reserve(head_.header_count());
    for (size_t i = 0; i < head_.header_count(); ++i) {
        std::string_view name = head_.header_name(i);
        if (must_drop_when_forwarding(name, options)) continue;
        std::string lower(name);
        for (char &c : lower)
            c = ascii_lower(c);
        fields.emplace_back(std::move(lower), std::string(head_.header_value(i)));
    }
    return fields;
}

void H2ResponseReader::on_interim_response() {
    if (parser_.status() == 103) output_.interim_head(103, h2_fields());
}

bool H2ResponseReader::on_response_head() {
    std::vector<H2Field> fields = h2_fields();
    // An empty body ends the stream with the head rather than with an empty DATA frame.
    has_body_ = parser_.framing() != ResponseFraming::kNone &&
                !(parser_.framing() == ResponseFraming::kContentLength && parser_.declared_length() == 0u);
    output_.response_head(parser_.status(), fields, has_body_);
    return true;
}

void H2ResponseReader::on_response_body(std::string_view data) {
    if (!data.empty()) output_.response_data(data, false);
}

void H2ResponseReader::on_response_complete() {
    if (has_body_) output_.response_data({}, true);
}

} // namespace proxyd
