// IMF-fixdate (RFC 9110 §5.6.7) for Date headers and access-log time stamps, formatted once per
// second per worker.
#pragma once

#include <ctime>
#include <string>

namespace proxyd {

std::string format_http_date(std::time_t t);

class DateCache {
  public:
    // "Thu, 26 Nov 2026 15:14:01 GMT"
    const std::string &http_date();
    // "26/Nov/2026:15:14:01 +0000" (common log format)
    const std::string &log_date();

  private:
    void refresh();
    std::time_t second_ = -1;
    std::string http_;
    std::string log_;
};

} // namespace proxyd
