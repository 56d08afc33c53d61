#include "http/message_head.hpp"

#include "http/header_rules.hpp"

namespace proxyd {

void MessageHead::clear() {
    buffer_.clear();
    target_ = {};
    reason_ = {};
    headers_.clear();
    in_value_ = false;
}

size_t MessageHead::append(Span &span, std::string_view piece) {
    if (span.length == 0) span.offset = static_cast<uint32_t>(buffer_.size());
    buffer_.append(piece);
    span.length += static_cast<uint32_t>(piece.size());
    return buffer_.size();
}

size_t MessageHead::append_header_name(std::string_view piece) {
    if (headers_.empty() || in_value_) {
        headers_.push_back(HeaderSpan{{static_cast<uint32_t>(buffer_.size()), 0}, {}, FieldKind::kOther});
        in_value_ = false;
    }
    return append(headers_.back().name, piece);
}

size_t MessageHead::append_header_value(std::string_view piece) {
    in_value_ = true;
    if (headers_.empty()) headers_.emplace_back();
    if (headers_.back().value.length == 0) headers_.back().value.offset = static_cast<uint32_t>(buffer_.size());
    buffer_.append(piece);
    headers_.back().value.length += static_cast<uint32_t>(piece.size());
    return buffer_.size();
}

void MessageHead::end_header_name() {
    in_value_ = true;
    if (headers_.empty()) return;
    HeaderSpan &header = headers_.back();
    header.kind = classify_field({buffer_.data() + header.name.offset, header.name.length});
}

std::optional<std::string_view> MessageHead::find(FieldKind kind) const {
    for (size_t i = 0; i < headers_.size(); ++i)
        if (headers_[i].kind == kind) return header_value(i);
    return std::nullopt;
}

size_t MessageHead::count(FieldKind kind) const {
    size_t n = 0;
    for (const HeaderSpan &header : headers_)
        n += header.kind == kind ? 1 : 0;
    return n;
}

std::optional<std::string_view> MessageHead::find(std::string_view name) const {
    for (size_t i = 0; i < headers_.size(); ++i)
        if (iequals(header_name(i), name)) return header_value(i);
    return std::nullopt;
}

size_t MessageHead::count(std::string_view name) const {
    size_t n = 0;
    for (size_t i = 0; i < headers_.size(); ++i) n += iequals(header_name(i), name) ? 1 : 0;
    return n;
}

} // namespace proxyd
