// libFuzzer target: SNI name matching (ServerNameIndex). The input's lines up to the first empty
// one are certificate name sets (names separated by spaces); the lines after it are SNI names to
// look up. Whatever the bytes, a lookup must keep the matching rules: the set found holds the
// name or the wildcard for its one leftmost label; an exact name beats any wildcard, the first
// set winning ties; nothing is found when no set holds either; and case and one trailing dot
// never change the answer.
#include "tls/server_names.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using proxyd::ServerNameIndex;

[[noreturn]] void broken(const char *what, std::string_view host) {
    std::fprintf(stderr, "SNI matching broke a rule: %s: '%.*s'\n", what, static_cast<int>(host.size()),
                 host.data());
    std::abort();
}

std::vector<std::string_view> split(std::string_view text, char by) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(by, start);
        if (end == std::string_view::npos) end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool holds(const ServerNameIndex &index, size_t set, const std::string &name) {
    const auto &names = index.names(set);
    return std::binary_search(names.begin(), names.end(), name);
}

size_t first_holding(const ServerNameIndex &index, const std::string &name) {
    for (size_t i = 0; i < index.size(); ++i)
        if (holds(index, i, name)) return i;
    return ServerNameIndex::kNone;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char &c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - ('a' - 'A'));
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view input(reinterpret_cast<const char *>(data), size);
    std::vector<std::string_view> lines = split(input, '\n');
    ServerNameIndex index;
    size_t at = 0;
    for (; at < lines.size() && !lines[at].empty() && index.size() < 64; ++at) {
        std::vector<std::string> names;
        for (std::string_view name : split(lines[at], ' '))
            if (!name.empty()) names.emplace_back(name);
        size_t same = index.find_same(names);
        size_t added = index.add(names);
        if (same != ServerNameIndex::kNone && index.names(same) != index.names(added))
            broken("find_same found other names", lines[at]);
        if (index.find_same(names) != std::min(same, added)) broken("find_same missed its set", lines[at]);
    }
    for (++at; at < lines.size(); ++at) {
        std::string_view host = lines[at];
        size_t found = index.find(host);
        std::string name = ServerNameIndex::normalise(host);
        size_t exact = name.empty() ? ServerNameIndex::kNone : first_holding(index, name);
        size_t dot = name.find('.');
        std::string wildcard = dot == std::string::npos || dot == 0 ? "" : "*" + name.substr(dot);
        size_t covering = wildcard.empty() ? ServerNameIndex::kNone : first_holding(index, wildcard);
        if (exact != ServerNameIndex::kNone) {
            if (found != exact) broken("an exact name did not win, or not its first set", host);
        } else if (found != covering) {
            broken(covering == ServerNameIndex::kNone
                       ? "found a set holding neither the name nor its wildcard"
                       : "missed the set with the wildcard",
                   host);
        }
        if (index.find(upper(host)) != found) broken("case changed the answer", host);
        if ((host.empty() || host.back() != '.') && index.find(std::string(host) + ".") != found)
            broken("a trailing dot changed the answer", host);
    }
    return 0;
}
