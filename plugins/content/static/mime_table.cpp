#include "mime_table.hpp"

#include <algorithm>
#include <array>

namespace proxyd::static_files {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool key_less(const std::pair<std::string, std::string> &entry, std::string_view key) {
    return entry.first < key;
}

} // namespace

MimeTable MimeTable::builtin() {
    MimeTable table;
    for (auto [extension, type] : {
             std::pair{"html", "text/html; charset=utf-8"},
             {"htm", "text/html; charset=utf-8"},
             {"css", "text/css; charset=utf-8"},
             {"js", "text/javascript; charset=utf-8"},
             {"mjs", "text/javascript; charset=utf-8"},
             {"json", "application/json; charset=utf-8"},
             {"xml", "application/xml; charset=utf-8"},
             {"txt", "text/plain; charset=utf-8"},
             {"svg", "image/svg+xml; charset=utf-8"},
             {"png", "image/png"},
             {"jpg", "image/jpeg"},
             {"jpeg", "image/jpeg"},
             {"gif", "image/gif"},
             {"webp", "image/webp"},
             {"avif", "image/avif"},
             {"ico", "image/vnd.microsoft.icon"},
             {"pdf", "application/pdf"},
             {"wasm", "application/wasm"},
             {"woff2", "font/woff2"},
             {"mp4", "video/mp4"},
             {"webm", "video/webm"},
             {"zip", "application/zip"},
         })
        table.add(extension, type);
    return table;
}

bool MimeTable::add(std::string_view extension, std::string_view content_type) {
    std::string key(extension);
    std::transform(key.begin(), key.end(), key.begin(), lower);
    auto pos = std::lower_bound(entries_.begin(), entries_.end(), std::string_view(key), key_less);
    if (pos != entries_.end() && pos->first == key) return false;
    entries_.emplace(pos, std::move(key), std::string(content_type));
    return true;
}

std::string_view MimeTable::lookup(std::string_view path) const {
    std::string_view name = path.substr(path.rfind('/') + 1);
    size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return {};
    std::string_view extension = name.substr(dot + 1);

    // Lower-cased on the stack; no table key is anywhere near this long.
    std::array<char, 32> buffer;
    if (extension.empty() || extension.size() > buffer.size()) return {};
    std::transform(extension.begin(), extension.end(), buffer.begin(), lower);
    std::string_view key(buffer.data(), extension.size());

    auto pos = std::lower_bound(entries_.begin(), entries_.end(), key, key_less);
    if (pos == entries_.end() || pos->first != key) return {};
    return pos->second;
}

} // namespace proxyd::static_files
