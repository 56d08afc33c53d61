#include "http_text.hpp"
#include "static_handler.hpp"

#include <optional>
#include <string_view>

namespace proxyd::static_files {
namespace {

using sdk::Config;

// Written by the core or by this plugin; a second copy from the config would contradict them.
constexpr std::string_view kReservedHeaders[] = {
    "content-length", "transfer-encoding",
    "connection",     "keep-alive",
    "upgrade",        "te",
    "trailer",        "date",
    "content-type",   "last-modified",
    "etag",           "location",
    "allow",          "content-range",
    "accept-ranges",  "content-encoding",
    "vary",           "cache-control",
};

// Read before the root is opened: the root's open mode depends on it.
RootDirectory::Symlinks parse_symlinks(const Config &config) {
    std::optional<std::string_view> value = config.string("symlinks");
    if (!value || *value == "inside_root") return RootDirectory::Symlinks::InsideRoot;
    if (*value == "never") return RootDirectory::Symlinks::Never;
    config.child("symlinks")
        .error("'symlinks' must be \"inside_root\" (follow those that stay beneath the root) "
               "or \"never\"");
    return RootDirectory::Symlinks::InsideRoot;
}

void parse_etag(const Config &config, SiteOptions &site) {
    if (std::optional<std::string_view> mode = config.string("etag")) {
        if (*mode == "content-hash")
            site.etag_mode = SiteOptions::EtagMode::ContentHash;
        else if (*mode != "mtime-size")
            config.child("etag").error("'etag' must be \"mtime-size\" (the default) or \"content-hash\"");
    }
    if (std::optional<int64_t> limit = config.integer("etag_hash_max_size")) {
        if (*limit < 0)
            config.child("etag_hash_max_size")
                .error("'etag_hash_max_size' must be a size in bytes, 0 or more");
        else
            site.etag_hash_max_size = static_cast<uint64_t>(*limit);
    }
}

void parse_cache_control(const Config &config, SiteOptions &site) {
    if (std::optional<std::string_view> value = config.string("cache_control")) {
        if (value->empty() || !is_field_value(*value))
            config.child("cache_control")
                .error("'cache_control' must be a header value such as \"max-age=60\"");
        else
            site.cache_control = *value;
    }
    Config table = config.child("cache_control_by_extension");
    if (!table.present()) return;
    if (table.type() != PROXYD_CONFIG_TABLE) {
        table.error("'cache_control_by_extension' must be a table, e.g. { css = \"max-age=86400\" }");
        return;
    }
    for (const auto &[key, value] : table.entries()) {
        std::string extension(key);
        std::optional<std::string_view> text =
            value.type() == PROXYD_CONFIG_STRING ? value.as_string() : std::optional<std::string_view>();
        if (extension.empty() || extension.find_first_of("./") != extension.npos ||
            !is_field_value(extension))
            value.error("'" + extension + "' is not a file extension: write it without a dot, e.g. css");
        else if (!text || text->empty() || !is_field_value(*text))
            value.error("the Cache-Control of '" + extension + "' must be a non-empty header value string");
        else if (!site.cache_control_by_extension.add(extension, *text))
            value.error("extension '" + extension + "' is listed twice (extensions are case-insensitive)");
    }
}

void parse_max_ranges(const Config &config, SiteOptions &site) {
    std::optional<int64_t> limit = config.integer("max_ranges");
    if (!limit) return;
    // Far above what any client asks for; also bounds the descriptors one response holds.
    constexpr int64_t kCeiling = 1024;
    if (*limit < 0 || *limit > kCeiling)
        config.child("max_ranges")
            .error("'max_ranges' must be 0 (Range ignored) to " + std::to_string(kCeiling) +
                   ": the most ranges one request may ask for before it gets the whole file");
    else
        site.max_ranges = static_cast<size_t>(*limit);
}

void parse_root(const Config &config, SiteOptions &site) {
    Config node = config.child("root");
    if (!node.present()) {
        config.error("'root' is required: the folder to serve files from");
        return;
    }
    std::optional<std::string_view> root = node.as_string("root");
    if (!root) return;
    if (root->empty() || root->find('\0') != std::string_view::npos) {
        node.error("'root' must be a non-empty path");
        return;
    }
    std::optional<std::string> absolute = node.resolve_path(*root);
    if (!absolute) return;
    if (int error = site.root.open(*absolute, false, parse_symlinks(config)); error != 0)
        node.error("root '" + *absolute + "': " + errno_text(error));
}

void parse_mime_types(const Config &config, SiteOptions &site) {
    Config node = config.child("mime_types");
    std::optional<std::string_view> path = node.as_string("mime_types");
    if (!path) return;
    Config file = node.load_file(*path);
    if (!file.present()) return; // the core has reported why, naming the file
    site.mime = MimeTable();
    parse_mime_file(file, site.mime);
}

void parse_default_type(const Config &config, SiteOptions &site) {
    std::optional<std::string_view> type = config.string("default_type");
    if (!type) return;
    if (type->empty() || !is_field_value(*type))
        config.child("default_type").error("'default_type' must be a content type such as \"text/plain\"");
    else
        site.default_type = *type;
}

void parse_index(const Config &config, SiteOptions &site) {
    Config node = config.child("index");
    if (!node.present()) return;
    if (node.type() != PROXYD_CONFIG_ARRAY) {
        node.error("'index' must be an array of file names, e.g. [\"index.html\"]");
        return;
    }
    site.index.clear();
    for (const Config &entry : node.elements()) {
        if (entry.type() != PROXYD_CONFIG_STRING) {
            entry.error("each 'index' entry must be a file name string");
            continue;
        }
        std::string name(entry.as_string().value_or(""));
        if (name.empty() || name == "." || name == ".." ||
            name.find_first_of(std::string_view("/\0", 2)) != name.npos)
            entry.error("index '" + name + "' must be a plain file name, without '/'");
        else
            site.index.push_back(std::move(name));
    }
}

void parse_headers(const Config &config, std::vector<std::pair<std::string, std::string>> &headers) {
    Config node = config.child("headers");
    if (!node.present()) return;
    if (node.type() != PROXYD_CONFIG_TABLE) {
        node.error("'headers' must be a table of header names to values, e.g. { X-Backend = \"web1\" }");
        return;
    }
    for (const auto &[key, value] : node.entries()) {
        std::string name(key);
        bool reserved = false;
        for (std::string_view r : kReservedHeaders)
            reserved = reserved || equals_ignore_case(name, r);
        if (!sdk::is_token(name)) {
            value.error("'" + name + "' is not a valid header name");
        } else if (reserved) {
            value.error("header '" + name + "' cannot be set here: proxyd or the static plugin writes it");
        } else if (value.type() != PROXYD_CONFIG_STRING) {
            value.error("header '" + name + "' must have a string value");
        } else {
            std::string_view text = value.as_string().value_or("");
            if (!is_field_value(text))
                value.error("header '" + name + "' has a control character in its value");
            else
                headers.emplace_back(std::move(name), text);
        }
    }
}

} // namespace

HandlerConfig parse_handler_config(const Config &config) {
    HandlerConfig result;
    config.check_keys({"root", "mime_types", "default_type", "index", "headers", "allow_dotfiles",
                       "autoindex", "precompressed", "symlinks", "cache_control",
                       "cache_control_by_extension", "etag", "etag_hash_max_size", "max_ranges"});
    parse_etag(config, result.site);
    parse_root(config, result.site);
    parse_mime_types(config, result.site);
    parse_default_type(config, result.site);
    parse_index(config, result.site);
    parse_headers(config, result.headers);
    parse_cache_control(config, result.site);
    parse_max_ranges(config, result.site);
    if (std::optional<bool> allow = config.boolean("allow_dotfiles")) result.site.allow_dotfiles = *allow;
    if (std::optional<bool> listing = config.boolean("autoindex")) result.site.autoindex = *listing;
    if (std::optional<bool> siblings = config.boolean("precompressed")) result.site.precompressed = *siblings;
    return result;
}

void parse_mime_file(const Config &file, MimeTable &table) {
    for (const auto &[key, value] : file.entries())
        if (key != "types")
            value.error("unknown key '" + std::string(key) + "': a MIME file holds only a [types] table");
    Config types = file.child("types");
    if (!types.present()) {
        file.error("a MIME file needs a [types] table mapping extension to content type");
        return;
    }
    if (types.type() != PROXYD_CONFIG_TABLE) {
        types.error("'types' must be a table mapping extension to content type");
        return;
    }
    for (const auto &[key, value] : types.entries()) {
        std::string extension(key);
        if (value.type() != PROXYD_CONFIG_STRING) {
            value.error("'" + extension + "' must map to a content type string, e.g. html = \"text/html\"");
            continue;
        }
        std::string_view type = value.as_string().value_or("");
        if (extension.empty() || extension.find_first_of("./") != extension.npos ||
            !is_field_value(extension))
            value.error("'" + extension + "' is not a file extension: write it without a dot, e.g. html");
        else if (type.empty() || !is_field_value(type))
            value.error("the content type of '" + extension +
                        "' must be non-empty, without control characters");
        else if (!table.add(extension, type))
            value.error("extension '" + extension + "' is listed twice (extensions are case-insensitive)");
    }
}

} // namespace proxyd::static_files
