#include "path_normalise.hpp"

namespace proxyd::static_files {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

PathError percent_decode(std::string_view raw, std::string &out) {
    out.clear();
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            if (i + 2 >= raw.size()) return PathError::BadEscape;
            int high = hex_value(raw[i + 1]);
            int low = hex_value(raw[i + 2]);
            if (high < 0 || low < 0) return PathError::BadEscape;
            c = static_cast<char>(high * 16 + low);
            i += 2;
        }
        if (c == '\0') return PathError::NulByte;
        out.push_back(c);
    }
    return PathError::None;
}

} // namespace

PathError normalise_path(std::string_view raw, std::string &out) {
    if (!raw.starts_with('/')) return PathError::NotAbsolute;
    std::string decoded;
    if (PathError e = percent_decode(raw, decoded); e != PathError::None) return e;

    // Invariant: out ends with '/' before each segment is handled.
    out.assign(1, '/');
    size_t start = 1;
    while (start <= decoded.size()) {
        size_t end = decoded.find('/', start);
        if (end == std::string::npos) end = decoded.size();
        std::string_view segment = std::string_view(decoded).substr(start, end - start);
        const bool last = end == decoded.size();
        if (segment == "..") {
            // Like nginx, refuse rather than clamp at the root: such a request is an attack or a bug.
            if (out.size() == 1) return PathError::AboveRoot;
            out.resize(out.rfind('/', out.size() - 2) + 1);
        } else if (!segment.empty() && segment != ".") {
            out.append(segment);
            if (!last) out.push_back('/');
        }
        start = end + 1;
    }
    return PathError::None;
}

bool has_hidden_segment(std::string_view normalised) {
    return normalised.find("/.") != std::string_view::npos;
}

} // namespace proxyd::static_files
