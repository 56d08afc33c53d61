#include "http/header_list.hpp"

#include "http/byte_classes.hpp"
#include "http/header_rules.hpp"

#include <algorithm>

namespace proxyd {

HeaderList::HeaderList(const MessageHead &head) {
    fields_.reserve(head.header_count() + 4);
    for (size_t i = 0; i < head.header_count(); ++i)
        add(head.header_name(i), head.header_value(i));
}

std::optional<std::string_view> HeaderList::find(std::string_view name) const {
    for (const Field &f : fields_)
        if (iequals(f.name, name)) return std::string_view(f.value);
    return std::nullopt;
}

void HeaderList::set(std::string_view name, std::string_view value) {
    auto first =
        std::find_if(fields_.begin(), fields_.end(), [&](const Field &f) { return iequals(f.name, name); });
    if (first == fields_.end()) return add(name, value);
    first->name = name;
    first->value = value;
    fields_.erase(
        std::remove_if(first + 1, fields_.end(), [&](const Field &f) { return iequals(f.name, name); }),
        fields_.end());
}

size_t HeaderList::remove(std::string_view name) {
    size_t before = fields_.size();
    fields_.erase(
        std::remove_if(fields_.begin(), fields_.end(), [&](const Field &f) { return iequals(f.name, name); }),
        fields_.end());
    return before - fields_.size();
}

bool is_field_name(std::string_view name) {
    if (name.empty()) return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return byte_is(c, kTokenByte); });
}

bool is_field_value(std::string_view value) {
    return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

} // namespace proxyd
