#include "http/response_fields.hpp"

#include "http/header_rules.hpp"

#include <algorithm>
#include <span>

namespace proxyd {

void ResponseFields::clear(int status) {
    status_ = status;
    content_length_.reset();
    text_.clear();
    fields_.clear();
    connection_options_.clear();
}

Span ResponseFields::append(std::string_view text) {
    Span span{static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(text.size())};
    text_.append(text);
    return span;
}

void ResponseFields::add(std::string_view name, std::string_view value) {
    if (is_hop_by_hop(name)) {
        if (iequals(name, "connection")) connection_options_.append(value).push_back(',');
        return;
    }
    Span name_span = append(name);
    for (char &c : std::span(text_).subspan(name_span.offset))
        c = ascii_lower(c);
    fields_.push_back({name_span, append(value)});
}

void ResponseFields::add_lines(std::string_view lines) {
    while (!lines.empty()) {
        size_t end = lines.find("\r\n");
        std::string_view line = lines.substr(0, end);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) add(line.substr(0, colon), trim_ows(line.substr(colon + 1)));
        if (end == std::string_view::npos) break;
        lines.remove_prefix(end + 2);
    }
}

void ResponseFields::finish(std::optional<uint64_t> content_length) {
    content_length_ = content_length;
    if (connection_options_.empty()) return;
    // The fields a Connection option names are meant for the next hop only (RFC 9110 §7.6.1).
    std::erase_if(fields_, [this](const HeaderSpan &field) {
        std::string_view name = view(field.name);
        bool listed = false;
        for_each_token(connection_options_,
                       [&](std::string_view option) { listed = listed || iequals(option, name); });
        return listed;
    });
}

} // namespace proxyd
