// Where a node a plugin reports about sits inside its block, so that the message names the
// node's dotted key and its place in the file (config_host_calls.cpp, load_context.hpp).
#pragma once

#include <string>
#include <toml++/toml.h>

namespace proxyd {

struct BlockPlace {
    bool found = false;
    // Below the block: "request.set.X-A", "routes[2].prefix"; empty for the block itself.
    std::string path;
    // The key that holds the node (nullptr for an array element or the block itself).
    const toml::key *key = nullptr;
    // The node and its key in the table the block was copied from (nullptr without one).
    const toml::node *original = nullptr;
    const toml::key *original_key = nullptr;
};

// Searches block for node; origin, when given, is the table block was copied from, walked alongside.
BlockPlace find_in_block(const toml::node &block, const toml::node *origin, const toml::node *node);

// block_key joined with a path from find_in_block: "handlers.site" and "routes[2]" give
// "handlers.site.routes[2]", and "[1]" gives "handlers.site[1]".
std::string join_block_path(const std::string &block_key, const std::string &path);

} // namespace proxyd
