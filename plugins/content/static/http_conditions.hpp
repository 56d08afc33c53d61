// Conditional requests (RFC 9110 §13, and If-Range of §13.1.5) for the static plugin: pure
// decisions from request header values and a file's validators, with no I/O, so each rule is
// unit-tested. The Range header itself is byte_ranges.hpp's.
#ifndef PROXYD_PLUGINS_HTTP_CONDITIONS_HPP
#define PROXYD_PLUGINS_HTTP_CONDITIONS_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd::static_files {

// The request header values these decisions read; absent headers are nullopt. Views borrowed
// from the request.
struct ConditionalHeaders {
    std::optional<std::string_view> if_match{};
    std::optional<std::string_view> if_none_match{};
    std::optional<std::string_view> if_modified_since{};
    std::optional<std::string_view> if_unmodified_since{};
    std::optional<std::string_view> range{};
    std::optional<std::string_view> if_range{};
    std::optional<std::string_view> accept_encoding{};
};

// Seconds since the epoch for an HTTP-date in any of the three forms a recipient must accept
// (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 and asctime. nullopt when it is none of them.
std::optional<int64_t> parse_http_date(std::string_view text);

// True when the entity-tag list (an If-Match or If-None-Match value) names etag, or is "*".
// etag is quoted, as sent in ETag. weak selects the weak comparison (W/ prefixes ignored, for
// If-None-Match); otherwise a weak tag on either side never matches.
bool etag_list_matches(std::string_view list, std::string_view etag, bool weak);

enum class Precondition {
    Proceed,     // evaluate Range next, then answer normally
    NotModified, // 304
    Failed       // 412
};

// RFC 9110 §13.2.2, steps 1-4, for a representation that exists: If-Match, else
// If-Unmodified-Since; then If-None-Match, else If-Modified-Since (GET and HEAD only). A date
// that does not parse makes its header ignored, as the RFC requires.
Precondition evaluate_preconditions(const ConditionalHeaders &headers, std::string_view etag,
                                    int64_t last_modified, bool get_or_head);

// False when If-Range names another representation, so Range must be ignored and the whole
// representation sent (RFC 9110 §13.1.5): an entity-tag must match strongly, a date must be
// exactly Last-Modified, and Last-Modified must be a strong validator (strong_last_modified is
// nullopt when it is not: the file may change again within the second it names, §8.8.2.2).
bool if_range_holds(std::string_view if_range, std::string_view etag,
                    std::optional<int64_t> strong_last_modified);

} // namespace proxyd::static_files

#endif
