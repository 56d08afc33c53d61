#include "tls/server_names.hpp"

#include <algorithm>

namespace proxyd {

std::string ServerNameIndex::normalise(std::string_view host) {
    std::string out(host);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

std::vector<std::string> ServerNameIndex::canonical(const std::vector<std::string> &names) {
    std::vector<std::string> out;
    out.reserve(names.size());
    for (const std::string &name : names)
        out.push_back(normalise(name));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

size_t ServerNameIndex::add(const std::vector<std::string> &names) {
    sets_.push_back(canonical(names));
    return sets_.size() - 1;
}

size_t ServerNameIndex::find_same(const std::vector<std::string> &names) const {
    auto same = std::find(sets_.begin(), sets_.end(), canonical(names));
    return same == sets_.end() ? kNone : static_cast<size_t>(same - sets_.begin());
}

size_t ServerNameIndex::first_holding(const std::string &name) const {
    for (size_t i = 0; i < sets_.size(); ++i)
        if (std::binary_search(sets_[i].begin(), sets_[i].end(), name)) return i;
    return kNone;
}

size_t ServerNameIndex::find(std::string_view host) const {
    std::string name = normalise(host);
    if (name.empty()) return kNone;
    if (size_t exact = first_holding(name); exact != kNone) return exact;
    size_t dot = name.find('.');
    if (dot == std::string::npos || dot == 0) return kNone; // no leftmost label to stand in for
    return first_holding("*" + name.substr(dot));
}

} // namespace proxyd
