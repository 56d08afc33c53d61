#include "http/header_rules.hpp"

namespace proxyd {

namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
} // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_hop_by_hop(std::string_view name) {
    // Runs for every header in both directions: the length and first letter pick the one name
    // worth comparing, instead of comparing against the whole list.
    if (name.empty()) return false;
    char first = lower(name[0]);
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

void split_tokens(std::string_view value, std::vector<std::string_view> &out) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view token = value.substr(0, comma);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
        if (!token.empty()) out.push_back(token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

std::vector<std::string_view> connection_options(const MessageHead &head) {
    std::vector<std::string_view> options;
    for (size_t i = 0; i < head.header_count(); ++i)
        if (iequals(head.header_name(i), "connection")) split_tokens(head.header_value(i), options);
    return options;
}

bool field_names_are_tokens(const MessageHead &head) {
    static constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
    for (size_t i = 0; i < head.header_count(); ++i) {
        std::string_view name = head.header_name(i);
        if (name.empty()) return false;
        for (char ch : name) {
            bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
            if (!alnum && kTokenSymbols.find(ch) == std::string_view::npos) return false;
        }
    }
    return true;
}

bool must_drop_when_forwarding(std::string_view name, const std::vector<std::string_view> &connection_tokens) {
    if (is_hop_by_hop(name)) return true;
    for (auto t : connection_tokens)
        if (iequals(name, t)) return true;
    return false;
}

} // namespace proxyd
