// The request id (plugin.h, proxyd_request.request_id): the client's X-Request-ID when it is one
// we can pass on safely, else one proxyd makes.
#pragma once

#include <cstdint>
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

// n as 16 lower-case hex digits.
inline void write_request_id(uint64_t n, char (&out)[16]) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, n >>= 4)
        out[i] = kDigits[n & 0xf];
}

} // namespace proxyd
