#include "credentials.hpp"

#include <array>
#include <cstdint>
#include <proxyd/plugin.hpp>

namespace proxyd::auth {
namespace {

// Each byte's 6-bit value, or -1: one load per byte instead of a chain of range tests (the
// Basic path decodes on every request).
constexpr std::array<signed char, 256> kBase64Values = [] {
    std::array<signed char, 256> values{};
    values.fill(-1);
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < alphabet.size(); ++i)
        values[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return values;
}();

int base64_value(char c) { return kBase64Values[static_cast<unsigned char>(c)]; }

bool starts_with_scheme(std::string_view value, std::string_view scheme) {
    if (value.size() <= scheme.size() || value[scheme.size()] != ' ') return false;
    for (size_t i = 0; i < scheme.size(); ++i) {
        char c = value[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != scheme[i]) return false;
    }
    return true;
}

} // namespace

std::optional<std::string> decode_base64(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    // Written in place into storage sized once (padding trims the end), not a byte at a time.
    std::string out(text.size() / 4 * 3, '\0');
    size_t length = 0;
    // Every quad but the last has no padding: four look-ups, one test.
    size_t last = text.empty() ? 0 : text.size() - 4;
    for (size_t i = 0; i < last; i += 4) {
        int a = base64_value(text[i]), b = base64_value(text[i + 1]), c = base64_value(text[i + 2]),
            d = base64_value(text[i + 3]);
        if ((a | b | c | d) < 0) return std::nullopt;
        uint32_t n = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
        out[length++] = static_cast<char>(n >> 16 & 0xff);
        out[length++] = static_cast<char>(n >> 8 & 0xff);
        out[length++] = static_cast<char>(n & 0xff);
    }
    for (size_t i = last; i < text.size(); i += 4) {
        int v[4];
        int padding = 0;
        for (int j = 0; j < 4; ++j) {
            char c = text[i + j];
            if (c == '=' && j >= 2) {
                v[j] = 0;
                ++padding;
            } else if (padding > 0 || (v[j] = base64_value(c)) < 0) {
                return std::nullopt;
            }
        }
        uint32_t n = static_cast<uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        out[length++] = static_cast<char>(n >> 16 & 0xff);
        if (padding < 2) out[length++] = static_cast<char>(n >> 8 & 0xff);
        if (padding < 1) out[length++] = static_cast<char>(n & 0xff);
    }
    out.resize(length);
    return out;
}

Credentials parse_authorization(std::optional<std::string_view> header) {
    Credentials out;
    if (!header) return out;
    std::string_view value = sdk::trim_ows(*header);
    out.scheme = Credentials::kMalformed;
    if (starts_with_scheme(value, "basic")) {
        auto decoded = decode_base64(sdk::trim_ows(value.substr(6)));
        if (!decoded || decoded->find('\0') != std::string::npos) return out;
        size_t colon = decoded->find(':');
        if (colon == std::string::npos) return out;
        out.scheme = Credentials::kBasic;
        out.user = decoded->substr(0, colon);
        out.secret = decoded->substr(colon + 1);
    } else if (starts_with_scheme(value, "bearer")) {
        std::string_view token = sdk::trim_ows(value.substr(7));
        if (token.empty()) return out;
        out.scheme = Credentials::kBearer;
        out.secret = std::string(token);
    }
    return out;
}

bool constant_time_equal(std::string_view given, std::string_view expected) {
    // Every byte of expected is visited whatever given holds; given's bytes are read in turn,
    // wrapping at its end, so that a short guess costs the same as a right one. The wrap is a
    // compare on lengths only (a division per byte cost more than the compare itself). One loop
    // for every length: a faster path for a guess of the right length would tell each token's length.
    unsigned diff = given.size() == expected.size() ? 0 : 1;
    size_t j = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        unsigned char g = given.empty() ? 0 : static_cast<unsigned char>(given[j]);
        diff |= g ^ static_cast<unsigned char>(expected[i]);
        j = j + 1 == given.size() ? 0 : j + 1;
    }
    return diff == 0 && !expected.empty();
}

} // namespace proxyd::auth
