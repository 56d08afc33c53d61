// Reads a TOML config file into a Config: every key checked, every plugin loaded and its
// instances created (which validates their blocks). Main thread only.
#pragma once

#include "config/config.hpp"

#include <memory>
#include <string>
#include <vector>

struct proxyd_host;

namespace proxyd {

struct LoadOptions {
    // Folders searched, in order, for plugin files named without a '/'. The config's own
    // plugin_dir, when set, is searched first.
    std::vector<std::string> plugin_search_path;
    const proxyd_host *host = nullptr;
};

// Every problem found is appended to errors as "file:line:col: key: message"; the result is
// nullptr when there was any.
std::unique_ptr<Config> load_config(const std::string &path, const LoadOptions &options,
                                    std::vector<std::string> &errors);

} // namespace proxyd
