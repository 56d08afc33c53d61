#include "config/config_loader.hpp"

#include "config/admin_token_file.hpp"
#include "config/block_place.hpp"
#include "config/config_assembly.hpp"
#include "config/duration.hpp"
#include "config/load_context.hpp"
#include "config/loader.hpp"
#include "http/header_rules.hpp"
#include "log/logger.hpp"
#include "net/net_address.hpp"
#include "tls/certificate_check.hpp"

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <thread>

namespace proxyd {
namespace {

namespace fs = std::filesystem;

// The keys of [limits], and of a listener's own limits table (which refuses the process-wide ones
// by name, to say why).
const std::initializer_list<std::string_view> kLimitsKeys = {
    "max_header_size",   "max_headers",        "max_body_size",     "header_timeout", "body_timeout",
    "keepalive_timeout", "send_timeout",       "shutdown_timeout",  "drain_timeout",  "max_connections",
    "allow_bare_lf",     "keepalive_requests", "handshake_timeout", "filter_timeout"};

} // namespace

ConfigLoader::ConfigLoader(const std::string &path, const LoadOptions &options,
                           std::vector<std::string> &errors)
    : ConfigReader(fs::absolute(path).lexically_normal().string(), errors), options_(options),
      config_(std::make_unique<Config>()) {
    config_->path = config_path();
    config_dir_ = fs::path(config_->path).parent_path().string();
}

std::unique_ptr<Config> ConfigLoader::run() {
    // The built-in set is read first and alone: a syntax error in it is the only error shown.
    if (!load_builtin_set()) return nullptr;
    // The file with what it includes and its [defaults] filled in (config_assembly.hpp).
    std::shared_ptr<toml::table> document = assemble_config(config_->path, errors_);
    if (!document) return nullptr;
    config_->plugins.keep_document(document);
    load_root(*document);
    if (!errors_.empty()) return nullptr;
    return std::move(config_);
}

std::string ConfigLoader::resolve_path(std::string_view p) const {
    fs::path path(p);
    if (path.is_relative()) path = fs::path(config_dir_) / path;
    return path.lexically_normal().string();
}

const toml::table *ConfigLoader::load_document(const std::string &path, std::string &error) {
    // toml++ reads a folder (an empty path names the config's own) as an empty document, and
    // says no more than "could not be opened" of a file it cannot open.
    if (std::string problem = check_readable(path); !problem.empty()) {
        error = problem;
        return nullptr;
    }
    auto document = std::make_shared<toml::table>();
    try {
        *document = toml::parse_file(path);
    } catch (const toml::parse_error &e) {
        error = path + ":" + std::to_string(e.source().begin.line) + ":" +
                std::to_string(e.source().begin.column) + ": " + std::string(e.description());
        return nullptr;
    }
    config_->plugins.keep_document(document);
    return document.get();
}

bool ConfigLoader::find_target(proxyd_target_kind kind, std::string_view name, uint32_t &id) const {
    if (kind == PROXYD_TARGET_UPSTREAM) {
        for (size_t i = 0; i < upstream_names_.size(); ++i)
            if (upstream_names_[i] == name)
                return id = Target{Target::Kind::Upstream, uint32_t(i)}.to_id(), true;
    } else if (kind == PROXYD_TARGET_HANDLER) {
        for (size_t i = 0; i < handler_names_.size(); ++i)
            if (handler_names_[i] == name)
                return id = Target{Target::Kind::Handler, uint32_t(i)}.to_id(), true;
    }
    return false;
}

void ConfigLoader::load_root(const toml::table &root) {
    check_keys(root, "",
               {"workers", "plugin_dir", "log", "limits", "admin", "plugins", "handlers", "upstreams",
                "routers", "listeners", "resolver", "filters"});
    load_workers(root);
    if (auto dir = get_string(root, "plugin_dir", "")) {
        plugin_dir_ = resolve_path(*dir);
        // Searched first for every plugin: a misspelt folder would quietly fall through to the others.
        std::error_code ec;
        if (!fs::is_directory(plugin_dir_, ec))
            error_at(root.get("plugin_dir"), "plugin_dir",
                     plugin_dir_ + ": " + (fs::exists(plugin_dir_, ec) ? "not a folder" : "no such folder"));
    }
    if (const auto *log = typed<toml::table>(root, "log", "", "a table")) load_log(*log);
    if (const auto *limits = typed<toml::table>(root, "limits", "", "a table")) load_limits(*limits);
    if (const auto *resolver = typed<toml::table>(root, "resolver", "", "a table")) load_resolver(*resolver);
    if (const auto *plugins = typed<toml::table>(root, "plugins", "", "a table")) load_plugins(*plugins);

    const auto *handlers = typed<toml::table>(root, "handlers", "", "a table");
    const auto *upstreams = typed<toml::table>(root, "upstreams", "", "a table");
    // Names first, so routes may point at targets declared later in the file.
    if (handlers)
        for (const auto &[name, _] : *handlers)
            handler_names_.emplace_back(name.str());
    if (upstreams)
        for (const auto &[name, _] : *upstreams)
            upstream_names_.emplace_back(name.str());
    for (const auto &h : handler_names_)
        for (const auto &u : upstream_names_)
            if (h == u)
                error_at(upstreams->get(u), "upstreams." + u,
                         "an upstream and a handler are both named '" + u + "'; names must be unique");
    // Filters before the chains that name them; they may resolve targets, known by now.
    if (const auto *filters = typed<toml::table>(root, "filters", "", "a table")) load_filters(*filters);
    if (upstreams) load_upstreams(*upstreams);
    if (handlers) load_handlers(*handlers);
    if (const auto *routers = typed<toml::table>(root, "routers", "", "a table")) load_routers(*routers);

    const toml::node *listeners = root.get("listeners");
    if (!listeners) {
        error_at(nullptr, "listeners", "no [[listeners]] declared: nothing to serve");
    } else if (const auto *array = listeners->as_array()) {
        for (size_t i = 0; i < array->size(); ++i) {
            if (const auto *t = (*array)[i].as_table())
                load_listener(*t, index_key("listeners", i));
            else
                error_at(&(*array)[i], index_key("listeners", i), "must be a table ([[listeners]])");
        }
        if (array->empty()) error_at(listeners, "listeners", "no listener declared: nothing to serve");
        share_client_cert_field_names();
    } else {
        error_at(listeners, "listeners", "must be an array of tables ([[listeners]])");
    }
    if (const auto *admin = typed<toml::table>(root, "admin", "", "a table")) load_admin(*admin);
}

// Every listener removes the client-certificate fields any listener forwards: a backend behind
// an mTLS listener and a plain one would otherwise take a forged field from the plain one.
void ConfigLoader::share_client_cert_field_names() {
    std::vector<std::string> names;
    for (const auto &l : config_->listeners)
        for (const std::string *name : {&l.client_cert_headers.subject, &l.client_cert_headers.fingerprint,
                                        &l.client_cert_headers.verify})
            if (!name->empty() && std::none_of(names.begin(), names.end(),
                                               [&](const std::string &n) { return iequals(n, *name); }))
                names.push_back(*name);
    for (auto &l : config_->listeners)
        l.client_cert_fields_removed = names;
}

void ConfigLoader::load_workers(const toml::table &root) {
    const toml::node *node = root.get("workers");
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    config_->workers = cores;
    if (!node) return;
    if (auto s = node->value<std::string>(); s && *s == "auto") return;
    if (auto n = node->as_integer(); n && n->get() >= 1 && n->get() <= 256) {
        config_->workers = static_cast<unsigned>(n->get());
        return;
    }
    error_at(node, "workers", "must be an integer from 1 to 256, or \"auto\" (one per core)");
}

void ConfigLoader::load_log(const toml::table &t) {
    check_keys(t, "log", {"access", "access_format", "error", "level"});
    // A path is checked now, so that `proxyd -t` refuses what the start would fail to open.
    auto log_file = [&](std::string_view key, std::string &out, std::string_view choices) {
        out = resolve_path(out);
        if (std::string problem = LogFile::check_path(out); !problem.empty())
            error_at(t.get(key), join_key("log", key), problem + " (" + std::string(choices) + ")");
    };
    if (auto access = get_string(t, "access", "log")) {
        config_->log.access = *access;
        if (*access != "stderr" && *access != "off")
            log_file("access", config_->log.access, "\"stderr\", \"off\" or a file");
    }
    if (auto error = get_string(t, "error", "log")) {
        config_->log.error = *error;
        if (*error != "stderr") log_file("error", config_->log.error, "\"stderr\" or a file");
    }
    if (auto level = get_string(t, "level", "log")) {
        static constexpr std::string_view names[] = {"error", "warn", "info", "debug"};
        int found = -1;
        for (int i = 0; i < 4; ++i)
            if (names[i] == *level) found = i;
        if (found < 0)
            error_at(t.get("level"), "log.level", "must be one of error, warn, info, debug");
        else
            config_->log.level = found;
    }
    if (auto format = get_string(t, "access_format", "log")) {
        if (*format == "combined")
            config_->log.access_format = AccessFormat::Combined;
        else if (*format == "json")
            config_->log.access_format = AccessFormat::Json;
        else
            error_at(t.get("access_format"), "log.access_format", "must be \"combined\" or \"json\"");
    }
}

void ConfigLoader::load_limits(const toml::table &t) {
    const std::string w = "limits";
    check_keys(t, w, kLimitsKeys);
    auto &l = config_->limits;
    load_connection_limits(t, w, l);
    if (auto v = get_int(t, "max_connections", w, 1, 1 << 20)) l.max_connections = uint32_t(*v);
    get_duration(t, "shutdown_timeout", w, l.shutdown_timeout);
    load_drain_timeout(t, l);
}

// The [limits] keys of one client connection: a listener's own `limits` table may set these.
void ConfigLoader::load_connection_limits(const toml::table &t, const std::string &w, LimitsConfig &l) {
    if (auto v = get_int(t, "max_header_size", w, 1024, 1 << 24)) l.max_header_bytes = size_t(*v);
    if (auto v = get_int(t, "max_headers", w, 1, 10000)) l.max_headers = uint32_t(*v);
    if (auto v = get_int(t, "max_body_size", w, 0, INT64_MAX)) l.max_body_bytes = uint64_t(*v);
    if (auto v = get_bool(t, "allow_bare_lf", w)) l.allow_bare_lf = *v;
    if (auto v = get_int(t, "keepalive_requests", w, 0, UINT32_MAX)) l.keepalive_requests = uint32_t(*v);
    get_duration(t, "header_timeout", w, l.header_timeout);
    get_duration(t, "handshake_timeout", w, l.handshake_timeout);
    get_duration(t, "body_timeout", w, l.body_timeout);
    get_duration(t, "keepalive_timeout", w, l.keepalive_timeout);
    get_duration(t, "send_timeout", w, l.send_timeout);
    get_duration(t, "filter_timeout", w, l.filter_timeout);
}

// A listener's limits: [limits], with what its own `limits` table sets (nginx sets these per
// server, HAProxy per frontend). The process-wide keys are refused there, by name.
void ConfigLoader::load_listener_limits(const toml::table &t, const std::string &where, ListenerConfig &l) {
    l.limits = config_->limits;
    const auto *own = typed<toml::table>(t, "limits", where, "a table");
    if (!own) return;
    const std::string w = where + ".limits";
    for (const auto &[key, value] : *own) {
        std::string_view name = key.str();
        if (name == "shutdown_timeout" || name == "drain_timeout" || name == "max_connections")
            error_at(&value, w + "." + std::string(name),
                     "is process-wide: set it in [limits], not per listener");
    }
    // The same names as [limits]: the process-wide ones were refused above, by name.
    check_keys(*own, w, kLimitsKeys);
    load_connection_limits(*own, w, l.limits);
}

// The drain window is spent inside the shutdown grace period, so it cannot be longer. Left
// out, it is the default capped at shutdown_timeout: a config that only shortened
// shutdown_timeout below the default drain window stays valid.
void ConfigLoader::load_drain_timeout(const toml::table &t, LimitsConfig &l) {
    if (!t.get("drain_timeout")) {
        l.drain_timeout = std::min(l.drain_timeout, l.shutdown_timeout);
        return;
    }
    Duration drain{};
    if (!get_duration(t, "drain_timeout", "limits", drain)) return;
    if (drain > l.shutdown_timeout) {
        const toml::node *node = t.get("drain_timeout");
        error_at(node, "limits.drain_timeout",
                 "\"" + *node->value<std::string>() + "\" is longer than limits.shutdown_timeout (" +
                     duration_text(l.shutdown_timeout) +
                     "); the drain window is part of that grace period and must fit in it");
        return;
    }
    l.drain_timeout = drain;
}

void ConfigLoader::load_resolver(const toml::table &t) {
    check_keys(t, "resolver", {"servers", "timeout", "tries"});
    auto &r = config_->resolver;
    get_duration(t, "timeout", "resolver", r.timeout);
    if (auto v = get_int(t, "tries", "resolver", 1, 10)) r.tries = uint32_t(*v);
    const auto *servers = typed<toml::array>(t, "servers", "resolver", "an array such as [\"127.0.0.1:53\"]");
    if (!servers) return;
    for (size_t i = 0; i < servers->size(); ++i) {
        const toml::node &n = *servers->get(i);
        auto text = n.value<std::string>();
        NetAddress address;
        std::string why;
        std::string host = text ? authority_host(*text) : std::string();
        if (!text || !n.is_string() || !is_ip_literal(host) || !parse_net_address(*text, address, why)) {
            error_at(&n, index_key("resolver.servers", i),
                     "a DNS server is an IP address and port: \"127.0.0.1:53\" or \"[::1]:53\"");
            continue;
        }
        r.servers.push_back(*text);
    }
}

void ConfigLoader::load_admin(const toml::table &t) {
    check_keys(t, "admin", {"listen", "allow_remote", "token_file", "token"});
    auto &a = config_->admin;
    if (t.get("token"))
        error_at(t.get("token"), "admin.token",
                 "not supported: put the token in a file of its own and name it in admin.token_file, "
                 "so the secret stays out of the config");
    if (auto v = get_bool(t, "allow_remote", "admin")) a.allow_remote = *v;
    bool token_refused = false;
    if (auto file = get_string(t, "token_file", "admin")) {
        AdminTokenRead read = read_admin_token_file(resolve_path(*file));
        if (!read.error.empty()) error_at(t.get("token_file"), "admin.token_file", read.error);
        token_refused = !read.error.empty();
        a.token = std::move(read.token);
    }
    auto listen = get_string(t, "listen", "admin");
    if (!listen) {
        if (!t.get("listen"))
            error_at(&t, "admin.listen", "missing: the address to listen on, e.g. \"127.0.0.1:18001\"");
        return;
    }
    std::string why;
    if (!parse_net_address(*listen, a.address, why)) {
        error_at(t.get("listen"), "admin.listen", "\"" + *listen + "\": " + why);
        return;
    }
    // The pages name every backend and config path: not for the world unless asked for, and
    // never without a token.
    if (!a.address.is_loopback() && !a.allow_remote) {
        error_at(t.get("listen"), "admin.listen",
                 "\"" + *listen +
                     "\" is not a loopback address; set admin.allow_remote = true and admin.token_file "
                     "to expose the admin pages beyond this host");
        return;
    }
    // allow_remote without a token loaded before token_file existed: it stays the operator's
    // explicit choice (as nginx's stub_status behind allow/deny), with a warning, rather
    // than a start or reload that fails after an upgrade.
    if (!a.address.is_loopback() && a.token.empty() && !token_refused)
        config_->warnings.push_back(position(t.get("allow_remote")) + ": admin.allow_remote: \"" + *listen +
                                    "\" is beyond this host without admin.token_file: anyone who reaches "
                                    "it reads the pages; set admin.token_file");
    else if (!a.address.is_loopback())
        config_->warnings.push_back(
            position(t.get("listen")) + ": admin.listen: \"" + *listen +
            "\" is reached over plain HTTP: the token and the pages cross the network "
            "readable; keep it on a trusted network or reach it through a tunnel");
    for (const auto &l : config_->listeners)
        if (l.address == a.address) {
            error_at(t.get("listen"), "admin.listen",
                     "\"" + *listen + "\" is already used by listener '" + l.name + "'");
            return;
        }
    a.listen_text = *listen;
    a.listen_at = position(t.get("listen")) + ": admin.listen";
    a.enabled = true;
}

// -- the plugin host's config calls (load_context.hpp) --

namespace {

ConfigLoader &loader_of(proxyd_load_context &ctx) { return *static_cast<ConfigLoader *>(ctx.loader); }

bool has_position(const toml::source_region &where) { return where.begin.line != 0; }

// What a plugin reports is shown under the dotted key of the node it names, at that node's
// place in the file (the original's, when the plugin was handed a copy of its block).
void report_in_block(proxyd_load_context &ctx, const toml::node *node, bool at_key,
                     const std::string &message) {
    ctx.failed = true;
    const toml::node *target = node ? node : ctx.block;
    BlockPlace place = ctx.block && target ? find_in_block(*ctx.block, ctx.origin, target) : BlockPlace{};
    // A node outside the block (a file the plugin loaded) keeps its own position under the block's key.
    std::string key = join_block_path(ctx.where, place.path);
    std::string text = "plugin " + ctx.plugin_name + ": " + message;
    const toml::key *holder = place.key && has_position(place.key->source()) ? place.key : place.original_key;
    if (at_key && holder && has_position(holder->source())) {
        loader_of(ctx).error_at(holder->source(), (key.empty() ? "" : key + ": ") + text);
        return;
    }
    const toml::node *positioned = target;
    if (!target || !has_position(target->source()))
        positioned = place.original ? place.original : ctx.origin ? ctx.origin : target;
    loader_of(ctx).error_at(positioned, key, text);
}

} // namespace

void load_context_error(proxyd_load_context &ctx, const toml::node *node, const std::string &message) {
    report_in_block(ctx, node, false, message);
}
void load_context_error_at_key(proxyd_load_context &ctx, const toml::node *node, const std::string &message) {
    report_in_block(ctx, node, true, message);
}
std::string load_context_resolve_path(proxyd_load_context &ctx, std::string_view path) {
    return loader_of(ctx).resolve_path(path);
}
const toml::table *load_context_document(proxyd_load_context &ctx, const std::string &path,
                                         std::string &error) {
    return loader_of(ctx).load_document(path, error);
}
bool load_context_find_target(proxyd_load_context &ctx, proxyd_target_kind kind, std::string_view name,
                              uint32_t &id) {
    return loader_of(ctx).find_target(kind, name, id);
}

std::unique_ptr<Config> load_config(const std::string &path, const LoadOptions &options,
                                    std::vector<std::string> &errors) {
    ConfigLoader loader(path, options, errors);
    return loader.run();
}

} // namespace proxyd
