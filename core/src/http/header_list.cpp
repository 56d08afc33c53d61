#include "http/header_list.hpp"

#include "http/byte_classes.hpp"
#include "http/header_rules.hpp"

#include <algorithm>
#include <cstring>

namespace proxyd {

HeaderList::HeaderList(const MessageHead &head) {
    // The head's buffer holds every name and value (and the request line): one block for all.
    reserve(head.header_count() + 4, head.size());
    for (size_t i = 0; i < head.header_count(); ++i)
        add(head.header_name(i), head.header_value(i));
}

HeaderList::HeaderList(const MessageHead &head, ViewHead) {
    fields_.reserve(head.header_count() + 4);
    for (size_t i = 0; i < head.header_count(); ++i)
        fields_.push_back({head.header_name(i), head.header_value(i)});
}

HeaderList::HeaderList(const HeaderList &other) { *this = other; }

HeaderList &HeaderList::operator=(const HeaderList &other) {
    if (this == &other) return *this;
    fields_.clear();
    blocks_.clear();
    free_ = nullptr;
    free_bytes_ = 0;
    size_t text = 0;
    for (const Field &f : other.fields_)
        text += f.name.size() + f.value.size();
    reserve(other.fields_.size(), text);
    for (const Field &f : other.fields_)
        add(f.name, f.value);
    return *this;
}

void HeaderList::reserve(size_t count, size_t text_bytes) {
    fields_.reserve(count);
    if (text_bytes > free_bytes_) add_block(text_bytes);
}

void HeaderList::add_block(size_t at_least) {
    // Edits after the first block are few: a small block each, at least.
    size_t size = std::max<size_t>(at_least, 256);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    free_ = blocks_.back().get();
    free_bytes_ = size;
}

std::string_view HeaderList::keep(std::string_view text) {
    if (text.empty()) return std::string_view("", 0); // a pointer a plugin may dereference
    if (text.size() > free_bytes_) add_block(text.size());
    char *at = free_;
    std::memcpy(at, text.data(), text.size());
    free_ += text.size();
    free_bytes_ -= text.size();
    return {at, text.size()};
}

std::optional<std::string_view> HeaderList::find(std::string_view name) const {
    for (const Field &f : fields_)
        if (iequals(f.name, name)) return f.value;
    return std::nullopt;
}

void HeaderList::set(std::string_view name, std::string_view value) {
    auto first =
        std::find_if(fields_.begin(), fields_.end(), [&](const Field &f) { return iequals(f.name, name); });
    if (first == fields_.end()) return add(name, value);
    first->name = keep(name);
    first->value = keep(value);
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

bool is_field_name(std::string_view name) { return is_token(name); }

bool is_field_value(std::string_view value) {
    // A plain loop: find_first_of would search the three bytes with a memchr per byte of value.
    return std::none_of(value.begin(), value.end(),
                        [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

} // namespace proxyd
