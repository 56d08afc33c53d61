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
    for (size_t i = 0; i < head.header_count(); ++i)
        if (!is_token(head.header_name(i))) return false;
    return true;
}

// No vector: every chunked response and request comes through here.
TransferCoding transfer_coding(const MessageHead &head) {
    bool present = false, last_is_chunked = false, chunked_before_last = false;
    size_t codings = 0;
    for (size_t i = 0; i < head.header_count(); ++i) {
        if (head.header_kind(i) != FieldKind::kTransferEncoding) continue;
        present = true;
        for_each_token(head.header_value(i), [&](std::string_view coding) {
            chunked_before_last = chunked_before_last || last_is_chunked;
            last_is_chunked = iequals(coding, "chunked");
            ++codings;
        });
    }
    if (!present) return TransferCoding::kNone;
    if (!last_is_chunked || chunked_before_last) return TransferCoding::kMalformed;
    return codings == 1 ? TransferCoding::kChunked : TransferCoding::kOther;
}

bool must_drop_when_forwarding(std::string_view name, const ConnectionOptions &options) {
    return must_drop_when_forwarding(classify_field(name), name, options);
}

} // namespace proxyd
