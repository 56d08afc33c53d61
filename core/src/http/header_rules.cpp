#include "http/header_rules.hpp"

#include "http/byte_classes.hpp"

namespace proxyd {

bool is_hop_by_hop(std::string_view name) {
    // Runs for every header in both directions: the length and first letter pick the one name
    // worth comparing, instead of comparing against the whole list.
    if (name.empty()) return false;
    char first = ascii_lower(name[0]);
    switch (name.size()) {
    case 2:
        return iequals(name, "te");
    case 7:
        return first == 't' ? iequals(name, "trailer") : first == 'u' && iequals(name, "upgrade");
    case 10:
        return first == 'c' ? iequals(name, "connection") : first == 'k' && iequals(name, "keep-alive");
    case 16:
        return first == 'p' && iequals(name, "proxy-connection");
    case 17:
        return first == 't' && iequals(name, "transfer-encoding");
    default:
        return false;
    }
}

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

bool must_drop_when_forwarding(std::string_view name, const ConnectionOptions &options) {
    return is_hop_by_hop(name) || options.lists(name);
}

} // namespace proxyd
