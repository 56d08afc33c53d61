// Header rules a proxy applies when forwarding (RFC 9110 §7.6.1): which fields are hop-by-hop and
// must not be forwarded, including those the Connection header names.
#pragma once

#include "http/message_head.hpp"

#include <string_view>
#include <vector>

namespace proxyd {

bool iequals(std::string_view a, std::string_view b);

// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade.
bool is_hop_by_hop(std::string_view name);

// The comma-separated tokens of a Connection header value, trimmed (e.g. "close", "X-Foo").
void split_tokens(std::string_view value, std::vector<std::string_view> &out);

// The options every Connection field of head lists, in order (RFC 9110 §7.6.1).
std::vector<std::string_view> connection_options(const MessageHead &head);

// Every field name of head is a token (RFC 9110 §5.1): no whitespace before a colon, no
// separators.
bool field_names_are_tokens(const MessageHead &head);

// True when name is hop-by-hop or listed in connection_tokens.
bool must_drop_when_forwarding(std::string_view name, const std::vector<std::string_view> &connection_tokens);

} // namespace proxyd

#include <llhttp.h>

namespace proxyd {

// llhttp's reason for its last error, or "" when it gave none.
inline const char *parse_error_reason(const llhttp_t *parser) {
    const char *reason = llhttp_get_error_reason(parser);
    return reason ? reason : "";
}

} // namespace proxyd
