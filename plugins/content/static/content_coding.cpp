#include "content_coding.hpp"

#include "http_text.hpp"

#include <optional>

namespace proxyd::static_files {
namespace {

// A qvalue, "0" to "1.000", in thousandths; nullopt when malformed (the element is then ignored).
std::optional<int> parse_qvalue(std::string_view text) {
    if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
    int value = (text[0] - '0') * 1000;
    if (text.size() == 1) return value;
    if (text[1] != '.' || text.size() > 5) return std::nullopt;
    int scale = 100;
    for (char c : text.substr(2)) {
        if (c < '0' || c > '9') return std::nullopt;
        value += (c - '0') * scale;
        scale /= 10;
    }
    return value <= 1000 ? std::optional<int>(value) : std::nullopt;
}

} // namespace

CodingPreference preferred_codings(std::string_view accept_encoding) {
    // -1: not mentioned. Explicit names win over "*" whatever their order.
    int brotli_q = -1, gzip_q = -1, any_q = -1;
    while (!accept_encoding.empty()) {
        size_t comma = accept_encoding.find(',');
        std::string_view element = accept_encoding.substr(0, comma);
        accept_encoding =
            comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);

        size_t semicolon = element.find(';');
        std::string_view coding = trim_optional_space(element.substr(0, semicolon));
        int q = 1000;
        while (semicolon != std::string_view::npos) {
            std::string_view rest = element.substr(semicolon + 1);
            semicolon = rest.find(';');
            std::string_view parameter = trim_optional_space(rest.substr(0, semicolon));
            if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
                parameter[1] == '=') {
                std::optional<int> parsed = parse_qvalue(trim_optional_space(parameter.substr(2)));
                q = parsed.value_or(-1);
            }
            element = rest;
        }
        if (q < 0 || coding.empty()) continue;
        if (equals_ignore_case(coding, "br"))
            brotli_q = q;
        else if (equals_ignore_case(coding, "gzip") || equals_ignore_case(coding, "x-gzip"))
            gzip_q = q;
        else if (coding == "*")
            any_q = q;
    }
    if (brotli_q < 0) brotli_q = any_q;
    if (gzip_q < 0) gzip_q = any_q;

    CodingPreference out;
    auto add = [&](const ContentCoding &coding, int q) {
        if (q > 0) out.codings[out.count++] = &coding;
    };
    if (gzip_q > brotli_q) {
        add(kGzip, gzip_q);
        add(kBrotli, brotli_q);
    } else {
        add(kBrotli, brotli_q);
        add(kGzip, gzip_q);
    }
    return out;
}

} // namespace proxyd::static_files
