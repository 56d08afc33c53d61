// File extension → Content-Type, for the static plugin.
#ifndef PROXYD_PLUGINS_MIME_TABLE_HPP
#define PROXYD_PLUGINS_MIME_TABLE_HPP

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace proxyd::static_files {

class MimeTable {
  public:
    // The small table used when the config names no MIME file.
    static MimeTable builtin();

    // extension is given without its dot and matched case-insensitively. False (and nothing
    // added) when it is already present.
    bool add(std::string_view extension, std::string_view content_type);

    // The type for the extension of path's last segment (the text after its last '.', unless
    // that dot starts the name), or an empty view when it has none or it is unknown. Does not
    // allocate.
    std::string_view lookup(std::string_view path) const;

    size_t size() const { return entries_.size(); }

  private:
    // Sorted by (lower-case) extension: a few dozen short keys, binary-searched.
    std::vector<std::pair<std::string, std::string>> entries_;
};

} // namespace proxyd::static_files

#endif
