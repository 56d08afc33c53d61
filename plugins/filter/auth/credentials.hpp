// What an Authorization header carries (RFC 9110 §11.6.2): Basic credentials (RFC 7617) or a
// Bearer token (RFC 6750), and the comparisons that must not leak where they differ.
#ifndef PROXYD_PLUGINS_FILTER_AUTH_CREDENTIALS_HPP
#define PROXYD_PLUGINS_FILTER_AUTH_CREDENTIALS_HPP

#include <optional>
#include <string>
#include <string_view>

namespace proxyd::auth {

struct Credentials {
    enum Scheme { kNone, kBasic, kBearer, kMalformed };
    Scheme scheme = kNone;
    std::string user;   // kBasic
    std::string secret; // kBasic: the password; kBearer: the token
};

// The header's value (absent: kNone). The scheme name is case-insensitive; a Basic value must be
// base64 of "user:password" with no NUL; anything else proxyd cannot read is kMalformed.
Credentials parse_authorization(std::optional<std::string_view> header);

// Strict base64 (RFC 4648 §4, padding required); nullopt on any other byte.
std::optional<std::string> decode_base64(std::string_view text);

// Compares in time that depends on expected's length only, never on where they differ.
bool constant_time_equal(std::string_view given, std::string_view expected);

} // namespace proxyd::auth

#endif
