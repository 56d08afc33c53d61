#include "dir_listing.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace proxyd::static_files {

int read_listing(int dir_fd, bool include_hidden, std::vector<ListingEntry> &entries) {
    DIR *dir = fdopendir(dir_fd);
    if (!dir) {
        int error = errno;
        ::close(dir_fd);
        return error;
    }
    int error = 0;
    while (entries.size() < kMaxListingEntries) {
        // readdir() says end and failure alike with NULL; only errno tells them apart.
        errno = 0;
        const dirent *entry = readdir(dir);
        if (!entry) {
            error = errno;
            break;
        }
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        if (!include_hidden && name.starts_with('.')) continue;
        bool directory = entry->d_type == DT_DIR;
        if (entry->d_type == DT_UNKNOWN) {
            // Some file systems do not fill d_type. A symlink is listed as a plain name and never
            // followed here: its target may lie outside the root (following it answers 403).
            struct stat st {};
            directory =
                fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        entries.push_back({std::string(name), directory});
    }
    closedir(dir);
    std::sort(entries.begin(), entries.end(),
              [](const ListingEntry &a, const ListingEntry &b) { return a.name < b.name; });
    return error;
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string percent_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
        if (unreserved) {
            out += c;
        } else {
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        }
    }
    return out;
}

std::string render_listing(std::string_view display_path, const std::vector<ListingEntry> &entries) {
    std::string title = "Index of " + html_escape(display_path);
    std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                      "</title></head>\n<body><h1>" + title + "</h1>\n<ul>\n";
    if (display_path != "/") out += "<li><a href=\"../\">../</a></li>\n";
    for (const ListingEntry &entry : entries) {
        std::string suffix = entry.directory ? "/" : "";
        // "./" first, so a name with a ':' cannot be read as a URL scheme.
        out += "<li><a href=\"./" + percent_encode(entry.name) + suffix + "\">" + html_escape(entry.name) +
               suffix + "</a></li>\n";
    }
    return out + "</ul>\n</body></html>\n";
}

} // namespace proxyd::static_files
