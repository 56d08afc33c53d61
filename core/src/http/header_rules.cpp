#include "http/header_rules.hpp"

#include "http/byte_classes.hpp"

namespace proxyd {

bool ConnectionOptions::lists(std::string_view option) const {
    for (size_t i = 0; i < count_; ++i)
        if (iequals(first_[i], option)) return true;
    for (std::string_view more : more_)
        if (iequals(more, option)) return true;
    return false;
}

bool field_names_are_tokens(const MessageHead &head) {
    for (size_t i = 0; i < head.header_count(); ++i) {
        std::string_view name = head.header_name(i);
        if (name.empty()) return false;
        for (char ch : name)
            if (!byte_is(ch, kTokenByte)) return false;
    }
    return true;
}

TransferCoding transfer_coding(const MessageHead &head) {
    std::vector<std::string_view> codings;
    bool present = false;
    for (size_t i = 0; i < head.header_count(); ++i) {
        if (head.header_kind(i) != FieldKind::kTransferEncoding) continue;
        present = true;
        split_tokens(head.header_value(i), codings);
    }
    if (!present) return TransferCoding::kNone;
    if (codings.empty() || !iequals(codings.back(), "chunked")) return TransferCoding::kMalformed;
    for (size_t i = 0; i + 1 < codings.size(); ++i)
        if (iequals(codings[i], "chunked")) return TransferCoding::kMalformed;
    return codings.size() == 1 ? TransferCoding::kChunked : TransferCoding::kOther;
}

bool must_drop_when_forwarding(std::string_view name, const ConnectionOptions &options) {
    return must_drop_when_forwarding(classify_field(name), name, options);
}

} // namespace proxyd
