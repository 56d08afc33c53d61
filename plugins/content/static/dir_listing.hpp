// The optional directory listing of the static plugin (autoindex): the entries of one folder,
// sorted, as a small HTML page whose names are escaped and whose links are percent-encoded.
#ifndef PROXYD_PLUGINS_DIR_LISTING_HPP
#define PROXYD_PLUGINS_DIR_LISTING_HPP

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::static_files {

struct ListingEntry {
    std::string name;
    bool directory = false;
};

// A listing stops here: it is read on the worker's loop thread, and a folder of a million
// entries must not hold every other connection of the worker for long.
inline constexpr size_t kMaxListingEntries = 10000;

// Reads the entries of the open folder dir_fd (which it takes over and closes), without "." and
// "..", and without names starting with '.' unless include_hidden. Sorted by name, byte order.
// Returns 0 or an errno value.
int read_listing(int dir_fd, bool include_hidden, std::vector<ListingEntry> &entries);

// The HTML page for the folder shown as display_path (decoded, ending in '/').
std::string render_listing(std::string_view display_path, const std::vector<ListingEntry> &entries);

// & < > " ' as character references.
std::string html_escape(std::string_view text);

// Every byte outside RFC 3986's unreserved set (and '/') as %XX, so any file name is a safe
// relative link.
std::string percent_encode(std::string_view text);

} // namespace proxyd::static_files

#endif
