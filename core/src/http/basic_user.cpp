#include "http/basic_user.hpp"

#include <openssl/evp.h>

namespace proxyd {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

} // namespace

std::string basic_user(std::string_view authorization) {
    // The scheme is case-insensitive (RFC 9110 §11.1), then one or more spaces, then token68.
    constexpr std::string_view scheme = "basic";
    if (authorization.size() <= scheme.size() || authorization[scheme.size()] != ' ') return {};
    for (size_t i = 0; i < scheme.size(); ++i)
        if ((authorization[i] | 0x20) != scheme[i]) return {};
    std::string_view token = authorization.substr(scheme.size());
    while (!token.empty() && is_ows(token.front()))
        token.remove_prefix(1);
    while (!token.empty() && is_ows(token.back()))
        token.remove_suffix(1);
    // A credential longer than this is no one's name and password; not worth decoding for a log.
    constexpr size_t kMaxToken = 4096;
    if (token.empty() || token.size() % 4 != 0 || token.size() > kMaxToken) return {};
    std::string decoded(token.size() / 4 * 3, '\0');
    // OpenSSL's decoder refuses bytes outside the alphabet; it writes the padding as zero bytes.
    int length = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(decoded.data()),
                                 reinterpret_cast<const unsigned char *>(token.data()), static_cast<int>(token.size()));
    size_t padding = token.ends_with("==") ? 2 : token.ends_with('=') ? 1 : 0;
    if (length < 0 || static_cast<size_t>(length) < padding) return {};
    decoded.resize(static_cast<size_t>(length) - padding);
    size_t colon = decoded.find(':');
    if (colon == std::string::npos) return {};
    decoded.resize(colon);
    return decoded;
}

} // namespace proxyd
