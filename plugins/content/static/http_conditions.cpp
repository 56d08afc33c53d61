#include "http_conditions.hpp"

#include "http_text.hpp"

#include <array>
#include <ctime>

namespace proxyd::static_files {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Exactly `count` digits at text[at...], or -1.
int digits(std::string_view text, size_t at, size_t count) {
    if (at + count > text.size()) return -1;
    int value = 0;
    for (size_t i = at; i < at + count; ++i) {
        if (!is_digit(text[i])) return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

int month_index(std::string_view name) {
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (size_t i = 0; i < kMonths.size(); ++i)
        if (kMonths[i] == name) return static_cast<int>(i);
    return -1;
}

// "HH:MM:SS" at text[at...].
bool parse_clock(std::string_view text, size_t at, struct tm &tm) {
    if (at + 8 > text.size() || text[at + 2] != ':' || text[at + 5] != ':') return false;
    tm.tm_hour = digits(text, at, 2);
    tm.tm_min = digits(text, at + 3, 2);
    tm.tm_sec = digits(text, at + 6, 2);
    return tm.tm_hour >= 0 && tm.tm_hour < 24 && tm.tm_min >= 0 && tm.tm_min < 60 && tm.tm_sec >= 0 &&
           tm.tm_sec <= 60;
}

// A day the month has: timegm would read "31 Feb" as 2 or 3 March, a date no client meant, where an
// invalid HTTP-date must make its header ignored (RFC 9110 §13.1.3-13.1.5).
bool is_calendar_day(int year, int month, int day) {
    static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day >= 1 && day <= kDays[static_cast<size_t>(month)] + (month == 1 && leap ? 1 : 0);
}

std::optional<int64_t> to_seconds(struct tm &tm) {
    if (tm.tm_mon < 0 || tm.tm_year < 0 || !is_calendar_day(tm.tm_year + 1900, tm.tm_mon, tm.tm_mday))
        return std::nullopt;
    time_t seconds = timegm(&tm);
    if (seconds == static_cast<time_t>(-1)) return std::nullopt;
    return static_cast<int64_t>(seconds);
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<int64_t> parse_imf_fixdate(std::string_view text) {
    if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
        text[16] != ' ' || text[25] != ' ' || text.substr(26) != "GMT")
        return std::nullopt;
    struct tm tm {};
    tm.tm_mday = digits(text, 5, 2);
    tm.tm_mon = month_index(text.substr(8, 3));
    int year = digits(text, 12, 4);
    if (year < 0 || !parse_clock(text, 17, tm)) return std::nullopt;
    tm.tm_year = year - 1900;
    return to_seconds(tm);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<int64_t> parse_rfc850(std::string_view text) {
    size_t comma = text.find(", ");
    if (comma == std::string_view::npos || comma < 6) return std::nullopt;
    std::string_view rest = text.substr(comma + 2);
    if (rest.size() != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest.substr(18) != " GMT")
        return std::nullopt;
    struct tm tm {};
    tm.tm_mday = digits(rest, 0, 2);
    tm.tm_mon = month_index(rest.substr(3, 3));
    int year = digits(rest, 7, 2);
    if (year < 0 || !parse_clock(rest, 10, tm)) return std::nullopt;
    // RFC 9110 §5.6.7 reads a two-digit year more than 50 years ahead as the past century; this
    // fixed pivot is the same thing for any date a file can carry today.
    tm.tm_year = year < 70 ? year + 100 : year;
    return to_seconds(tm);
}

// "Sun Nov  6 08:49:37 1994"
std::optional<int64_t> parse_asctime(std::string_view text) {
    if (text.size() != 24 || text[3] != ' ' || text[7] != ' ' || text[10] != ' ' || text[19] != ' ')
        return std::nullopt;
    struct tm tm {};
    tm.tm_mon = month_index(text.substr(4, 3));
    tm.tm_mday = text[8] == ' ' ? digits(text, 9, 1) : digits(text, 8, 2);
    int year = digits(text, 20, 4);
    if (year < 0 || !parse_clock(text, 11, tm)) return std::nullopt;
    tm.tm_year = year - 1900;
    return to_seconds(tm);
}

bool is_weak(std::string_view tag) { return tag.starts_with("W/"); }

} // namespace

std::optional<int64_t> parse_http_date(std::string_view text) {
    text = trim_optional_space(text);
    if (auto t = parse_imf_fixdate(text)) return t;
    if (auto t = parse_rfc850(text)) return t;
    return parse_asctime(text);
}

bool etag_list_matches(std::string_view list, std::string_view etag, bool weak) {
    list = trim_optional_space(list);
    if (list == "*") return true;
    if (!weak && is_weak(etag)) return false;
    std::string_view opaque = is_weak(etag) ? etag.substr(2) : etag;
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view candidate = trim_optional_space(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (candidate.empty()) continue;
        if (is_weak(candidate)) {
            if (!weak) continue;
            candidate.remove_prefix(2);
        }
        if (candidate == opaque) return true;
    }
    return false;
}

Precondition evaluate_preconditions(const ConditionalHeaders &headers, std::string_view etag,
                                    int64_t last_modified, bool get_or_head) {
    if (headers.if_match) {
        if (!etag_list_matches(*headers.if_match, etag, false)) return Precondition::Failed;
    } else if (headers.if_unmodified_since) {
        std::optional<int64_t> date = parse_http_date(*headers.if_unmodified_since);
        if (date && last_modified > *date) return Precondition::Failed;
    }
    if (headers.if_none_match) {
        if (etag_list_matches(*headers.if_none_match, etag, true))
            return get_or_head ? Precondition::NotModified : Precondition::Failed;
    } else if (headers.if_modified_since && get_or_head) {
        std::optional<int64_t> date = parse_http_date(*headers.if_modified_since);
        if (date && last_modified <= *date) return Precondition::NotModified;
    }
    return Precondition::Proceed;
}

bool if_range_holds(std::string_view if_range, std::string_view etag,
                    std::optional<int64_t> strong_last_modified) {
    if_range = trim_optional_space(if_range);
    if (if_range.starts_with('"') || is_weak(if_range))
        return !is_weak(if_range) && !is_weak(etag) && if_range == etag;
    std::optional<int64_t> date = parse_http_date(if_range);
    return date && strong_last_modified && *date == *strong_last_modified;
}

} // namespace proxyd::static_files
