// The request id (plugin.h, proxyd_request.request_id): the client's X-Request-ID when it is one
// we can pass on safely, else one proxyd makes.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace proxyd {

// 1 to 200 characters of [A-Za-z0-9._:-]: nothing a log line or a header could be confused by.
inline bool is_valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// n as 16 lower-case hex digits. Every request without an id of its own makes one, so eight
// digits are made at a time in a register: each nibble spread into a byte of its own, then '0'
// or 'a' - 10 added to every byte at once.
inline void write_request_id(uint64_t n, char (&out)[16]) {
    auto eight_digits = [](uint32_t half, char *to) {
        uint64_t v = half;
        v = ((v & 0xffff0000u) << 16) | (v & 0xffffu);
        v = ((v & 0x0000ff000000ff00u) << 8) | (v & 0x000000ff000000ffu);
        v = ((v & 0x00f000f000f000f0u) << 4) | (v & 0x000f000f000f000fu);          // byte i: nibble i
        uint64_t letters = ((v + 0x0606060606060606u) >> 4) & 0x0101010101010101u; // nibbles 10-15
        v += 0x3030303030303030u + letters * ('a' - '0' - 10);
        if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
        std::memcpy(to, &v, 8); // the most significant digit first
    };
    eight_digits(static_cast<uint32_t>(n >> 32), out);
    eight_digits(static_cast<uint32_t>(n), out + 8);
}

} // namespace proxyd
