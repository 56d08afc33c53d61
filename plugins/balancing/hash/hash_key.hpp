// What a request is hashed on: `key = "client_address" | "header:NAME" | "cookie:NAME" | "path" |
// "uri"`, and where that value is found in a request.
#ifndef PROXYD_PLUGINS_HASH_KEY_HPP
#define PROXYD_PLUGINS_HASH_KEY_HPP

#include <optional>
#include <proxyd/plugin.hpp>
#include <string>
#include <string_view>

namespace proxyd::hash {

enum class KeySource {
    ClientAddress, // the client's IP address, without the port
    Header,        // the first header of that name (case-insensitive)
    Cookie,        // the value of the first cookie of that name (case-sensitive, as RFC 6265 says)
    Path,          // the path, still percent-encoded, as routing left it (after a prefix strip)
    Uri            // the request-target as sent: path and query
};

struct KeySpec {
    KeySource source = KeySource::ClientAddress;
    std::string name; // the header's or the cookie's name
};

// Parses the text of `key`; nullopt with error set to a message for the user when it is not one of
// the forms above.
std::optional<KeySpec> parse_key_spec(std::string_view text, std::string &error);

// The value of cookie name in one Cookie header's value ("a=1; sid=xyz"), or nullopt.
std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name);

// The key's value in request; nullopt when the request has none (no such header or cookie, or an
// empty value), so the fallback applies.
std::optional<std::string_view> request_key(const KeySpec &spec, const sdk::Request &request);

} // namespace proxyd::hash

#endif
