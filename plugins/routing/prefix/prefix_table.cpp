#include "prefix_table.hpp"

#include <algorithm>
#include <utility>

namespace proxyd::prefix {

bool PrefixTable::add(PrefixRoute route) {
    for (const PrefixRoute &r : routes_)
        if (r.prefix == route.prefix) return false;
    // Equal lengths never compete: two different strings of one length cannot both begin a path.
    auto pos = std::find_if(routes_.begin(), routes_.end(),
                            [&](const PrefixRoute &r) { return r.prefix.size() < route.prefix.size(); });
    routes_.insert(pos, std::move(route));
    return true;
}

const PrefixRoute *PrefixTable::find(std::string_view path) const {
    for (const PrefixRoute &r : routes_)
        if (path.starts_with(r.prefix)) return &r;
    return nullptr;
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
        if (c == '?' || c == '#')
            return quoted + " contains '" + std::string(1, c) + "', which never occurs in a request path";
    }
    return {};
}

} // namespace proxyd::prefix
