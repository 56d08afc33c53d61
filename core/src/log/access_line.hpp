// One access-log line, in the format log.access_format names: "combined" (the NCSA combined
// line plus upstream, upstream_status, rt, listener and request_id) or "json" (one object per line).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace proxyd {

enum class AccessFormat : uint8_t { Combined, Json };

struct AccessEntry {
    std::string_view client;
    std::string_view user; // the Basic credentials' user name the client sent; empty: none
    std::time_t time = 0;
    std::string_view clf_time; // "26/Nov/2026:15:14:01 +0000", cached per second by the worker
    std::string_view method;
    std::string_view target;
    int http_minor = 1;
    int http_major = 1; // 2: the request came on an HTTP/2 stream
    int status = 0;
    uint64_t body_bytes = 0;
    std::string_view referer;    // empty when the request had none
    std::string_view user_agent; // empty when the request had none
    std::string_view upstream;   // "-" when no upstream was involved
    int upstream_status = 0;     // 0 when there was none
    // The statuses of the attempts before the last, each with its comma ("502,-,": "-" for one
    // that got no answer), lined up with upstream's addresses; empty when nothing was retried.
    std::string_view earlier_upstream_statuses;
    double request_time = 0;     // seconds
    std::string_view listener;
    std::string_view request_id; // plugin.h's proxyd_request.request_id
};

// The protocol a client spoke as the line names it (and plugins' request view, ABI 1.6).
inline std::string_view protocol_name(int http_major, int http_minor) {
    return http_major == 2 ? "HTTP/2.0" : http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

// The whole line, ending with '\n'.
std::string format_access_line(const AccessEntry &entry, AccessFormat format);

// Appends text as a JSON string literal: quotes, backslash and control bytes escaped, valid UTF-8
// kept, and every byte of an invalid UTF-8 sequence written as \u00XX so the line stays valid JSON.
void append_json_string(std::string &out, std::string_view text);

} // namespace proxyd
