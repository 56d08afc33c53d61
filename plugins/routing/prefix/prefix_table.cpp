#include "prefix_table.hpp"

#include <algorithm>
#include <utility>

namespace proxyd::prefix {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

bool PrefixTable::add(PrefixRoute route) {
    for (const PrefixRoute &r : routes_)
        if (r.prefix == route.prefix) return false;
    // Equal lengths never compete: two different strings of one length cannot both begin a path.
    auto pos = std::find_if(routes_.begin(), routes_.end(),
                            [&](const PrefixRoute &r) { return r.prefix.size() < route.prefix.size(); });
    routes_.insert(pos, std::move(route));
    return true;
}

PrefixMatch PrefixTable::find(std::string_view path) const {
    // Longest first: a prefix that is the path plus '/' comes before any prefix of the path.
    const PrefixRoute *with_slash = nullptr;
    for (const PrefixRoute &r : routes_) {
        if (!with_slash && r.prefix.size() == path.size() + 1 && r.prefix.back() == '/' &&
            r.prefix.starts_with(path)) {
            with_slash = &r;
        } else if (path.starts_with(r.prefix)) {
            if (!with_slash || r.prefix.size() == path.size()) return {&r, false};
            break;
        }
    }
    return {with_slash, with_slash != nullptr};
}

StrippedPath strip_prefix(std::string_view path, std::string_view prefix) {
    std::string_view rest = path.substr(prefix.size());
    if (rest.starts_with('/')) return {rest, false};
    // The prefix's own trailing slash can serve as the remainder's leading one.
    if (prefix.ends_with('/')) return {path.substr(prefix.size() - 1), false};
    // Nothing left: the path's first byte is the '/' every prefix starts with.
    if (rest.empty()) return {path.substr(0, 1), false};
    return {rest, true};
}

std::string prefix_problem(std::string_view prefix) {
    std::string quoted = "prefix '" + std::string(prefix) + "'";
    if (!prefix.starts_with('/')) return quoted + " must start with '/'";
    for (char c : prefix) {
        auto byte = static_cast<unsigned char>(c);
        // The core hands us the path without its query or fragment, and llhttp rejects
        // whitespace and control bytes in it, so such a prefix would silently never match.
        if (byte <= 0x20 || byte == 0x7f) return quoted + " contains a space or control character";
        if (byte >= 0x80)
            return quoted + " contains a byte outside ASCII, which never occurs in a request path";
        if (c == '?' || c == '#')
            return quoted + " contains '" + std::string(1, c) + "', which never occurs in a request path";
        // A prefix's path is sent back in a Location (a slash-less path is redirected to it), which
        // must be a URI reference (RFC 3986 allows none of these in a path). A browser reads "/\x"
        // as "//x", another host: such a prefix would make an open redirect.
        if (std::string_view("\"<>\\^`{|}").find(c) != std::string_view::npos) {
            static constexpr char kHex[] = "0123456789ABCDEF";
            const char escaped[] = {'%', kHex[byte >> 4], kHex[byte & 0xf], '\0'};
            return quoted + " contains '" + std::string(1, c) +
                   "', which a URI path may not hold: write it as " + escaped;
        }
    }
    // The path routes see has no run of slashes, no dot segment, no escape of a letter, digit or
    // "-._~" (the core decodes those) and no '%' that starts no escape (refused with 400).
    if (prefix.find("//") != std::string_view::npos)
        return quoted + " contains '//', which the core merges into '/' in every request path";
    if (prefix.find("/./") != std::string_view::npos || prefix.find("/../") != std::string_view::npos)
        return quoted + " contains a dot segment, which the core removes from every request path";
    for (size_t i = 0; i + 2 < prefix.size(); ++i) {
        if (prefix[i] != '%') continue;
        int high = hex_value(prefix[i + 1]), low = hex_value(prefix[i + 2]);
        if (high < 0 || low < 0) return quoted + " contains a '%' that starts no escape";
        char c = static_cast<char>(high * 16 + low);
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved)
            return quoted + " contains '" + std::string(prefix.substr(i, 3)) +
                   "', which the core decodes to '" + std::string(1, c) + "' in every request path";
    }
    return {};
}

} // namespace proxyd::prefix
