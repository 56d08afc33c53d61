#include "config/load_context.hpp"
#include "config/loader.hpp"

#include <algorithm>
#include <filesystem>
#include <unistd.h>

namespace proxyd {
namespace {

namespace fs = std::filesystem;

} // namespace

std::vector<std::string> ConfigLoader::plugin_candidates(const std::string &file) const {
    if (file.find('/') != std::string::npos) return {resolve_path(file)};
    std::vector<std::string> out;
    if (!plugin_dir_.empty()) out.push_back((fs::path(plugin_dir_) / file).string());
    for (const auto &dir : options_.plugin_search_path)
        out.push_back((fs::path(dir) / file).string());
    return out;
}

void ConfigLoader::load_plugins(const toml::table &t) {
    for (const auto &[key, value] : t) {
        std::string where = join_key("plugins", key.str());
        declared_plugins_.emplace(key.str());
        auto file = value.value<std::string>();
        if (!file || !value.is_string()) {
            error_at(&value, where, "must be the plugin's file name or path, a string");
            continue;
        }
        std::vector<std::string> candidates = plugin_candidates(*file);
        std::string chosen;
        for (const auto &c : candidates)
            if (chosen.empty() && ::access(c.c_str(), F_OK) == 0) chosen = c;
        if (chosen.empty()) {
            std::string tried;
            for (const auto &c : candidates)
                tried += (tried.empty() ? "" : ", ") + c;
            error_at(&value, where, "plugin file not found (looked for " + tried + ")");
            continue;
        }
        std::string why;
        auto module = load_plugin_module(std::string(key.str()), chosen, why);
        if (!module) {
            error_at(&value, where, why);
            continue;
        }
        config_->plugins.add_module(std::move(module));
    }
}

// Reads the built-in plugin set from the first folder of the search path that has one (see
// kBuiltinPluginsFile). False only for a TOML syntax error, reported alone.
bool ConfigLoader::load_builtin_set() {
    for (const auto &dir : options_.plugin_search_path) {
        std::error_code ec;
        fs::path candidate = fs::path(dir) / kBuiltinPluginsFile;
        std::string path = fs::absolute(candidate, ec).lexically_normal().string();
        if (ec) path = candidate.lexically_normal().string();
        builtin_looked_for_.push_back(path);
        if (!fs::exists(path, ec)) continue;
        std::string error;
        const toml::table *set = load_document(path, error);
        if (!set) {
            errors_.push_back(error);
            return false;
        }
        builtin_file_ = path;
        read_builtin_set(*set);
        return true;
    }
    return true;
}

// The nodes carry the built-in file's path, so every error here names that file.
void ConfigLoader::read_builtin_set(const toml::table &set) {
    check_keys(set, "", {"plugins", "defaults"});
    const fs::path folder = fs::path(builtin_file_).parent_path();
    if (const auto *plugins = typed<toml::table>(set, "plugins", "", "a table")) {
        for (const auto &[key, value] : *plugins) {
            std::string name(key.str());
            auto file = value.value<std::string>();
            if (!file || !value.is_string()) {
                error_at(&value, join_key("plugins", name),
                         "must be the plugin's file name or path, a string");
                refused_builtins_.insert(name);
                continue;
            }
            builtins_.emplace(name, BuiltinPlugin{(folder / *file).lexically_normal().string(), &value});
        }
    }
    const auto *defaults = typed<toml::table>(set, "defaults", "", "a table");
    if (!defaults) return;
    check_keys(*defaults, "defaults", {"balancer"});
    const toml::node *node = defaults->get("balancer");
    auto balancer = get_string(*defaults, "balancer", "defaults");
    if (!balancer) {
        default_balancer_refused_ = node != nullptr;
        return;
    }
    if (!builtins_.count(*balancer) && !refused_builtins_.count(*balancer)) {
        error_at(node, "defaults.balancer",
                 "'" + *balancer + "' is not a plugin of this file's [plugins] (" + builtin_names() + ")");
        default_balancer_refused_ = true;
        return;
    }
    default_balancer_ = *balancer;
    default_balancer_node_ = node;
}

// Creates an instance of the plugin named by block.plugin (or by name_node when the block is
// given as a plain string), which must be of kind expected. origin: the document's table when
// block is a copy of it (see without_filters).
PluginInstance *ConfigLoader::create_instance(const toml::node *name_node, const toml::table *block,
                                              proxyd_kind expected, const std::string &where,
                                              const toml::table *origin) {
    const std::string key = block ? join_key(where, "plugin") : where;
    auto name = name_node ? name_node->value<std::string>() : std::nullopt;
    if (!name) {
        error_at(name_node ? name_node : block, key,
                 "must name a plugin (a string): one declared in [plugins] or a built-in one");
        return nullptr;
    }
    return instantiate(*name, name_node, key, block, expected, where, "", origin);
}

// Creates an instance of plugin `name`, which must be of kind expected, from block (nullptr:
// no settings), labelled label. What is wrong with the name is reported at `at` under key,
// followed by note; what the plugin says about its settings, at block, else at `at`.
PluginInstance *ConfigLoader::instantiate(const std::string &name, const toml::node *at,
                                          const std::string &key, const toml::table *block,
                                          proxyd_kind expected, const std::string &label,
                                          const std::string &note, const toml::table *origin) {
    PluginModule *module = plugin_module(name, at, key, note);
    if (!module) return nullptr;
    const auto &d = module->descriptor();
    if (module->kind() != expected) {
        error_at(at, key,
                 "plugin '" + name + "' (" + module->path() + ", ABI " + std::to_string(d.abi_major) + "." +
                     std::to_string(d.abi_minor) + ") is a " + kind_name(module->kind()) + " plugin; a " +
                     kind_name(expected) + " plugin is needed here" + note);
        return nullptr;
    }
    const toml::node *settings = block ? static_cast<const toml::node *>(block) : at;
    // The module's name and the peers' addresses outlive the instance's creation (they live
    // with this config), so plugins may keep them (config_plugin_name, config_peer_at).
    proxyd_load_context ctx{this,
                            name,
                            settings,
                            false,
                            &module->name(),
                            expected == PROXYD_KIND_BALANCING ? balancer_peers_ : nullptr,
                            label,
                            origin};
    void *instance = nullptr;
    int rc = d.create_instance(
        options_.host, &ctx,
        reinterpret_cast<const proxyd_config_node *>(static_cast<const toml::node *>(block)), &instance);
    if (rc != PROXYD_OK || ctx.failed) {
        if (!ctx.failed)
            error_at(settings, "plugin " + name,
                     "refused its configuration (code " + std::to_string(rc) + ") without saying why");
        if (rc == PROXYD_OK && instance && d.destroy_instance) d.destroy_instance(instance);
        return nullptr;
    }
    return config_->plugins.add_instance(std::make_unique<PluginInstance>(*module, instance, label));
}

// The module a config item names: the config's own [plugins] entry, else the built-in one,
// loaded on its first use (so an unused built-in costs nothing). nullptr once the reason was
// reported, which happens once per name.
PluginModule *ConfigLoader::plugin_module(const std::string &name, const toml::node *at,
                                          const std::string &key, const std::string &note) {
    if (PluginModule *module = config_->plugins.find_module(name)) return module;
    // A declared plugin that failed to load was already reported at [plugins].
    if (declared_plugins_.count(name)) return nullptr;
    auto found = builtins_.find(name);
    if (found == builtins_.end()) {
        // A built-in entry that was refused was reported in the built-in file.
        if (!refused_builtins_.count(name)) error_at(at, key, unknown_plugin(name) + note);
        return nullptr;
    }
    BuiltinPlugin &builtin = found->second;
    if (builtin.tried) return nullptr;
    builtin.tried = true;
    std::string why;
    std::unique_ptr<PluginModule> module;
    if (::access(builtin.file.c_str(), F_OK) != 0)
        why = "plugin file not found (looked for " + builtin.file + ")";
    else
        module = load_plugin_module(name, builtin.file, why);
    if (!module) {
        error_at(at, key, "built-in plugin '" + name + "' (" + position(builtin.entry) + "): " + why + note);
        return nullptr;
    }
    return config_->plugins.add_module(std::move(module));
}

std::string ConfigLoader::unknown_plugin(const std::string &name) const {
    if (builtin_file_.empty())
        return "plugin '" + name +
               "' is not declared in [plugins], and there are no built-in plugins: " + no_builtin_set();
    return "plugin '" + name +
           "' is neither declared in [plugins] nor a built-in plugin (built-ins: " + builtin_names() + ")";
}

// Why an upstream without a balancer has none.
std::string ConfigLoader::no_default_balancer() const {
    if (builtin_file_.empty())
        return "missing, and there is no default balancer: " + no_builtin_set() +
               "; give one: balancer = \"NAME\", NAME a balancing plugin declared in [plugins]";
    return "missing, and the built-in plugin set " + builtin_file_ +
           " names no default balancer ([defaults] balancer); give one: balancer = \"NAME\", NAME a "
           "balancing plugin declared in [plugins] or built in (" +
           builtin_names() + ")";
}

std::string ConfigLoader::no_builtin_set() const {
    if (builtin_looked_for_.empty())
        return "no plugin folder to look for " + std::string(kBuiltinPluginsFile) + " in";
    std::string looked;
    for (const auto &path : builtin_looked_for_)
        looked += (looked.empty() ? "" : ", ") + path;
    return "no built-in plugin set was found (looked for " + looked + ")";
}

std::string ConfigLoader::builtin_names() const {
    std::string names;
    for (const auto &[name, _] : builtins_)
        names += (names.empty() ? "" : ", ") + name;
    return names.empty() ? "none" : names;
}

void ConfigLoader::load_handlers(const toml::table &handlers) {
    for (const auto &[name, value] : handlers)
        load_handler(std::string(name.str()), value, join_key("handlers", name.str()));
}

// One content handler, declared under [handlers] or inline as a listener's handler.
void ConfigLoader::load_handler(std::string name, const toml::node &value, const std::string &where) {
    HandlerConfig h;
    h.name = std::move(name);
    if (const auto *t = value.as_table()) {
        h.filters = load_filter_chain(*t, where);
        if (!t->get("plugin"))
            error_at(&value, where + ".plugin", "missing: name the content plugin that serves this handler");
        else
            h.instance =
                create_instance(t->get("plugin"), without_filters(*t), PROXYD_KIND_CONTENT, where, t);
    } else {
        error_at(&value, where, "must be a table with plugin = \"...\" and the plugin's settings");
    }
    config_->handlers.push_back(std::move(h));
}

// [filters.NAME]: a filter instance (plugin = "..." and the plugin's own keys) that
// listeners, upstream groups and handlers name in their `filters` arrays.
void ConfigLoader::load_filters(const toml::table &filters) {
    for (const auto &[name, value] : filters) {
        std::string where = join_key("filters", name.str());
        const auto *t = value.as_table();
        if (!t) {
            error_at(&value, where, "must be a table with plugin = \"...\" and the filter's settings");
        } else if (!t->get("plugin")) {
            error_at(&value, where + ".plugin", "missing: name the filter plugin");
        } else if (PluginInstance *instance =
                       create_instance(t->get("plugin"), t, PROXYD_KIND_FILTER, where)) {
            config_->filters.push_back(FilterConfig{std::string(name.str()), instance});
        } else {
            failed_filters_.insert(std::string(name.str()));
        }
    }
}

// The `filters` array of a listener, upstream group or handler table: names of [filters].
FilterChain ConfigLoader::load_filter_chain(const toml::table &t, const std::string &where) {
    FilterChain chain;
    const toml::node *node = t.get("filters");
    if (!node) return chain;
    const std::string key = where + ".filters";
    const auto *array = node->as_array();
    if (!array) {
        error_at(node, key, "must be an array of filter names declared in [filters], e.g. [\"auth\"]");
        return chain;
    }
    for (size_t i = 0; i < array->size(); ++i) {
        const toml::node &item = *array->get(i);
        auto name = item.value_exact<std::string>();
        if (!name) {
            error_at(&item, index_key(key, i), "must be a filter name (a string) declared in [filters]");
            continue;
        }
        auto it = std::find_if(config_->filters.begin(), config_->filters.end(),
                               [&](const FilterConfig &f) { return f.name == *name; });
        bool listed_before = false;
        for (size_t j = 0; j < i; ++j)
            listed_before = listed_before || array->get(j)->value_exact<std::string>() == name;
        if (listed_before)
            error_at(&item, index_key(key, i),
                     "filter '" + *name + "' is listed twice: it would run twice on every request");
        else if (it != config_->filters.end())
            chain.push_back(it->instance);
        else if (!failed_filters_.count(*name)) // a refused one was reported at its block
            error_at(&item, index_key(key, i), "filter '" + *name + "' is not declared in [filters]");
    }
    return chain;
}

// A handler's table as its content plugin sees it: the core's `filters` key taken out (the
// copy lives as long as the config; toml++ copies no source positions, so the plugin's
// messages take them from t, create_instance's origin).
const toml::table *ConfigLoader::without_filters(const toml::table &t) {
    if (!t.get("filters")) return &t;
    auto copy = std::make_shared<toml::table>(t);
    copy->erase("filters");
    config_->plugins.keep_document(copy);
    return copy.get();
}

// [routers.NAME]: a routing plugin instance that listeners name (router = "NAME"), so a
// router table is never attached to a listener by its place in the file.
void ConfigLoader::load_routers(const toml::table &routers) {
    for (const auto &[name, value] : routers) {
        std::string where = join_key("routers", name.str());
        const auto *t = value.as_table();
        if (!t) {
            error_at(&value, where, "must be a table with plugin = \"...\" and its settings");
        } else if (!t->get("plugin")) {
            error_at(&value, where + ".plugin", "missing: name the routing plugin");
        } else {
            named_routers_.emplace_back(std::string(name.str()),
                                        create_instance(t->get("plugin"), t, PROXYD_KIND_ROUTING, where));
        }
    }
}

} // namespace proxyd
