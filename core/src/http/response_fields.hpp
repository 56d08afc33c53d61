// A response head as HTTP/2 carries it (RFC 9113 §8.3.2): the status and the fields, names
// lower-cased, without the connection-specific ones (§8.2.2: the hop-by-hop fields and those the
// Connection field names). ResponseHeadWriter fills it for an HTTP/2 stream where it would write
// HTTP/1.1 text, so a stream's response needs no parser. The text lives in one buffer that the
// next head reuses; no I/O.
#pragma once

#include "http/message_head.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

class ResponseFields {
  public:
    // Starts a head (what the previous one held is dropped, its memory kept).
    void clear(int status);
    // A field as a response head carries it: the name is lower-cased; a hop-by-hop field is left
    // out, and a Connection field's options leave out the fields they name (at finish()).
    void add(std::string_view name, std::string_view value);
    // Header lines formatted "Name: value\r\n", each added as add() does.
    void add_lines(std::string_view lines);
    // The head is complete: content_length is the length its content-length field gives (none
    // when the body's length is unknown or it has none).
    void finish(std::optional<uint64_t> content_length);

    int status() const { return status_; }
    std::optional<uint64_t> content_length() const { return content_length_; }
    size_t size() const { return fields_.size(); }
    std::string_view name(size_t i) const { return view(fields_[i].name); }
    std::string_view value(size_t i) const { return view(fields_[i].value); }

  private:
    std::string_view view(Span span) const { return {text_.data() + span.offset, span.length}; }
    Span append(std::string_view text);

    int status_ = 0;
    std::optional<uint64_t> content_length_;
    std::string text_;
    std::vector<HeaderSpan> fields_;
    std::string connection_options_; // the Connection fields' values, comma-joined
};

} // namespace proxyd
