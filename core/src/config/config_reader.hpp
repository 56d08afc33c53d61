// Reads typed values out of a TOML table and reports what is wrong with them at their place in
// the file ("conf.toml:12:5: upstreams.api.keepalive: must be an integer"), collecting every error
// so that one run of `proxyd -t` shows them all.
#pragma once

#include "config/duration.hpp"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

namespace proxyd {

// "parent.key", or "key" at the top.
std::string join_key(const std::string &parent, std::string_view key);
// "parent[index]".
std::string index_key(const std::string &parent, size_t index);

class ConfigReader {
  public:
    // config_path names the file for nodes that carry no source of their own.
    ConfigReader(std::string config_path, std::vector<std::string> &errors)
        : errors_(errors), config_path_(std::move(config_path)) {}

    void error_at(const toml::node *node, const std::string &key, const std::string &message);
    // At a region that is no node's, such as a key's.
    void error_at(const toml::source_region &where, const std::string &message);

    const std::string &config_path() const { return config_path_; }

  protected:
    // "file:line:column" of node; the config's path for nullptr.
    std::string position(const toml::node *node) const;
    // Reports every key of table not in allowed, at the key; false when there was one.
    bool check_keys(const toml::table &table, const std::string &where,
                    std::initializer_list<std::string_view> allowed);

    // The value at key when it has type T; nullptr when absent, or reported when of another type.
    template <class T>
    const T *typed(const toml::table &table, std::string_view key, const std::string &where,
                   const char *expected) {
        const toml::node *node = table.get(key);
        if (!node) return nullptr;
        if (const T *v = node->as<T>()) return v;
        error_at(node, join_key(where, key), std::string("must be ") + expected);
        return nullptr;
    }
    std::optional<std::string> get_string(const toml::table &t, std::string_view key,
                                          const std::string &where);
    // An OpenSSL list (ciphers, ciphersuites, groups): "" would silently mean the defaults, which
    // leaving the key out already says; so an empty one is an error at its key.
    std::string get_openssl_list(const toml::table &t, std::string_view key, const std::string &where);
    std::optional<bool> get_bool(const toml::table &t, std::string_view key, const std::string &where);
    std::optional<int64_t> get_int(const toml::table &t, std::string_view key, const std::string &where,
                                   int64_t min, int64_t max);
    // True when key was given and set out. "0s" only where zero means something (allow_zero).
    bool get_duration(const toml::table &t, std::string_view key, const std::string &where,
                      std::chrono::milliseconds &out, bool allow_zero = false);

    std::vector<std::string> &errors_;

  private:
    std::string config_path_;
};

} // namespace proxyd
