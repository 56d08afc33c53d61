#include "http/http_date.hpp"

namespace proxyd {

std::string format_http_date(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
}

void DateCache::refresh() {
    std::time_t now = std::time(nullptr);
    if (now == second_) return;
    second_ = now;
    http_ = format_http_date(now);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    log_.assign(buf, n);
}

const std::string &DateCache::http_date() {
    refresh();
    return http_;
}

const std::string &DateCache::log_date() {
    refresh();
    return log_;
}

} // namespace proxyd
