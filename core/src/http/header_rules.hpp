// Header rules a proxy applies when forwarding (RFC 9110 §7.6.1): which fields are hop-by-hop and
// must not be forwarded, including those the Connection header names.
#pragma once

#include "http/field_kind.hpp"
#include "http/message_head.hpp"

#include <array>
#include <string_view>
#include <vector>

namespace proxyd {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// ASCII case-insensitive equality. Inline: it runs several times for every header, and most
// calls end at the length check.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

// Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade. Not Trailer, which is
// end-to-end (RFC 9110 §6.6.2): it goes on where the trailer section does.
inline bool is_hop_by_hop(std::string_view name) { return is_hop_by_hop(classify_field(name)); }

// Calls f with each comma-separated token of a list-valued field (e.g. "close", "X-Foo"),
// trimmed of SP and HTAB; empty list members are skipped (RFC 9110 §5.6.1).
template <class F> void for_each_token(std::string_view value, F &&f) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view token = trim_ows(value.substr(0, comma));
        if (!token.empty()) f(token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

inline void split_tokens(std::string_view value, std::vector<std::string_view> &out) {
    for_each_token(value, [&out](std::string_view token) { out.push_back(token); });
}

// The options the Connection fields of a head list (RFC 9110 §7.6.1), as views into the head.
// It is built for every message forwarded, so the first few live inline, not on the heap.
class ConnectionOptions {
  public:
    // head: a MessageHead, or a HeaderList a filter edited.
    template <class Head> explicit ConnectionOptions(const Head &head) {
        for (size_t i = 0; i < head.header_count(); ++i)
            if (head.header_kind(i) == FieldKind::kConnection)
                for_each_token(head.header_value(i), [this](std::string_view option) { add(option); });
    }
    // option is listed (case-insensitive).
    bool lists(std::string_view option) const;

  private:
    void add(std::string_view option) {
        if (count_ < kInline)
            first_[count_++] = option;
        else
            more_.push_back(option);
    }
    static constexpr size_t kInline = 8;
    std::array<std::string_view, kInline> first_{};
    size_t count_ = 0;
    std::vector<std::string_view> more_;
};

// Every field name of head is a token (RFC 9110 §5.1): no whitespace before a colon, no
// separators.
bool field_names_are_tokens(const MessageHead &head);

// What a head's Transfer-Encoding fields say of its body (RFC 9112 §6.1, §6.3), for a proxy that
// decodes chunked and re-frames the body: it can pass on no other coding faithfully.
enum class TransferCoding {
    kNone,      // no Transfer-Encoding field
    kChunked,   // chunked alone
    kOther,     // chunked last, after a coding this proxy does not decode (gzip, chunked)
    kMalformed, // empty, chunked twice, or another coding last (the length is the connection's end)
};
TransferCoding transfer_coding(const MessageHead &head);

// True when name is hop-by-hop or listed in the message's Connection options.
bool must_drop_when_forwarding(std::string_view name, const ConnectionOptions &options);
// The same for a field whose kind is known (a head's header_kind).
inline bool must_drop_when_forwarding(FieldKind kind, std::string_view name,
                                      const ConnectionOptions &options) {
    return is_hop_by_hop(kind) || options.lists(name);
}

} // namespace proxyd

#include <llhttp.h>

namespace proxyd {

// llhttp's reason for its last error, or "" when it gave none.
inline const char *parse_error_reason(const llhttp_t *parser) {
    const char *reason = llhttp_get_error_reason(parser);
    return reason ? reason : "";
}

} // namespace proxyd
