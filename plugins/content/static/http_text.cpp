#include "http_text.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace proxyd::static_files {

std::string format_http_date(int64_t unix_seconds) {
    // Spelled out rather than strftime'd: the names must not follow the process locale.
    static constexpr const char *kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char *kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto seconds = static_cast<time_t>(unix_seconds);
    struct tm tm {};
    if (!gmtime_r(&seconds, &tm)) return {};
    char buffer[64];
    int n =
        std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                      tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

std::string format_etag(int64_t mtime_seconds, uint64_t size) {
    char buffer[48];
    int n =
        std::snprintf(buffer, sizeof buffer, "\"%llx-%llx\"", static_cast<unsigned long long>(mtime_seconds),
                      static_cast<unsigned long long>(size));
    return std::string(buffer, static_cast<size_t>(n));
}

bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
    }
    return true;
}

bool is_field_value(std::string_view text) {
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && byte != '\t') || byte == 0x7f) return false;
    }
    return true;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (fold(a[i]) != fold(b[i])) return false;
    }
    return true;
}

std::string errno_text(int error) {
    char buffer[128];
    // GNU strerror_r (libstdc++ always defines _GNU_SOURCE): it may return a static string instead of
    // filling buffer.
    return strerror_r(error, buffer, sizeof buffer);
}

} // namespace proxyd::static_files
