// The byte classes of HTTP/1.1's grammar (RFC 9110 §5.5, §5.6.2; RFC 9112 §3), as one 256-entry
// table, so that the head scanner and the header checks test a byte with one load instead of a
// chain of comparisons: they run over every byte of every head.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace proxyd {

enum ByteClass : uint8_t {
    kTokenByte = 1,      // tchar: a method or a field name
    kTargetByte = 2,     // visible ASCII (0x21-0x7E) but '#': a request target
    kFieldValueByte = 4, // HTAB, SP, VCHAR, obs-text: a field value
};

namespace detail {

constexpr std::array<uint8_t, 256> make_byte_classes() {
    std::array<uint8_t, 256> table{};
    for (unsigned ch = 0; ch < 256; ++ch) {
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        bool symbol = false;
        for (char s : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'})
            symbol = symbol || ch == static_cast<unsigned char>(s);
        uint8_t bits = 0;
        if (alnum || symbol) bits |= kTokenByte;
        // A request target carries no fragment (RFC 9112 §3.2). Passed on, "/index.html#.png"
        // is one path to proxyd's routes and filters and another to an origin that drops the
        // fragment (HAProxy's CVE-2023-45539: a path_end rule sent such a request to the wrong
        // backend).
        if (ch >= 0x21 && ch <= 0x7e && ch != '#') bits |= kTargetByte;
        if (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) bits |= kFieldValueByte;
        table[ch] = bits;
    }
    return table;
}

inline constexpr std::array<uint8_t, 256> kByteClasses = make_byte_classes();

} // namespace detail

constexpr bool byte_is(char ch, ByteClass cls) {
    return (detail::kByteClasses[static_cast<unsigned char>(ch)] & cls) != 0;
}

// A token (RFC 9110 §5.6.2): one or more tchar. A field name, a method, a directive's name.
constexpr bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char ch : s)
        if (!byte_is(ch, kTokenByte)) return false;
    return true;
}

// s without the optional white space (SP, HTAB: RFC 9110 §5.6.3) at either end. The core's own,
// as plugin.hpp's sdk::trim_ows is the plugins' (the core does not include the SDK).
constexpr std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

} // namespace proxyd
