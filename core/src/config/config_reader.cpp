#include "config/config_reader.hpp"

#include "config/duration.hpp"

namespace proxyd {

std::string join_key(const std::string &parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_key(const std::string &parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

void ConfigReader::error_at(const toml::node *node, const std::string &key, const std::string &message) {
    errors_.push_back(position(node) + ": " + (key.empty() ? "" : key + ": ") + message);
}

void ConfigReader::error_at(const toml::source_region &where, const std::string &message) {
    errors_.push_back((where.path ? *where.path : config_path_) + ":" + std::to_string(where.begin.line) +
                      ":" + std::to_string(where.begin.column) + ": " + message);
}

std::string ConfigReader::position(const toml::node *node) const {
    if (!node) return config_path_;
    const auto &src = node->source();
    std::string file = src.path ? *src.path : config_path_;
    return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

bool ConfigReader::check_keys(const toml::table &table, const std::string &where,
                              std::initializer_list<std::string_view> allowed) {
    bool ok = true;
    for (const auto &[key, value] : table) {
        bool known = false;
        for (auto a : allowed)
            known = known || a == key.str();
        if (!known) {
            // The key's own position: for a long value the value's would point past it.
            error_at(key.source(), join_key(where, key.str()) + ": unknown key");
            (void)value;
            ok = false;
        }
    }
    return ok;
}

std::optional<std::string> ConfigReader::get_string(const toml::table &t, std::string_view key,
                                                    const std::string &where) {
    auto *v = typed<toml::value<std::string>>(t, key, where, "a string");
    return v ? std::optional<std::string>(v->get()) : std::nullopt;
}

std::string ConfigReader::get_openssl_list(const toml::table &t, std::string_view key,
                                           const std::string &where) {
    std::optional<std::string> list = get_string(t, key, where);
    if (list && list->empty())
        error_at(t.get(key), join_key(where, key), "is empty: leave the key out for the defaults");
    return list.value_or("");
}

std::optional<bool> ConfigReader::get_bool(const toml::table &t, std::string_view key,
                                           const std::string &where) {
    auto *v = typed<toml::value<bool>>(t, key, where, "a boolean (true or false)");
    return v ? std::optional<bool>(v->get()) : std::nullopt;
}

std::optional<int64_t> ConfigReader::get_int(const toml::table &t, std::string_view key,
                                             const std::string &where, int64_t min, int64_t max) {
    auto *v = typed<toml::value<int64_t>>(t, key, where, "an integer");
    if (!v) return std::nullopt;
    if (v->get() < min || v->get() > max) {
        error_at(v, join_key(where, key),
                 "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return std::nullopt;
    }
    return v->get();
}

bool ConfigReader::get_duration(const toml::table &t, std::string_view key, const std::string &where,
                                std::chrono::milliseconds &out, bool allow_zero) {
    auto text = get_string(t, key, where);
    if (!text) return false;
    auto d = parse_duration(*text);
    if (!d || (d->count() == 0 && !allow_zero)) {
        error_at(t.get(key), join_key(where, key),
                 "\"" + *text + "\" " +
                     (d ? "is no time: give one longer than 0s"
                        : "is not a duration from 1ms to a year, 8760h (examples: \"500ms\", \"5s\", \"2m\", "
                          "\"1h\")"));
        return false;
    }
    out = *d;
    return true;
}

} // namespace proxyd
