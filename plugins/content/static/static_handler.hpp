// The static plugin's configuration, read through the SDK's Config (plugin glue, not part of the
// logic library).
#ifndef PROXYD_PLUGINS_STATIC_HANDLER_HPP
#define PROXYD_PLUGINS_STATIC_HANDLER_HPP

#include "mime_table.hpp"
#include "static_site.hpp"

#include <proxyd/plugin.hpp>
#include <string>
#include <utility>
#include <vector>

namespace proxyd::static_files {

struct HandlerConfig {
    SiteOptions site;
    std::vector<std::pair<std::string, std::string>> headers; // added to every response
};

// Reads and validates the plugin's table, reporting each problem through config. The result is
// meaningful only when config.failed() stays false.
HandlerConfig parse_handler_config(const sdk::Config &config);

// Fills table from a MIME file's root table: [types], extension → content type.
void parse_mime_file(const sdk::Config &file, MimeTable &table);

} // namespace proxyd::static_files

#endif
