#include "config/block_place.hpp"

namespace proxyd {
namespace {

// Depth-first; a plugin block is small, and this runs only when a message is reported.
bool search(const toml::node &in, const toml::node *in_origin, const toml::node *node, BlockPlace &place) {
    if (&in == node) {
        place.original = in_origin;
        return true;
    }
    if (const auto *table = in.as_table()) {
        const auto *origin_table = in_origin ? in_origin->as_table() : nullptr;
        for (const auto &[key, child] : *table) {
            const toml::node *origin_child = nullptr;
            const toml::key *origin_key = nullptr;
            if (origin_table)
                if (auto it = origin_table->find(key.str()); it != origin_table->end())
                    origin_child = &it->second, origin_key = &it->first;
            if (!search(child, origin_child, node, place)) continue;
            if (&child == node) place.key = &key, place.original_key = origin_key;
            // Keys that are no bare key are quoted, as TOML writes them.
            bool bare = !key.str().empty() &&
                        key.str().find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                    "0123456789_-") == std::string::npos;
            std::string name = bare ? std::string(key.str()) : "\"" + std::string(key.str()) + "\"";
            place.path = join_block_path(name, place.path);
            return true;
        }
    }
    if (const auto *array = in.as_array()) {
        const auto *origin_array = in_origin ? in_origin->as_array() : nullptr;
        for (size_t i = 0; i < array->size(); ++i) {
            const toml::node *origin_element = origin_array ? origin_array->get(i) : nullptr;
            if (!search(*array->get(i), origin_element, node, place)) continue;
            place.path = join_block_path("[" + std::to_string(i) + "]", place.path);
            return true;
        }
    }
    return false;
}

} // namespace

BlockPlace find_in_block(const toml::node &block, const toml::node *origin, const toml::node *node) {
    BlockPlace place;
    place.found = node && search(block, origin, node, place);
    return place;
}

std::string join_block_path(const std::string &block_key, const std::string &path) {
    if (path.empty()) return block_key;
    if (block_key.empty()) return path;
    return block_key + (path[0] == '[' ? "" : ".") + path;
}

} // namespace proxyd
