// The cookie of the sticky balancer (sticky_plugin.cpp): which peer a client stays on, as an id
// derived from the peer's address, and the Set-Cookie that tells the client.
//
// A peer's id is the first 48 bits of HMAC-SHA256(secret, address) in lower-case hex (12
// characters): the same after a reload and whatever the peers' order, since only the address and
// the secret go in, and the address cannot be read back from it. Without a secret the id is still
// a one-way hash, but one that a client who guesses the address can confirm; a secret (any string
// kept the same across reloads) rules that out.
#ifndef PROXYD_PLUGINS_HASH_STICKY_COOKIE_HPP
#define PROXYD_PLUGINS_HASH_STICKY_COOKIE_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd::hash {

inline constexpr size_t kPeerIdLength = 12;

// The id of the peer at address.
std::string peer_id(std::string_view secret, std::string_view address);

// A cookie value that has the shape of an id (12 lower-case hex digits): anything else is no id,
// and the client is balanced as one without the cookie.
bool is_peer_id(std::string_view value);

enum class SameSite { kUnset, kStrict, kLax, kNone };

// What the Set-Cookie says besides the id.
struct CookieOptions {
    std::string name = "SRV";
    std::string path = "/";
    std::string domain;             // empty: no Domain attribute (the host only)
    std::optional<int64_t> max_age; // seconds; absent: a session cookie
    bool secure = false;
    bool http_only = true;
    SameSite same_site = SameSite::kUnset;
};

// "SRV=0a1b2c3d4e5f; Path=/; HttpOnly", with the options' other attributes.
std::string set_cookie_value(const CookieOptions &options, std::string_view id);

// "Strict", "Lax" or "None" (any case), else nullopt.
std::optional<SameSite> parse_same_site(std::string_view text);

// A cookie path attribute value: starts with '/', no ';', no control characters.
bool is_cookie_path(std::string_view path);
// A Domain attribute value: letters, digits, '-' and '.', not empty.
bool is_cookie_domain(std::string_view domain);

} // namespace proxyd::hash

#endif
