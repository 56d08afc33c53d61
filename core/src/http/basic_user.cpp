#include "http/basic_user.hpp"

#include "http/byte_classes.hpp"
#include "http/header_rules.hpp"

#include <openssl/evp.h>

namespace proxyd {

std::string basic_user(std::string_view authorization) {
    // The scheme is case-insensitive (RFC 9110 §11.1), then one or more spaces, then token68.
    constexpr std::string_view scheme = "basic";
    if (authorization.size() <= scheme.size() || authorization[scheme.size()] != ' ' ||
        !iequals(authorization.substr(0, scheme.size()), scheme))
        return {};
    std::string_view token = trim_ows(authorization.substr(scheme.size()));
    // A credential longer than this is no one's name and password; not worth decoding for a log.
    constexpr size_t kMaxToken = 4096;
    if (token.empty() || token.size() > kMaxToken) return {};
    // OpenSSL's decoder would take a '=' inside the text as zero bits and skip some bytes at the
    // end: only the alphabet is let through, padding only at the end, and then a length that
    // base64 can have. The padding may be left out (nginx reads such credentials too).
    size_t data = token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    if (data == std::string_view::npos) data = token.size();
    std::string_view padding = token.substr(data);
    if (padding.size() > 2 || padding.find_first_not_of('=') != std::string_view::npos) return {};
    if (data % 4 == 1 || (!padding.empty() && token.size() % 4 != 0)) return {};
    std::string padded(token.substr(0, data));
    padded.append((4 - data % 4) % 4, '=');
    std::string decoded(padded.size() / 4 * 3, '\0');
    int length = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(decoded.data()),
                                 reinterpret_cast<const unsigned char *>(padded.data()),
                                 static_cast<int>(padded.size()));
    size_t pad = padded.size() - data;
    if (length < 0 || static_cast<size_t>(length) < pad) return {};
    decoded.resize(static_cast<size_t>(length) - pad);
    size_t colon = decoded.find(':');
    if (colon == std::string::npos) return {};
    decoded.resize(colon);
    // RFC 7617's user-id holds no control characters; one that does is nobody's name.
    for (char c : decoded)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
    return decoded;
}

} // namespace proxyd
