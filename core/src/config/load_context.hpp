// What a plugin's create_instance sees of the config loader (proxyd_load_context is opaque in
// the ABI; this is its definition). Main thread, during loading only.
#pragma once

#include <proxyd/plugin.h>

#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

namespace proxyd {
struct PeerConfig;
}

struct proxyd_load_context {
    void *loader;            // the config loader (config_loader.cpp)
    std::string plugin_name; // the name in [plugins], for "plugin NAME:" in messages
    const toml::node *block; // the plugin's block, where errors point when no node is given
    bool failed;             // an error was reported
    const std::string *kept_name;                 // the same name, living as long as the config
    const std::vector<proxyd::PeerConfig> *peers; // a balancer's upstream group; else nullptr
};

namespace proxyd {

void load_context_error(proxyd_load_context &ctx, const toml::node *node, const std::string &message);
// The same at a source region that is no node's, such as a key's.
void load_context_error_at(proxyd_load_context &ctx, const toml::source_region &where, const std::string &message);
std::string load_context_resolve_path(proxyd_load_context &ctx, std::string_view path);
// Parses a further TOML file kept alive with the config; nullptr and error on failure.
const toml::table *load_context_document(proxyd_load_context &ctx, const std::string &path, std::string &error);
bool load_context_find_target(proxyd_load_context &ctx, proxyd_target_kind kind, std::string_view name,
                              uint32_t &id);

} // namespace proxyd
