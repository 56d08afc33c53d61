// Request path → file path for the static plugin: one percent-decoding pass, then dot segments and
// repeated slashes resolved on the decoded bytes, so that an encoded "%2e%2e" or "%2f" cannot slip
// past the checks.
#ifndef PROXYD_PLUGINS_PATH_NORMALISE_HPP
#define PROXYD_PLUGINS_PATH_NORMALISE_HPP

#include <string>
#include <string_view>

namespace proxyd::static_files {

enum class PathError {
    None,
    NotAbsolute, // empty, or not starting with '/'
    BadEscape,   // '%' not followed by two hex digits
    NulByte,     // a NUL, encoded or not: no file name can hold one
    AboveRoot,   // '..' would climb above the root
};

// Decodes raw (a request path, still percent-encoded) into out: it starts with '/', has no '.',
// '..' or empty segments, and ends with '/' exactly when raw's last segment was empty, '.' or
// '..' (the request names a directory). A '\' is an ordinary byte, as on any POSIX file system.
// out is left unspecified on error.
PathError normalise_path(std::string_view raw, std::string &out);

// True when a segment of a normalised path starts with '.', i.e. names a hidden file or folder.
bool has_hidden_segment(std::string_view normalised);

} // namespace proxyd::static_files

#endif
