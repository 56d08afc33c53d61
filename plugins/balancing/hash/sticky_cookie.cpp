#include "sticky_cookie.hpp"

#include <algorithm>
#include <cctype>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace proxyd::hash {

std::string peer_id(std::string_view secret, std::string_view address) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    // HMAC accepts an empty key; a NULL key pointer it would take as "reuse the previous key".
    static constexpr unsigned char kNoKey = 0;
    const void *key = secret.empty() ? static_cast<const void *>(&kNoKey) : secret.data();
    HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char *>(address.data()), address.size(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (size_t i = 0; i < kPeerIdLength / 2; ++i) {
        id += kHex[digest[i] >> 4];
        id += kHex[digest[i] & 0xf];
    }
    return id;
}

bool is_peer_id(std::string_view value) {
    return value.size() == kPeerIdLength && std::all_of(value.begin(), value.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string set_cookie_value(const CookieOptions &options, std::string_view id) {
    std::string out = options.name;
    out.append("=").append(id).append("; Path=").append(options.path);
    if (!options.domain.empty()) out.append("; Domain=").append(options.domain);
    if (options.max_age) out.append("; Max-Age=").append(std::to_string(*options.max_age));
    if (options.secure) out.append("; Secure");
    if (options.http_only) out.append("; HttpOnly");
    switch (options.same_site) {
    case SameSite::kUnset:
        break;
    case SameSite::kStrict:
        out.append("; SameSite=Strict");
        break;
    case SameSite::kLax:
        out.append("; SameSite=Lax");
        break;
    case SameSite::kNone:
        out.append("; SameSite=None");
        break;
    }
    return out;
}

std::optional<SameSite> parse_same_site(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "strict") return SameSite::kStrict;
    if (lower == "lax") return SameSite::kLax;
    if (lower == "none") return SameSite::kNone;
    return std::nullopt;
}

bool is_cookie_path(std::string_view path) {
    return !path.empty() && path.front() == '/' &&
           std::none_of(path.begin(), path.end(),
                        [](unsigned char c) { return c == ';' || c < 0x20 || c == 0x7f; });
}

bool is_cookie_domain(std::string_view domain) {
    return !domain.empty() && std::all_of(domain.begin(), domain.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.';
    });
}

} // namespace proxyd::hash
