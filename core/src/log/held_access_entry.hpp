// An access-log entry that owns its text, for a line written after the request's state is gone:
// an HTTP/2 stream's, whose response was complete before its body bytes had left (the line then
// waits for them to leave, or for the stream's reset, to log what reached the client).
#pragma once

#include "log/access_line.hpp"

#include <initializer_list>
#include <string>
#include <string_view>

namespace proxyd {

class HeldAccessEntry {
  public:
    explicit HeldAccessEntry(const AccessEntry &entry) : entry_(entry) {
        auto fields = {&entry_.client,     &entry_.clf_time,
                       &entry_.method,     &entry_.target,
                       &entry_.referer,    &entry_.user_agent,
                       &entry_.upstream,   &entry_.listener,
                       &entry_.request_id, &entry_.earlier_upstream_statuses,
                       &entry_.user};
        size_t total = 0;
        for (std::string_view *field : fields)
            total += field->size();
        text_.reserve(total); // no reallocation below: the views stay where they point
        for (std::string_view *field : fields) {
            size_t at = text_.size();
            text_.append(*field);
            *field = std::string_view(text_).substr(at, field->size());
        }
    }
    // The views point into text_.
    HeldAccessEntry(const HeldAccessEntry &) = delete;
    HeldAccessEntry &operator=(const HeldAccessEntry &) = delete;

    AccessEntry &entry() { return entry_; }

  private:
    AccessEntry entry_;
    std::string text_;
};

} // namespace proxyd
