// Accept-Encoding (RFC 9110 §12.5.3) for precompressed siblings: which of the codings the static
// plugin can serve from a file beside the original ("app.js.br", "app.js.gz") the client takes,
// best first.
#ifndef PROXYD_PLUGINS_CONTENT_CODING_HPP
#define PROXYD_PLUGINS_CONTENT_CODING_HPP

#include <array>
#include <cstddef>
#include <string_view>

namespace proxyd::static_files {

struct ContentCoding {
    std::string_view name;   // the Content-Encoding value: "br", "gzip"
    std::string_view suffix; // the sibling file's extension: ".br", ".gz"
};

inline constexpr ContentCoding kBrotli{"br", ".br"};
inline constexpr ContentCoding kGzip{"gzip", ".gz"};

// The codings accept_encoding allows (q > 0, named or through "*"), highest q first; on equal q
// brotli comes first, as it is the smaller file. At most two entries; count says how many.
struct CodingPreference {
    std::array<const ContentCoding *, 2> codings{};
    size_t count = 0;
};
CodingPreference preferred_codings(std::string_view accept_encoding);

} // namespace proxyd::static_files

#endif
