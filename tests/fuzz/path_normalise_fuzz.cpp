// libFuzzer target: the static plugin's path normaliser. Whatever the bytes, a path it accepts
// must be absolute, free of NUL and of '.', '..' and empty segments, and normalising it again
// must change nothing: that is what keeps every file inside the root.
#include "path_normalise.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void broken(const char *what, std::string_view path) {
    std::fprintf(stderr, "normalise_path broke a promise: %s: %.*s\n", what, static_cast<int>(path.size()),
                 path.data());
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using proxyd::static_files::normalise_path;
    using proxyd::static_files::PathError;
    std::string_view raw(reinterpret_cast<const char *>(data), size);
    std::string out;
    if (normalise_path(raw, out) != PathError::None) return 0;
    if (out.empty() || out.front() != '/') broken("not absolute", out);
    if (out.find('\0') != std::string::npos) broken("holds a NUL", out);
    size_t start = 1;
    while (start < out.size()) {
        size_t end = out.find('/', start);
        std::string_view segment =
            std::string_view(out).substr(start, end == std::string::npos ? end : end - start);
        if (segment.empty() || segment == "." || segment == "..") broken("bad segment", out);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    // Decoding is one pass, so a literal '%' in the result would be decoded again; only check
    // idempotence when there is none.
    if (out.find('%') == std::string::npos) {
        std::string again;
        if (normalise_path(out, again) != PathError::None || again != out) broken("not idempotent", out);
    }
    return 0;
}
