// Small HTTP text helpers for the static plugin: validators and header syntax.
#ifndef PROXYD_PLUGINS_HTTP_TEXT_HPP
#define PROXYD_PLUGINS_HTTP_TEXT_HPP

#include <cstdint>
#include <string>
#include <string_view>

namespace proxyd::static_files {

// IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(int64_t unix_seconds);

// A strong entity tag from a file's mtime and size, quoted: "\"5f1e2d3c-1a4\"".
std::string format_etag(int64_t mtime_seconds, uint64_t size);

// A header field value: visible characters, spaces and tabs only (no CR, LF, NUL or other
// control byte), so a config value cannot inject a header.
bool is_field_value(std::string_view text);

bool equals_ignore_case(std::string_view a, std::string_view b);

// text without the optional whitespace (OWS: spaces and tabs, RFC 9110 §5.6.3) at either end.
std::string_view trim_optional_space(std::string_view text);

// Text of an errno value; safe on any thread.
std::string errno_text(int error);

} // namespace proxyd::static_files

#endif
