// An editable list of header fields that owns its text: the header model filters change (the
// request's head once a filter edits it, a final response's head while response-head filters
// run). Reading has MessageHead's interface (header_count, header_name, header_value, find), so
// a writer serialises either the same way. Order is kept: set() replaces in place, add() appends.
#pragma once

#include "http/field_kind.hpp"
#include "http/message_head.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace proxyd {

class HeaderList {
  public:
    HeaderList() = default;
    // A copy of a parsed head's fields (values trimmed, as MessageHead hands them).
    explicit HeaderList(const MessageHead &head);
    // The same fields, viewing head's own text instead of copying it: for a list that head
    // outlives (a request's fields as its filters edit them, RequestFilters). Edits keep their
    // text in the list's blocks as usual; a copy of the list copies all of it.
    struct ViewHead {};
    HeaderList(const MessageHead &head, ViewHead);
    HeaderList(const HeaderList &other);
    HeaderList &operator=(const HeaderList &other);
    // The text blocks move, so views stay valid; the list moved from is left empty (its free
    // space is the new owner's now).
    HeaderList(HeaderList &&other) noexcept
        : fields_(std::move(other.fields_)), blocks_(std::move(other.blocks_)),
          free_(std::exchange(other.free_, nullptr)), free_bytes_(std::exchange(other.free_bytes_, 0)) {
        other.fields_.clear();
        other.blocks_.clear();
    }
    HeaderList &operator=(HeaderList &&other) noexcept {
        if (this == &other) return *this;
        fields_ = std::exchange(other.fields_, {});
        blocks_ = std::exchange(other.blocks_, {});
        free_ = std::exchange(other.free_, nullptr);
        free_bytes_ = std::exchange(other.free_bytes_, 0);
        return *this;
    }

    size_t header_count() const { return fields_.size(); }
    // Views into the list's own text: valid as long as the list, whatever is edited meanwhile
    // (plugin.h promises a field a plugin read stays valid until its hook returns).
    std::string_view header_name(size_t i) const { return fields_[i].name; }
    std::string_view header_value(size_t i) const { return fields_[i].value; }
    // Classified on each call: an edited list is rare, and its fields change.
    FieldKind header_kind(size_t i) const { return classify_field(fields_[i].name); }
    // The first field called name (case-insensitive), or nullopt.
    std::optional<std::string_view> find(std::string_view name) const;

    // Every field called name becomes one, with value, where the first one was; appended when
    // there was none.
    void set(std::string_view name, std::string_view value);
    void add(std::string_view name, std::string_view value) { fields_.push_back({keep(name), keep(value)}); }
    // The same for text that outlives the list: viewed, not copied (as ViewHead's fields).
    void add_viewed(std::string_view name, std::string_view value) { fields_.push_back({name, value}); }
    // Removes every field called name; how many there were.
    size_t remove(std::string_view name);
    // Room for count fields and text_bytes of their text, for a list about to be filled.
    void reserve(size_t count, size_t text_bytes);

  private:
    struct Field {
        std::string_view name;
        std::string_view value;
    };
    // A copy of text in the list's own blocks. Blocks are only appended, never moved or freed
    // before the list, so one allocation holds a whole head and every view handed out stays put.
    std::string_view keep(std::string_view text);
    void add_block(size_t at_least);

    std::vector<Field> fields_;
    std::vector<std::unique_ptr<char[]>> blocks_;
    char *free_ = nullptr; // the last block's unused bytes
    size_t free_bytes_ = 0;
};

// A field name is a token and a value holds no CR, LF or NUL (RFC 9110 §5.1, §5.5): what a
// plugin may put in a head.
bool is_field_name(std::string_view name);
bool is_field_value(std::string_view value);

} // namespace proxyd
