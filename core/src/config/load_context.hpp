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
    void *loader;                 // the config loader (loader.hpp)
    std::string plugin_name;      // the name in [plugins], for "plugin NAME:" in messages
    const toml::node *block;      // the plugin's block, where errors point when no node is given
    bool failed;                  // an error was reported
    const std::string *kept_name; // the same name, living as long as the config
    const std::vector<proxyd::PeerConfig> *peers; // a balancer's upstream group; else nullptr
    std::string where; // the block's dotted key ("handlers.site"), which every message names
    // The document's table the block was copied from, when the core handed the plugin a copy
    // (toml++ copies lose source positions, the original keeps them); else nullptr.
    const toml::node *origin;
};

namespace proxyd {

// Reports message at node (nullptr: the block), naming node's dotted key and its position in the
// document, also when the plugin was given a copy of its block.
void load_context_error(proxyd_load_context &ctx, const toml::node *node, const std::string &message);
// The same at the key that holds node (an unknown key is shown where it is written).
void load_context_error_at_key(proxyd_load_context &ctx, const toml::node *node, const std::string &message);
std::string load_context_resolve_path(proxyd_load_context &ctx, std::string_view path);
// Parses a further TOML file kept alive with the config; nullptr and error on failure.
const toml::table *load_context_document(proxyd_load_context &ctx, const std::string &path,
                                         std::string &error);
bool load_context_find_target(proxyd_load_context &ctx, proxyd_target_kind kind, std::string_view name,
                              uint32_t &id);

} // namespace proxyd
