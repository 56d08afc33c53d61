#include "http/request_path.hpp"

#include <cstddef>

namespace proxyd {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 §2.3: letters, digits and "-._~" mean the same encoded or not (§6.2.2.2).
bool is_unreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

// path[i] is a '%' followed by two hex digits.
bool is_escape(std::string_view path, size_t i) {
    return path.size() - i >= 3 && hex_value(path[i + 1]) >= 0 && hex_value(path[i + 2]) >= 0;
}

// The unreserved character that path[i..i+2] encodes ("%2e" → '.'), or 0.
char encoded_unreserved(std::string_view path, size_t i) {
    if (path[i] != '%' || !is_escape(path, i)) return 0;
    char c = static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
    return is_unreserved(c) ? c : 0;
}

bool is_dots(std::string_view segment) { return segment == "." || segment == ".."; }

// Nothing to change: every '%' starts an escape of a reserved or other character, no empty
// segment but a trailing one, no dot segment.
bool is_clean(std::string_view path) {
    for (size_t i = path.find('%'); i != std::string_view::npos; i = path.find('%', i + 1))
        if (!is_escape(path, i) || encoded_unreserved(path, i)) return false;
    size_t start = 1;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        size_t end = slash == std::string_view::npos ? path.size() : slash;
        std::string_view segment = path.substr(start, end - start);
        if (segment.empty() ? slash != std::string_view::npos : is_dots(segment)) return false;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return true;
}

} // namespace

RequestPathForm normalise_request_path(std::string_view path, std::string &out) {
    if (is_clean(path)) return RequestPathForm::kClean;
    // Encoded unreserved characters first, so that "%2e%2e" is the ".." it reads as.
    std::string decoded;
    decoded.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '%' && !is_escape(path, i)) return RequestPathForm::kBadEscape;
        if (char c = encoded_unreserved(path, i)) {
            decoded.push_back(c);
            i += 2;
        } else {
            decoded.push_back(path[i]);
        }
    }
    std::string_view in = decoded;
    out.assign("/");
    size_t start = 1;
    while (start <= in.size()) {
        size_t slash = in.find('/', start);
        bool last = slash == std::string_view::npos;
        std::string_view segment = in.substr(start, (last ? in.size() : slash) - start);
        if (segment == "..") {
            // Back to the slash before the last segment written: out is "/" or ends with '/'.
            if (out.size() == 1) return RequestPathForm::kAboveRoot;
            out.resize(out.rfind('/', out.size() - 2) + 1);
        } else if (!segment.empty() && segment != ".") {
            out.append(segment);
            if (!last) out.push_back('/');
        }
        if (last) break;
        start = slash + 1;
    }
    return RequestPathForm::kNormalised;
}

} // namespace proxyd
