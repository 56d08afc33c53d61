#include "http/request_path.hpp"

#include <cstddef>

namespace proxyd {

namespace {

// The dots a segment spells: 1 for "." or "%2e", 2 for ".." and its mixes with "%2e"; else 0.
int dots_in(std::string_view segment) {
    int dots = 0;
    size_t i = 0;
    while (i < segment.size()) {
        if (segment[i] == '.') {
            ++i;
        } else if (segment.size() - i >= 3 && segment[i] == '%' && segment[i + 1] == '2' &&
                   (segment[i + 2] == 'e' || segment[i + 2] == 'E')) {
            i += 3;
        } else {
            return 0;
        }
        if (++dots > 2) return 0;
    }
    return dots;
}

bool is_clean(std::string_view path) {
    // Segments after each '/': none empty (a run of slashes) and none of dots, except that the
    // last may be empty (a trailing slash).
    size_t start = 1;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        size_t end = slash == std::string_view::npos ? path.size() : slash;
        std::string_view segment = path.substr(start, end - start);
        if (segment.empty() ? slash != std::string_view::npos : dots_in(segment) != 0) return false;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return true;
}

} // namespace

RequestPathForm normalise_request_path(std::string_view path, std::string &out) {
    if (is_clean(path)) return RequestPathForm::kClean;
    out.assign("/");
    size_t start = 1;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        bool last = slash == std::string_view::npos;
        std::string_view segment = path.substr(start, (last ? path.size() : slash) - start);
        int dots = segment.empty() ? 0 : dots_in(segment);
        if (dots == 2) {
            // Back to the slash before the last segment written: out is "/" or ends with '/'.
            if (out.size() == 1) return RequestPathForm::kAboveRoot;
            out.resize(out.rfind('/', out.size() - 2) + 1);
        } else if (dots == 0 && !segment.empty()) {
            out.append(segment);
            if (!last) out.push_back('/');
        }
        if (last) break;
        start = slash + 1;
    }
    return RequestPathForm::kNormalised;
}

} // namespace proxyd
