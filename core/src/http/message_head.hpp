// The head of an HTTP message (request or response) as parsed by llhttp: the bytes of the start
// line pieces and header fields, kept in one buffer, with offsets into it. llhttp may hand a
// field over in pieces across reads, so pieces are appended and spans fixed up when complete.
#pragma once

#include "http/byte_classes.hpp"
#include "http/field_kind.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
};

struct HeaderSpan {
    Span name;
    Span value;
    FieldKind kind = FieldKind::kOther; // known once the name is complete
};

class MessageHead {
  public:
    void clear();

    // Appenders used by the llhttp callbacks; each returns the total head size so far.
    size_t append_target(std::string_view piece) { return append(target_, piece); }
    size_t append_reason(std::string_view piece) { return append(reason_, piece); }
    size_t append_header_name(std::string_view piece);
    size_t append_header_value(std::string_view piece);
    // The current header's name is complete (its value may be empty, and then llhttp reports no
    // value piece at all): the field's kind is known from here on.
    void end_header_name();
    size_t size() const { return buffer_.size(); }
    // Heap bytes held (clear() keeps them for the next head).
    size_t capacity() const { return buffer_.capacity() + headers_.capacity() * sizeof(HeaderSpan); }
    size_t header_count() const { return headers_.size(); }

    std::string_view target() const { return view(target_); }
    std::string_view reason() const { return view(reason_); }
    std::string_view header_name(size_t i) const { return view(headers_[i].name); }
    std::string_view header_value(size_t i) const { return trim_ows(view(headers_[i].value)); }
    FieldKind header_kind(size_t i) const { return headers_[i].kind; }

    // The first header called name (case-insensitive), or nullopt.
    std::optional<std::string_view> find(std::string_view name) const;
    size_t count(std::string_view name) const;
    // The same for a field the core knows by kind (not kOther): no string compares.
    std::optional<std::string_view> find(FieldKind kind) const;
    size_t count(FieldKind kind) const;

  private:
    size_t append(Span &span, std::string_view piece);
    std::string_view view(Span s) const { return std::string_view(buffer_).substr(s.offset, s.length); }

    std::string buffer_;
    Span target_;
    Span reason_;
    std::vector<HeaderSpan> headers_;
    bool in_value_ = false;
};

// A request target in absolute form (RFC 9112 §3.2.2), "http://host/path": its authority stands
// for the Host field. The parser admits only this, origin form and "*".
inline bool is_absolute_form(std::string_view target) {
    return target.starts_with("http://") || target.starts_with("https://");
}

// A Host value (or absolute-form authority) proxyd passes on: only what a uri-host and port may
// hold (RFC 9112 §3.2, RFC 3986 §3.2.2: unreserved, pct-encoded, sub-delims, ':' and an
// IP-literal's brackets; bytes past ASCII are let through, as nginx does). So it cannot smuggle a
// path or userinfo upstream, nor close the quoted host= of the Forwarded field proxyd writes.
inline bool is_plausible_host(std::string_view host) {
    for (char ch : host) {
        auto byte = static_cast<unsigned char>(ch);
        if (byte <= 0x20 || byte == 0x7f) return false;
        switch (ch) {
        case '"':
        case '#':
        case '/':
        case '<':
        case '>':
        case '?':
        case '@':
        case '\\':
        case '^':
        case '`':
        case '{':
        case '|':
        case '}':
            return false;
        default:
            break;
        }
    }
    return true;
}

} // namespace proxyd
