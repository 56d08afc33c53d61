// Reads a TOML config file into a Config: every key checked, every plugin loaded and its
// instances created (which validates their blocks). Main thread only.
#pragma once

#include "config/config.hpp"

#include <memory>
#include <string>
#include <vector>

struct proxyd_host;

namespace proxyd {

class Logger;

// The built-in plugin set: a TOML file in a plugin folder, shipped with the plugins, whose
// [plugins] table any config may use by name without declaring it (a config's own [plugins] entry
// of the same name wins), and whose [defaults] balancer is the balancer of an upstream that names
// none. Its file names are taken from its own folder. Optional: without it there are no built-in
// names and no default balancer.
inline constexpr const char *kBuiltinPluginsFile = "builtin_plugins.toml";

struct LoadOptions {
    // Folders searched, in order, for plugin files named without a '/' (the config's own
    // plugin_dir, when set, is searched first), and for the built-in plugin set (the first folder
    // holding one provides it; plugin_dir is not searched for it).
    std::vector<std::string> plugin_search_path;
    const proxyd_host *host = nullptr;
    // Session ticket keys, owned by the process so they outlive every config generation; null
    // (proxyd -t) gives each TLS context OpenSSL's own keys.
    TicketKeyStore *ticket_keys = nullptr;
    // The error log of the generation being loaded, for what its TLS handshakes report while
    // serving (an OCSP staple going stale); null (proxyd -t) reports nothing.
    const Logger *logger = nullptr;
};

// Every problem found is appended to errors as "file:line:col: key: message"; the result is
// nullptr when there was any.
std::unique_ptr<Config> load_config(const std::string &path, const LoadOptions &options,
                                    std::vector<std::string> &errors);

} // namespace proxyd
