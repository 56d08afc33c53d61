#include "http/trailer_fields.hpp"

#include "http/byte_classes.hpp"

#include <array>

namespace proxyd {

namespace {

// The fields of RFC 9110 §6.5.1's kinds that FieldKind does not already name. Compared only for
// trailer fields, which few messages carry, so a plain list is enough.
constexpr std::array<std::string_view, 30> kHeadOnlyNames = {
    // authentication and state (§11, RFC 6265)
    "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate", "cookie", "set-cookie",
    // request modifiers: controls (§7.6.2, §14.2) and preconditions (§13.1)
    "max-forwards", "range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
    "if-range",
    // response controls (§10.2, RFC 9111 §5)
    "cache-control", "expires", "pragma", "age", "vary", "location", "retry-after", "accept-ranges", "allow",
    "server", "date", "strict-transport-security",
    // the content's format and identity (§8.3 to §8.7, §14.4)
    "content-type", "content-encoding", "content-language", "content-location", "content-range"};

} // namespace

bool trailer_field_forwardable(FieldKind kind, std::string_view name, const ConnectionOptions &options) {
    // Every field the core knows by kind is hop-by-hop, framing (Content-Length), routing (Host),
    // a request modifier (Expect), the announcement of the trailers (Trailer) or one the core
    // writes itself.
    if (kind != FieldKind::kOther || !is_token(name) || options.lists(name)) return false;
    for (std::string_view forbidden : kHeadOnlyNames)
        if (iequals(name, forbidden)) return false;
    return true;
}

void append_last_chunk(const MessageHead &trailers, const ConnectionOptions &options, std::string &out) {
    out.append("0\r\n");
    for_each_forwardable_trailer(trailers, options, [&out](std::string_view name, std::string_view value) {
        out.append(name).append(": ").append(value).append("\r\n");
    });
    out.append("\r\n");
}

} // namespace proxyd
