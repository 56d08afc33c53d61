#include "admin/bearer_auth.hpp"

#include <openssl/crypto.h>

namespace proxyd {
namespace {

bool is_bearer_scheme(std::string_view scheme) {
    constexpr std::string_view kBearer = "bearer";
    if (scheme.size() != kBearer.size()) return false;
    for (size_t i = 0; i < scheme.size(); ++i) {
        char c = scheme[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kBearer[i]) return false;
    }
    return true;
}

} // namespace

BearerCheck check_bearer(std::optional<std::string_view> authorization, std::string_view token) {
    if (!authorization) return BearerCheck::kMissing;
    std::string_view value = *authorization;
    size_t space = value.find(' ');
    // The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces precede the credentials.
    if (space == std::string_view::npos || !is_bearer_scheme(value.substr(0, space)))
        return BearerCheck::kWrong;
    size_t credentials = value.find_first_not_of(' ', space);
    if (credentials == std::string_view::npos || token.empty()) return BearerCheck::kWrong;
    std::string_view presented = value.substr(credentials);
    if (presented.size() != token.size()) return BearerCheck::kWrong;
    return CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0 ? BearerCheck::kGranted
                                                                            : BearerCheck::kWrong;
}

} // namespace proxyd
