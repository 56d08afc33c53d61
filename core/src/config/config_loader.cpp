#include "config/config_loader.hpp"

#include "config/admin_token_file.hpp"
#include "config/block_place.hpp"
#include "config/config_assembly.hpp"
#include "config/duration.hpp"
#include "config/load_context.hpp"
#include "http/byte_classes.hpp"
#include "http/header_rules.hpp"
#include "http/strict_transport_security.hpp"
#include "log/logger.hpp"
#include "tls/certificate_check.hpp"
#include "tls/ocsp_staple.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <set>
#include <thread>
#include <toml++/toml.h>
#include <tuple>
#include <unistd.h>

namespace proxyd {
namespace {

namespace fs = std::filesystem;

std::string join_key(const std::string &parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}
std::string index_key(const std::string &parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

// The keys of [limits], and of a listener's own limits table (which refuses the process-wide ones
// by name, to say why).
const std::initializer_list<std::string_view> kLimitsKeys = {
    "max_header_size",   "max_headers",        "max_body_size",     "header_timeout", "body_timeout",
    "keepalive_timeout", "send_timeout",       "shutdown_timeout",  "drain_timeout",  "max_connections",
    "allow_bare_lf",     "keepalive_requests", "handshake_timeout", "filter_timeout"};

// The host of "host:port" or "[v6]:port".
std::string peer_host(std::string_view authority) {
    if (authority.starts_with("[")) return std::string(authority.substr(1, authority.find(']') - 1));
    return std::string(authority.substr(0, authority.rfind(':')));
}

bool is_ip_literal(const std::string &host) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A duration as a config would write it: "10s", "1500ms".
std::string duration_text(Duration d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

class Loader {
  public:
    Loader(const std::string &path, const LoadOptions &options, std::vector<std::string> &errors)
        : options_(options), errors_(errors) {
        config_ = std::make_unique<Config>();
        config_->path = fs::absolute(path).lexically_normal().string();
        config_dir_ = fs::path(config_->path).parent_path().string();
    }

    std::unique_ptr<Config> run() {
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

    // -- used by the plugin host's config calls (load_context.hpp) --
    void error_at(const toml::node *node, const std::string &key, const std::string &message) {
        errors_.push_back(position(node) + ": " + (key.empty() ? "" : key + ": ") + message);
    }
    // At a region that is no node's, such as a key's.
    void error_at(const toml::source_region &where, const std::string &message) {
        errors_.push_back((where.path ? *where.path : config_->path) + ":" + std::to_string(where.begin.line) + ":" +
                          std::to_string(where.begin.column) + ": " + message);
    }
    std::string resolve_path(std::string_view p) const {
        fs::path path(p);
        if (path.is_relative()) path = fs::path(config_dir_) / path;
        return path.lexically_normal().string();
    }
    const toml::table *load_document(const std::string &path, std::string &error) {
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
            error = path + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                    ": " + std::string(e.description());
            return nullptr;
        }
        config_->plugins.keep_document(document);
        return document.get();
    }
    bool find_target(proxyd_target_kind kind, std::string_view name, uint32_t &id) const {
        if (kind == PROXYD_TARGET_UPSTREAM) {
            for (size_t i = 0; i < upstream_names_.size(); ++i)
                if (upstream_names_[i] == name) return id = Target{Target::Kind::Upstream, uint32_t(i)}.to_id(), true;
        } else if (kind == PROXYD_TARGET_HANDLER) {
            for (size_t i = 0; i < handler_names_.size(); ++i)
                if (handler_names_[i] == name) return id = Target{Target::Kind::Handler, uint32_t(i)}.to_id(), true;
        }
        return false;
    }

  private:
    std::string position(const toml::node *node) const {
        if (!node) return config_->path;
        const auto &src = node->source();
        std::string file = src.path ? *src.path : config_->path;
        return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
    }

    bool check_keys(const toml::table &table, const std::string &where, std::initializer_list<std::string_view> allowed) {
        bool ok = true;
        for (const auto &[key, value] : table) {
            bool known = false;
            for (auto a : allowed) known = known || a == key.str();
            if (!known) {
                // The key's own position: for a long value the value's would point past it.
                const auto &src = key.source();
                std::string file = src.path ? *src.path : config_->path;
                errors_.push_back(file + ":" + std::to_string(src.begin.line) + ":" +
                                  std::to_string(src.begin.column) + ": " + join_key(where, key.str()) +
                                  ": unknown key");
                (void)value;
                ok = false;
            }
        }
        return ok;
    }

    template <class T> const T *typed(const toml::table &table, std::string_view key, const std::string &where,
                                      const char *expected) {
        const toml::node *node = table.get(key);
        if (!node) return nullptr;
        if (const T *v = node->as<T>()) return v;
        error_at(node, join_key(where, key), std::string("must be ") + expected);
        return nullptr;
    }
    std::optional<std::string> get_string(const toml::table &t, std::string_view key, const std::string &where) {
        auto *v = typed<toml::value<std::string>>(t, key, where, "a string");
        return v ? std::optional<std::string>(v->get()) : std::nullopt;
    }
    // An OpenSSL list (ciphers, ciphersuites, groups): "" would silently mean the defaults, which
    // leaving the key out already says; so an empty one is an error at its key.
    std::string get_openssl_list(const toml::table &t, std::string_view key, const std::string &where) {
        std::optional<std::string> list = get_string(t, key, where);
        if (list && list->empty())
            error_at(t.get(key), join_key(where, key), "is empty: leave the key out for the defaults");
        return list.value_or("");
    }
    std::optional<bool> get_bool(const toml::table &t, std::string_view key, const std::string &where) {
        auto *v = typed<toml::value<bool>>(t, key, where, "a boolean (true or false)");
        return v ? std::optional<bool>(v->get()) : std::nullopt;
    }
    std::optional<int64_t> get_int(const toml::table &t, std::string_view key, const std::string &where,
                                   int64_t min, int64_t max) {
        auto *v = typed<toml::value<int64_t>>(t, key, where, "an integer");
        if (!v) return std::nullopt;
        if (v->get() < min || v->get() > max) {
            error_at(v, join_key(where, key),
                     "must be between " + std::to_string(min) + " and " + std::to_string(max));
            return std::nullopt;
        }
        return v->get();
    }
    // True when key was given and set out. "0s" only where zero means something (allow_zero).
    bool get_duration(const toml::table &t, std::string_view key, const std::string &where, Duration &out,
                      bool allow_zero = false) {
        auto text = get_string(t, key, where);
        if (!text) return false;
        auto d = parse_duration(*text);
        if (!d || (d->count() == 0 && !allow_zero)) {
            error_at(
                t.get(key), join_key(where, key),
                "\"" + *text + "\" " +
                    (d ? "is no time: give one longer than 0s"
                       : "is not a duration from 1ms to a year, 8760h (examples: \"500ms\", \"5s\", \"2m\", "
                         "\"1h\")"));
            return false;
        }
        out = *d;
        return true;
    }

    void load_root(const toml::table &root) {
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
                         plugin_dir_ + ": " +
                             (fs::exists(plugin_dir_, ec) ? "not a folder" : "no such folder"));
        }
        if (const auto *log = typed<toml::table>(root, "log", "", "a table")) load_log(*log);
        if (const auto *limits = typed<toml::table>(root, "limits", "", "a table")) load_limits(*limits);
        if (const auto *resolver = typed<toml::table>(root, "resolver", "", "a table"))
            load_resolver(*resolver);
        if (const auto *plugins = typed<toml::table>(root, "plugins", "", "a table")) load_plugins(*plugins);

        const auto *handlers = typed<toml::table>(root, "handlers", "", "a table");
        const auto *upstreams = typed<toml::table>(root, "upstreams", "", "a table");
        // Names first, so routes may point at targets declared later in the file.
        if (handlers)
            for (const auto &[name, _] : *handlers) handler_names_.emplace_back(name.str());
        if (upstreams)
            for (const auto &[name, _] : *upstreams) upstream_names_.emplace_back(name.str());
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
    void share_client_cert_field_names() {
        std::vector<std::string> names;
        for (const auto &l : config_->listeners)
            for (const std::string *name :
                 {&l.client_cert_headers.subject, &l.client_cert_headers.fingerprint,
                  &l.client_cert_headers.verify})
                if (!name->empty() && std::none_of(names.begin(), names.end(),
                                                   [&](const std::string &n) { return iequals(n, *name); }))
                    names.push_back(*name);
        for (auto &l : config_->listeners)
            l.client_cert_fields_removed = names;
    }

    void load_resolver(const toml::table &t) {
        check_keys(t, "resolver", {"servers", "timeout", "tries"});
        auto &r = config_->resolver;
        get_duration(t, "timeout", "resolver", r.timeout);
        if (auto v = get_int(t, "tries", "resolver", 1, 10)) r.tries = uint32_t(*v);
        const auto *servers =
            typed<toml::array>(t, "servers", "resolver", "an array such as [\"127.0.0.1:53\"]");
        if (!servers) return;
        for (size_t i = 0; i < servers->size(); ++i) {
            const toml::node &n = *servers->get(i);
            auto text = n.value<std::string>();
            NetAddress address;
            std::string why;
            std::string host = text ? peer_host(*text) : std::string();
            if (!text || !n.is_string() || !is_ip_literal(host) || !parse_net_address(*text, address, why)) {
                error_at(&n, index_key("resolver.servers", i),
                         "a DNS server is an IP address and port: \"127.0.0.1:53\" or \"[::1]:53\"");
                continue;
            }
            r.servers.push_back(*text);
        }
    }

    void load_admin(const toml::table &t) {
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
            config_->warnings.push_back(position(t.get("allow_remote")) + ": admin.allow_remote: \"" +
                                        *listen +
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

    void load_workers(const toml::table &root) {
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

    void load_log(const toml::table &t) {
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
            if (found < 0) error_at(t.get("level"), "log.level", "must be one of error, warn, info, debug");
            else config_->log.level = found;
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

    void load_limits(const toml::table &t) {
        const std::string w = "limits";
        check_keys(t, w, kLimitsKeys);
        auto &l = config_->limits;
        load_connection_limits(t, w, l);
        if (auto v = get_int(t, "max_connections", w, 1, 1 << 20)) l.max_connections = uint32_t(*v);
        get_duration(t, "shutdown_timeout", w, l.shutdown_timeout);
        load_drain_timeout(t, l);
    }

    // The [limits] keys of one client connection: a listener's own `limits` table may set these.
    void load_connection_limits(const toml::table &t, const std::string &w, LimitsConfig &l) {
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
    void load_listener_limits(const toml::table &t, const std::string &where, ListenerConfig &l) {
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

    // A connection beyond keepalive waits at most as long as one within it. Left out, the default
    // capped at keepalive_timeout, as for drain_timeout below.
    void load_surplus_timeout(const toml::table &t, const std::string &where, UpstreamConfig &u) {
        Duration surplus{};
        if (!get_duration(t, "keepalive_surplus_timeout", where, surplus, true)) {
            u.keepalive_surplus_timeout = std::min(u.keepalive_surplus_timeout, u.keepalive_timeout);
            return;
        }
        if (surplus > u.keepalive_timeout) {
            const toml::node *node = t.get("keepalive_surplus_timeout");
            error_at(node, where + ".keepalive_surplus_timeout",
                     "\"" + *node->value<std::string>() + "\" is longer than keepalive_timeout (" +
                         duration_text(u.keepalive_timeout) +
                         "); a connection beyond keepalive must not wait longer than one within it");
            return;
        }
        u.keepalive_surplus_timeout = surplus;
    }

    // The drain window is spent inside the shutdown grace period, so it cannot be longer. Left
    // out, it is the default capped at shutdown_timeout: a config that only shortened
    // shutdown_timeout below the default drain window stays valid.
    void load_drain_timeout(const toml::table &t, LimitsConfig &l) {
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

    std::vector<std::string> plugin_candidates(const std::string &file) const {
        if (file.find('/') != std::string::npos) return {resolve_path(file)};
        std::vector<std::string> out;
        if (!plugin_dir_.empty()) out.push_back((fs::path(plugin_dir_) / file).string());
        for (const auto &dir : options_.plugin_search_path) out.push_back((fs::path(dir) / file).string());
        return out;
    }

    void load_plugins(const toml::table &t) {
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
                for (const auto &c : candidates) tried += (tried.empty() ? "" : ", ") + c;
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
    bool load_builtin_set() {
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
    void read_builtin_set(const toml::table &set) {
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
                     "'" + *balancer + "' is not a plugin of this file's [plugins] (" + builtin_names() +
                         ")");
            default_balancer_refused_ = true;
            return;
        }
        default_balancer_ = *balancer;
        default_balancer_node_ = node;
    }

    // Creates an instance of the plugin named by block.plugin (or by name_node when the block is
    // given as a plain string), which must be of kind expected. origin: the document's table when
    // block is a copy of it (see without_filters).
    PluginInstance *create_instance(const toml::node *name_node, const toml::table *block,
                                    proxyd_kind expected, const std::string &where,
                                    const toml::table *origin = nullptr) {
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
    PluginInstance *instantiate(const std::string &name, const toml::node *at, const std::string &key,
                                const toml::table *block, proxyd_kind expected, const std::string &label,
                                const std::string &note, const toml::table *origin = nullptr) {
        PluginModule *module = plugin_module(name, at, key, note);
        if (!module) return nullptr;
        const auto &d = module->descriptor();
        if (module->kind() != expected) {
            error_at(at, key,
                     "plugin '" + name + "' (" + module->path() + ", ABI " + std::to_string(d.abi_major) +
                         "." + std::to_string(d.abi_minor) + ") is a " + kind_name(module->kind()) +
                         " plugin; a " + kind_name(expected) + " plugin is needed here" + note);
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
        int rc = d.create_instance(options_.host, &ctx,
                                   reinterpret_cast<const proxyd_config_node *>(static_cast<const toml::node *>(block)),
                                   &instance);
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
    PluginModule *plugin_module(const std::string &name, const toml::node *at, const std::string &key,
                                const std::string &note) {
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
            error_at(at, key,
                     "built-in plugin '" + name + "' (" + position(builtin.entry) + "): " + why + note);
            return nullptr;
        }
        return config_->plugins.add_module(std::move(module));
    }

    std::string unknown_plugin(const std::string &name) const {
        if (builtin_file_.empty())
            return "plugin '" + name +
                   "' is not declared in [plugins], and there are no built-in plugins: " + no_builtin_set();
        return "plugin '" + name +
               "' is neither declared in [plugins] nor a built-in plugin (built-ins: " + builtin_names() +
               ")";
    }

    // Why an upstream without a balancer has none.
    std::string no_default_balancer() const {
        if (builtin_file_.empty())
            return "missing, and there is no default balancer: " + no_builtin_set() +
                   "; give one: balancer = \"NAME\", NAME a balancing plugin declared in [plugins]";
        return "missing, and the built-in plugin set " + builtin_file_ +
               " names no default balancer ([defaults] balancer); give one: balancer = \"NAME\", NAME a "
               "balancing plugin declared in [plugins] or built in (" +
               builtin_names() + ")";
    }

    std::string no_builtin_set() const {
        if (builtin_looked_for_.empty())
            return "no plugin folder to look for " + std::string(kBuiltinPluginsFile) + " in";
        std::string looked;
        for (const auto &path : builtin_looked_for_)
            looked += (looked.empty() ? "" : ", ") + path;
        return "no built-in plugin set was found (looked for " + looked + ")";
    }

    std::string builtin_names() const {
        std::string names;
        for (const auto &[name, _] : builtins_)
            names += (names.empty() ? "" : ", ") + name;
        return names.empty() ? "none" : names;
    }

    void load_upstreams(const toml::table &upstreams) {
        for (const auto &[name, value] : upstreams)
            load_upstream(std::string(name.str()), value, join_key("upstreams", name.str()));
    }

    // One upstream group, declared under [upstreams] or inline as a listener's upstream.
    void load_upstream(std::string name, const toml::node &value, const std::string &where) {
        UpstreamConfig u;
        u.name = std::move(name);
        const auto *t = value.as_table();
        if (!t) {
            error_at(&value, where, "must be a table");
            config_->upstreams.push_back(std::move(u));
            return;
        }
        check_keys(*t, where,
                   {"peers",
                    "balancer",
                    "connect_timeout",
                    "read_timeout",
                    "send_timeout",
                    "keepalive",
                    "keepalive_timeout",
                    "keepalive_surplus_timeout",
                    "max_tries",
                    "max_fails",
                    "fail_timeout",
                    "tls",
                    "max_peers",
                    "resolve_interval",
                    "filters",
                    "health_check",
                    "slow_start",
                    "max_connections",
                    "queue_size",
                    "queue_timeout",
                    "retry_on",
                    "retry_budget",
                    "outlier"});
        u.filters = load_filter_chain(*t, where);
        const auto *tls =
            typed<toml::table>(*t, "tls", where, "a table: { ca = \"...\", server_name = \"...\" }");
        load_peers(*t, where, u, tls != nullptr);
        load_discovery(*t, where, u);
        load_upstream_tls(value, tls, where + ".tls", u);
        get_duration(*t, "connect_timeout", where, u.connect_timeout);
        get_duration(*t, "read_timeout", where, u.read_timeout);
        get_duration(*t, "send_timeout", where, u.send_timeout);
        get_duration(*t, "keepalive_timeout", where, u.keepalive_timeout);
        load_surplus_timeout(*t, where, u);
        get_duration(*t, "fail_timeout", where, u.fail_timeout);
        if (auto v = get_int(*t, "keepalive", where, 0, 100000)) u.keepalive = uint32_t(*v);
        if (auto v = get_int(*t, "max_tries", where, 1, 100)) u.max_tries = uint32_t(*v);
        if (auto v = get_int(*t, "max_fails", where, 0, 1000)) u.max_fails = uint32_t(*v);
        get_duration(*t, "slow_start", where, u.slow_start);
        if (const auto *hc = typed<toml::table>(*t, "health_check", where, "a table: { path = \"/health\" }"))
            load_health_check(*hc, where + ".health_check", u);
        load_upstream_policies(*t, where, u.policies);

        const toml::node *balancer = t->get("balancer");
        const std::string balancer_key = where + ".balancer";
        // The balancer sees the group's peers; their strings stay where they are when u moves
        // into the config (the vector's buffer moves with it).
        balancer_peers_ = &u.peers;
        if (!balancer) {
            // A default refused in the built-in file was reported there.
            if (!default_balancer_.empty())
                u.balancer = instantiate(default_balancer_, &value, balancer_key, nullptr,
                                         PROXYD_KIND_BALANCING, balancer_key,
                                         "; it is the default balancer (" +
                                             position(default_balancer_node_) + "), as none is given");
            else if (!default_balancer_refused_)
                error_at(&value, balancer_key, no_default_balancer());
        } else if (const auto *bt = balancer->as_table()) {
            u.balancer = create_instance(bt->get("plugin"), bt, PROXYD_KIND_BALANCING, where + ".balancer");
        } else {
            u.balancer = create_instance(balancer, nullptr, PROXYD_KIND_BALANCING, where + ".balancer");
        }
        balancer_peers_ = nullptr;
        config_->upstreams.push_back(std::move(u));
    }

    void load_health_check(const toml::table &t, const std::string &where, UpstreamConfig &u) {
        check_keys(t, where,
                   {"type", "method", "path", "host", "expect_status", "expect_body", "interval", "timeout",
                    "rise", "fall"});
        HealthCheckConfig &c = u.health_check.emplace();
        if (auto type = get_string(t, "type", where)) {
            if (*type == "tcp" || *type == "http")
                c.type = *type == "tcp" ? HealthCheckConfig::Type::tcp : HealthCheckConfig::Type::http;
            else
                error_at(t.get("type"), join_key(where, "type"), "must be \"http\" or \"tcp\"");
        }
        if (auto method = get_string(t, "method", where)) {
            if (!method->empty() &&
                std::all_of(method->begin(), method->end(), [](char ch) { return byte_is(ch, kTokenByte); }))
                c.method = *method;
            else
                error_at(t.get("method"), join_key(where, "method"),
                         "\"" + *method + "\" is not a method token");
        }
        if (auto path = get_string(t, "path", where)) {
            if (path->starts_with("/") &&
                std::all_of(path->begin(), path->end(), [](char ch) { return byte_is(ch, kTargetByte); }))
                c.path = *path;
            else
                error_at(t.get("path"), join_key(where, "path"),
                         "\"" + *path + "\" must start with / and hold only visible ASCII, no '#'");
        }
        if (auto host = get_string(t, "host", where)) {
            if (!host->empty() &&
                std::all_of(host->begin(), host->end(), [](char ch) { return byte_is(ch, kTargetByte); }))
                c.host = *host;
            else
                error_at(t.get("host"), join_key(where, "host"), "\"" + *host + "\" is not a host");
        }
        if (auto status = get_string(t, "expect_status", where)) {
            if (auto range = parse_status_range(*status))
                std::tie(c.status_min, c.status_max) = *range;
            else
                error_at(t.get("expect_status"), join_key(where, "expect_status"),
                         "\"" + *status +
                             "\" is not a status range (examples: \"200\", \"200-399\", \"2xx\")");
        }
        if (auto body = get_string(t, "expect_body", where)) c.expect_body = *body;
        get_duration(t, "interval", where, c.interval);
        get_duration(t, "timeout", where, c.timeout);
        if (auto v = get_int(t, "rise", where, 1, 100)) c.rise = uint32_t(*v);
        if (auto v = get_int(t, "fall", where, 1, 100)) c.fall = uint32_t(*v);
        if (c.type == HealthCheckConfig::Type::tcp)
            for (const char *http_only : {"method", "path", "host", "expect_status", "expect_body"})
                if (const toml::node *n = t.get(http_only))
                    error_at(n, join_key(where, http_only), "is for type = \"http\" checks; this one is tcp");
    }

    // upstream_policies.hpp: max_connections, queue_size, queue_timeout, retry_on, retry_budget, outlier.
    void load_upstream_policies(const toml::table &t, const std::string &where, UpstreamPolicies &p) {
        if (auto v = get_int(t, "max_connections", where, 0, 1000000)) p.max_connections = uint32_t(*v);
        if (auto v = get_int(t, "queue_size", where, 0, 1000000)) p.queue_size = uint32_t(*v);
        get_duration(t, "queue_timeout", where, p.queue_timeout);
        if (p.queue_size > 0 && p.max_connections == 0)
            error_at(t.get("queue_size"), join_key(where, "queue_size"),
                     "needs max_connections: requests queue only for peers at their limit");
        if (const toml::node *n = t.get("retry_on"))
            load_retry_on(*n, join_key(where, "retry_on"), p.retry_on);
        const std::string bw = join_key(where, "retry_budget");
        if (const auto *b = typed<toml::table>(t, "retry_budget", where,
                                               "a table: { ratio = 0.2, min_per_second = 3 }")) {
            check_keys(*b, bw, {"ratio", "min_per_second"});
            p.retry_budget.ratio = 0.2;
            if (const toml::node *r = b->get("ratio")) {
                std::optional<double> ratio = r->value<double>(); // an integer converts too
                // Written so that nan, which compares false with both bounds, is refused.
                if (!ratio || !(*ratio >= 0 && *ratio <= 1))
                    error_at(r, join_key(bw, "ratio"), "must be a number from 0 to 1 (a share of requests)");
                else
                    p.retry_budget.ratio = *ratio;
            }
            if (auto v = get_int(*b, "min_per_second", bw, 0, 100000))
                p.retry_budget.min_per_second = uint32_t(*v);
        }
        const std::string ow = join_key(where, "outlier");
        if (const auto *o =
                typed<toml::table>(t, "outlier", where, "a table: { consecutive_5xx = 5, ... }")) {
            check_keys(*o, ow,
                       {"consecutive_5xx", "consecutive_connect_failures", "consecutive_timeouts",
                        "base_ejection", "max_ejection", "max_ejection_percent"});
            OutlierConfig &c = p.outlier;
            c.enabled = true;
            if (auto v = get_int(*o, "consecutive_5xx", ow, 0, 100000)) c.consecutive_5xx = uint32_t(*v);
            if (auto v = get_int(*o, "consecutive_connect_failures", ow, 0, 100000))
                c.consecutive_connect_failures = uint32_t(*v);
            if (auto v = get_int(*o, "consecutive_timeouts", ow, 0, 100000))
                c.consecutive_timeouts = uint32_t(*v);
            get_duration(*o, "base_ejection", ow, c.base_ejection);
            get_duration(*o, "max_ejection", ow, c.max_ejection);
            if (auto v = get_int(*o, "max_ejection_percent", ow, 0, 100))
                c.max_ejection_percent = uint32_t(*v);
            if (c.max_ejection < c.base_ejection)
                error_at(o->get("max_ejection"), join_key(ow, "max_ejection"),
                         "must not be shorter than base_ejection");
        }
    }

    void load_retry_on(const toml::node &node, const std::string &where, RetryOn &out) {
        const auto *array = node.as_array();
        if (!array) {
            error_at(&node, where,
                     "must be an array: [\"connect-failure\", \"timeout\", \"invalid-response\", \"5xx\", "
                     "\"503\", ...]");
            return;
        }
        out = RetryOn{false, false, false, {}};
        for (size_t i = 0; i < array->size(); ++i) {
            const toml::node &item = (*array)[i];
            std::optional<std::string> v = item.value<std::string>();
            std::string_view s = v && item.is_string() ? std::string_view(*v) : std::string_view();
            int code =
                s.size() == 3 && s[0] == '5' && std::isdigit(uint8_t(s[1])) && std::isdigit(uint8_t(s[2]))
                    ? std::stoi(std::string(s))
                    : 0;
            if (s == "connect-failure")
                out.connect_failure = true;
            else if (s == "timeout")
                out.timeout = true;
            else if (s == "invalid-response")
                out.invalid_response = true;
            else if (s == "5xx")
                out.statuses.set();
            else if (code)
                out.statuses.set(size_t(code - 500));
            else
                error_at(&item, index_key(where, i),
                         "is not a retry condition: \"connect-failure\", \"timeout\", \"invalid-response\", "
                         "\"5xx\" "
                         "or a status from 500 to 599 as a string (\"503\")");
        }
    }

    void load_peers(const toml::table &t, const std::string &where, UpstreamConfig &u, bool group_tls) {
        const toml::node *peers = t.get("peers");
        const auto *array = peers ? peers->as_array() : nullptr;
        if (!array || array->empty()) {
            error_at(
                peers ? peers : static_cast<const toml::node *>(&t), where + ".peers",
                "needs at least one peer: [\"host:port\", ...], [{ address = \"host:port\", weight = 2 }], "
                "or peers found in DNS: [{ resolve = \"name:port\" }] or [{ srv = \"_http._tcp.name\" }]");
            return;
        }
        for (size_t i = 0; i < array->size(); ++i) {
            const toml::node &p = (*array)[i];
            std::string pw = index_key(where + ".peers", i);
            PeerConfig peer;
            const toml::node *address_node = &p;
            if (const auto *pt = p.as_table(); pt && (pt->contains("resolve") || pt->contains("srv"))) {
                load_discovery_source(*pt, pw, u, group_tls);
                continue;
            }
            if (const auto *pt = p.as_table()) {
                check_keys(*pt, pw, {"address", "weight"});
                address_node = pt->get("address");
                if (auto w = get_int(*pt, "weight", pw, 1, 1000)) peer.weight = uint32_t(*w);
            }
            auto text = address_node ? address_node->value<std::string>() : std::nullopt;
            if (!text || !address_node->is_string()) {
                error_at(address_node ? address_node : &p, pw,
                         "a peer is \"host:port\" or { address = \"host:port\", weight = N }");
                continue;
            }
            std::string_view authority = *text;
            bool cleartext = authority.starts_with("http://");
            peer.tls = group_tls || authority.starts_with("https://");
            if (cleartext || authority.starts_with("https://")) {
                authority.remove_prefix(authority.find("://") + 3);
            } else if (authority.find("://") != std::string_view::npos) {
                error_at(address_node, pw, "\"" + *text + "\": the scheme must be http:// or https://");
                continue;
            }
            if (cleartext && group_tls) {
                error_at(address_node, pw,
                         "\"" + *text +
                             "\" is http:// in a group with a tls table, which speaks TLS to every peer");
                continue;
            }
            std::string why;
            if (!parse_net_address(authority, peer.address, why)) {
                error_at(address_node, pw, "\"" + *text + "\": " + why);
                continue;
            }
            peer.address_text = *text;
            peer.authority = authority;
            peer.tls_name = peer_host(authority);
            peer.tls_name_is_ip = is_ip_literal(peer.tls_name);
            u.peers.push_back(std::move(peer));
        }
    }

    // A peers entry followed in DNS: { resolve = "name:port", weight = N } (every A and AAAA
    // address of the name) or { srv = "_service._proto.name" } (the SRV records' targets, ports and
    // weights).
    void load_discovery_source(const toml::table &t, const std::string &where, UpstreamConfig &u,
                               bool group_tls) {
        check_keys(t, where, {"resolve", "srv", "weight"});
        DiscoverySource source;
        if (t.contains("resolve") && t.contains("srv")) {
            error_at(&t, where,
                     "a peer is found by resolve = \"name:port\" or srv = \"_http._tcp.name\", not both");
            return;
        }
        if (auto srv = get_string(t, "srv", where)) {
            if (t.contains("weight")) {
                error_at(t.get("weight"), where + ".weight", "SRV records give their own weights");
                return;
            }
            if (srv->empty() || srv->find_first_of(" :/") != std::string::npos) {
                error_at(t.get("srv"), where + ".srv",
                         "\"" + *srv + "\" is not a SRV name such as \"_http._tcp.web.service\"");
                return;
            }
            source.kind = DiscoverySource::Kind::kService;
            source.name = *srv;
            source.tls = group_tls;
            u.discovery.push_back(std::move(source));
            return;
        }
        auto text = get_string(t, "resolve", where);
        if (!text) return; // reported as the wrong type
        if (auto w = get_int(t, "weight", where, 1, 1000)) source.weight = uint32_t(*w);
        std::string_view authority = *text;
        source.tls = group_tls || authority.starts_with("https://");
        if (authority.starts_with("https://") || authority.starts_with("http://"))
            authority.remove_prefix(authority.find("://") + 3);
        size_t colon = authority.rfind(':');
        uint64_t port = 0;
        bool port_ok =
            colon != std::string_view::npos && colon + 1 < authority.size() && colon + 6 >= authority.size();
        for (size_t i = colon + 1; port_ok && i < authority.size(); ++i) {
            port_ok = authority[i] >= '0' && authority[i] <= '9';
            port = port * 10 + uint64_t(authority[i] - '0');
        }
        std::string host(authority.substr(0, colon == std::string_view::npos ? 0 : colon));
        if (!port_ok || port == 0 || port > 65535 || host.empty() || is_ip_literal(host) ||
            host.find_first_of("[]/ ") != std::string::npos) {
            error_at(t.get("resolve"), where + ".resolve",
                     "\"" + *text + "\" is not a host name and port such as \"web.internal:8080\"");
            return;
        }
        source.name = std::move(host);
        source.port = uint16_t(port);
        u.discovery.push_back(std::move(source));
    }

    // A group with peers found in DNS gets max_peers slots for them after its fixed peers.
    void load_discovery(const toml::table &t, const std::string &where, UpstreamConfig &u) {
        int64_t slots = 16;
        if (auto v = get_int(t, "max_peers", where, 1, 1024)) slots = *v;
        get_duration(t, "resolve_interval", where, u.discovery_timing.interval);
        if (u.discovery.empty()) {
            for (const char *key : {"max_peers", "resolve_interval"})
                if (t.contains(key))
                    error_at(t.get(key), where + "." + key,
                             "applies to peers found in DNS; this group has no resolve or srv peer");
            return;
        }
        if (u.discovery_timing.interval < u.discovery_timing.min_interval) {
            error_at(t.get("resolve_interval"), where + ".resolve_interval", "must be at least 1s");
            return;
        }
        u.discovery_first_slot = u.peers.size();
        for (int64_t k = 0; k < slots; ++k) {
            PeerConfig slot;
            slot.discovered = true;
            slot.address_text = "dns#" + std::to_string(k + 1);
            slot.tls = std::any_of(u.discovery.begin(), u.discovery.end(),
                                   [](const DiscoverySource &s) { return s.tls; });
            u.peers.push_back(std::move(slot));
        }
    }

    // The client side of TLS for a group whose peers speak it: the group's `tls` table (verify, ca,
    // server_name, certificate and key for mTLS, protocols, ciphers), or its defaults for https://
    // peers alone. The files are loaded here, so a bad one fails the config load (and proxyd -t).
    void load_upstream_tls(const toml::node &group, const toml::table *t, const std::string &where,
                           UpstreamConfig &u) {
        bool any_tls = std::any_of(u.peers.begin(), u.peers.end(), [](const PeerConfig &p) { return p.tls; });
        if (!t && !any_tls) return;
        TlsClientSettings settings;
        if (t) {
            check_keys(*t, where,
                       {"verify", "ca", "server_name", "certificate", "key", "protocols", "ciphers"});
            if (auto v = get_bool(*t, "verify", where)) settings.verify = *v;
            if (auto ca = get_string(*t, "ca", where)) settings.ca = resolve_path(*ca);
            auto certificate = get_string(*t, "certificate", where);
            auto key = get_string(*t, "key", where);
            if (certificate.has_value() != key.has_value()) {
                error_at(
                    t, where,
                    "a client certificate needs both certificate = \"FILE\" (PEM chain) and key = \"FILE\"");
                return;
            }
            if (certificate) {
                settings.certificate = resolve_path(*certificate);
                settings.key = resolve_path(*key);
            }
            if (auto name = get_string(*t, "server_name", where)) {
                if (name->empty()) {
                    error_at(t->get("server_name"), where + ".server_name", "must not be empty");
                } else {
                    for (PeerConfig &peer : u.peers) {
                        peer.tls_name = *name;
                        peer.tls_name_is_ip = is_ip_literal(*name);
                    }
                    u.discovery_tls_name = *name;
                }
            }
            load_tls_protocols(*t, where, settings.min_version, settings.max_version);
            settings.ciphers = get_openssl_list(*t, "ciphers", where);
        }
        // A file that cannot be read is said plainly (OpenSSL would give its error stack), at its key.
        bool files_readable = true;
        for (auto [k, path] : {std::pair{"ca", &settings.ca}, std::pair{"certificate", &settings.certificate},
                               std::pair{"key", &settings.key}}) {
            if (std::string problem = path->empty() ? "" : check_readable(*path); !problem.empty()) {
                error_at(t->get(k), join_key(where, k), problem);
                files_readable = false;
            }
        }
        if (!files_readable) return;
        std::string error;
        u.tls = TlsClientContext::create(settings, error);
        if (u.tls) return;
        // At the key whose file failed, when one did.
        const toml::node *at = t;
        std::string key_name = where;
        for (auto [k, path] : {std::pair{"ca", &settings.ca}, std::pair{"certificate", &settings.certificate},
                               std::pair{"key", &settings.key}}) {
            if (!path->empty() && error.starts_with(*path + ":")) {
                at = t->get(k);
                key_name = where + "." + k;
                break;
            }
        }
        error_at(at ? at : &group, key_name, error); // https:// peers without a tls table: the group
    }

    // A `protocols` array such as ["TLSv1.2", "TLSv1.3"] as the lowest and highest version.
    void load_tls_protocols(const toml::table &t, const std::string &where, int &min_version,
                            int &max_version) {
        const auto *protocols =
            typed<toml::array>(t, "protocols", where, "an array such as [\"TLSv1.2\", \"TLSv1.3\"]");
        if (!protocols) return;
        if (protocols->empty())
            error_at(protocols, where + ".protocols",
                     "must name \"TLSv1.2\", \"TLSv1.3\" or both (leave it out for both)");
        int low = 0, high = 0;
        for (size_t i = 0; i < protocols->size(); ++i) {
            auto name = protocols->get(i)->value<std::string>();
            int version = !name                ? 0
                          : *name == "TLSv1.2" ? TLS1_2_VERSION
                          : *name == "TLSv1.3" ? TLS1_3_VERSION
                                               : 0;
            if (!version) {
                error_at(protocols->get(i), where + ".protocols",
                         "must be \"TLSv1.2\" or \"TLSv1.3\" (older versions are not offered)");
                continue;
            }
            low = low ? std::min(low, version) : version;
            high = std::max(high, version);
        }
        if (!low) return;
        min_version = low;
        max_version = high;
    }

    void load_handlers(const toml::table &handlers) {
        for (const auto &[name, value] : handlers)
            load_handler(std::string(name.str()), value, join_key("handlers", name.str()));
    }

    // One content handler, declared under [handlers] or inline as a listener's handler.
    void load_handler(std::string name, const toml::node &value, const std::string &where) {
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
    void load_filters(const toml::table &filters) {
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
    FilterChain load_filter_chain(const toml::table &t, const std::string &where) {
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
    const toml::table *without_filters(const toml::table &t) {
        if (!t.get("filters")) return &t;
        auto copy = std::make_shared<toml::table>(t);
        copy->erase("filters");
        config_->plugins.keep_document(copy);
        return copy.get();
    }

    // [routers.NAME]: a routing plugin instance that listeners name (router = "NAME"), so a
    // router table is never attached to a listener by its place in the file.
    void load_routers(const toml::table &routers) {
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

    // A listener's handler or upstream given as a table instead of a name: declared on the spot
    // under the listener's name, which must not be taken by a declared one.
    void load_inline_target(const toml::node &node, proxyd_target_kind kind, const std::string &listener_name,
                            const std::string &where, Target &out) {
        uint32_t id = 0;
        if (find_target(PROXYD_TARGET_HANDLER, listener_name, id) ||
            find_target(PROXYD_TARGET_UPSTREAM, listener_name, id)) {
            error_at(&node, where,
                     "an inline target takes its listener's name '" + listener_name +
                         "', which a declared handler or upstream already has; name the listener otherwise");
            return;
        }
        if (kind == PROXYD_TARGET_HANDLER) {
            handler_names_.push_back(listener_name);
            load_handler(listener_name, node, where);
            out = Target{Target::Kind::Handler, static_cast<uint32_t>(config_->handlers.size() - 1)};
        } else {
            upstream_names_.push_back(listener_name);
            load_upstream(listener_name, node, where);
            out = Target{Target::Kind::Upstream, static_cast<uint32_t>(config_->upstreams.size() - 1)};
        }
    }

    void load_listener(const toml::table &t, const std::string &where) {
        check_keys(t, where,
                   {"name",
                    "listen",
                    "handler",
                    "upstream",
                    "router",
                    "access_log",
                    "x_forwarded",
                    "forwarded",
                    "via",
                    "limits",
                    "tls",
                    "redirect_https",
                    "hsts",
                    "filters",
                    "http2",
                    "http2_max_concurrent_streams",
                    "http2_max_header_list_size",
                    "http2_max_continuations",
                    "http2_reset_burst",
                    "http2_resets_per_second",
                    "http2_idle_frame_burst",
                    "http2_websocket"});
        ListenerConfig l;
        l.filters = load_filter_chain(t, where);
        l.name = get_string(t, "name", where).value_or("");
        if (auto listen = get_string(t, "listen", where)) {
            std::string why;
            if (!parse_net_address(*listen, l.address, why)) {
                error_at(t.get("listen"), where + ".listen", "\"" + *listen + "\": " + why);
            } else {
                for (const auto &other : config_->listeners)
                    if (other.address == l.address)
                        error_at(t.get("listen"), where + ".listen",
                                 "\"" + *listen + "\" is already used by listener '" + other.name + "'");
            }
            l.listen_text = *listen;
            l.listen_at = position(t.get("listen")) + ": " + where + ".listen";
        } else if (!t.get("listen")) {
            error_at(&t, where + ".listen", "missing: the address to listen on, e.g. \"127.0.0.1:8080\"");
        }
        if (l.name.empty()) l.name = l.listen_text.empty() ? where : l.listen_text;

        const toml::node *handler = t.get("handler");
        const toml::node *upstream = t.get("upstream");
        const toml::node *router = t.get("router");
        if (handler && upstream)
            error_at(upstream, where, "give either handler or upstream as the default target, not both");
        const toml::node *redirect = t.get("redirect_https");
        if (redirect && (handler || upstream || router))
            error_at(redirect, where + ".redirect_https",
                     "a listener that redirects every request to HTTPS takes no handler, upstream or router");
        if (!handler && !upstream && !router && !redirect)
            error_at(&t, where,
                     "needs a target: handler = \"NAME\", upstream = \"NAME\", a [listeners.router], or "
                     "redirect_https = true");
        if (handler && handler->is_table())
            load_inline_target(*handler, PROXYD_TARGET_HANDLER, l.name, where + ".handler", l.target);
        else if (handler)
            resolve_named(handler, PROXYD_TARGET_HANDLER, where + ".handler", l.target);
        else if (upstream && upstream->is_table())
            load_inline_target(*upstream, PROXYD_TARGET_UPSTREAM, l.name, where + ".upstream", l.target);
        else if (upstream)
            resolve_named(upstream, PROXYD_TARGET_UPSTREAM, where + ".upstream", l.target);
        if (router && router->is_string()) {
            std::string name = *router->value<std::string>();
            auto it = std::find_if(named_routers_.begin(), named_routers_.end(),
                                   [&](const auto &r) { return r.first == name; });
            if (it == named_routers_.end())
                error_at(router, where + ".router", "router '" + name + "' is not declared in [routers]");
            else
                l.router = it->second;
        } else if (router) {
            if (const auto *rt = router->as_table()) {
                if (!rt->get("plugin"))
                    error_at(router, where + ".router.plugin", "missing: name the routing plugin");
                else
                    l.router = create_instance(rt->get("plugin"), rt, PROXYD_KIND_ROUTING, where + ".router");
            } else {
                error_at(router, where + ".router",
                         "must be a router's name in [routers], or a table with plugin = \"...\" and its settings");
            }
        }
        if (auto v = get_bool(t, "access_log", where)) l.access_log = *v;
        if (auto v = get_bool(t, "x_forwarded", where)) l.add_x_forwarded = *v;
        if (auto v = get_bool(t, "forwarded", where)) l.add_forwarded = *v;
        if (auto v = get_bool(t, "via", where)) l.add_via = *v;
        load_listener_limits(t, where, l);
        load_listener_http2(t, where, l);
        if (const auto *tls =
                typed<toml::table>(t, "tls", where, "a table: { certificate = \"...\", key = \"...\" }"))
            l.tls = load_listener_tls(*tls, where + ".tls", l);
        if (t.get("hsts"))
            error_at(t.get("hsts"), where + ".hsts",
                     "HSTS belongs to an HTTPS listener, as tls = { ..., hsts = \"max-age=...\" }: browsers "
                     "ignore Strict-Transport-Security over cleartext (RFC 6797 §8.1)");
        if (redirect) load_redirect_https(*redirect, where + ".redirect_https", t.get("tls") != nullptr, l);
        config_->listeners.push_back(std::move(l));
    }

    // http2 = true (nginx's `http2 on`), http2_max_concurrent_streams = N (nginx's name).
    void load_listener_http2(const toml::table &t, const std::string &where, ListenerConfig &l) {
        if (auto v = get_bool(t, "http2", where)) l.http2 = *v;
        if (auto v = get_int(t, "http2_max_concurrent_streams", where, 1, 0x7fffffff))
            l.http2_max_concurrent_streams = uint32_t(*v);
        // The flood bounds: a head's size as max_header_size allows it; 0 CONTINUATIONs is a head
        // in one frame.
        if (auto v = get_int(t, "http2_max_header_list_size", where, 1024, 1 << 24))
            l.http2_max_header_list_size = uint32_t(*v);
        if (auto v = get_int(t, "http2_max_continuations", where, 0, 10000))
            l.http2_max_continuations = uint32_t(*v);
        if (auto v = get_int(t, "http2_reset_burst", where, 1, 1000000)) l.http2_reset_burst = uint32_t(*v);
        if (auto v = get_int(t, "http2_resets_per_second", where, 1, 1000000))
            l.http2_resets_per_second = uint32_t(*v);
        if (auto v = get_int(t, "http2_idle_frame_burst", where, 1, 1000000))
            l.http2_idle_frame_burst = uint32_t(*v);
        if (auto v = get_bool(t, "http2_websocket", where)) {
            l.http2_websocket = *v;
            // Without HTTP/2 there is no SETTINGS frame to advertise it in: the switch would do nothing.
            if (*v && !l.http2)
                error_at(
                    t.get("http2_websocket"), join_key(where, "http2_websocket"),
                    "needs http2 = true: WebSocket over HTTP/2 runs on the listener's HTTP/2 connections");
        }
    }

    // redirect_https = true (to port 443) or = PORT: a cleartext listener answering every request
    // with a 308 to the same URL over https.
    void load_redirect_https(const toml::node &node, const std::string &where, bool https,
                             ListenerConfig &l) {
        if (auto on = node.value_exact<bool>()) {
            l.redirect_https_port = *on ? 443 : 0;
        } else if (auto port = node.value_exact<int64_t>(); port && *port >= 1 && *port <= 65535) {
            l.redirect_https_port = static_cast<uint16_t>(*port);
        } else {
            error_at(&node, where,
                     "must be true (to port 443) or the HTTPS port, an integer from 1 to 65535");
            return;
        }
        if (l.redirect_https_port && https)
            error_at(&node, where,
                     "is for a cleartext listener: on this HTTPS listener it would redirect to itself");
    }

    // One certificate entry's files: readable, the key the certificate's, and a warning when the
    // certificate expires within 14 days, each at the key that names the file. True when usable.
    bool check_certificate_files(const toml::table &c, const std::string &at, const std::string &chain,
                                 const std::string &key) {
        std::string problem = check_readable(chain);
        if (!problem.empty()) error_at(c.get("certificate"), at + ".certificate", problem);
        std::string key_problem = check_readable(key);
        if (!key_problem.empty()) error_at(c.get("key"), at + ".key", key_problem);
        if (!problem.empty() || !key_problem.empty()) return false;
        problem = check_key_matches(chain, key);
        if (!problem.empty()) {
            error_at(c.get("key"), at + ".key", problem);
            return false;
        }
        if (auto not_after = certificate_not_after(chain)) {
            std::string warning = expiry_warning(chain, *not_after, std::time(nullptr));
            if (!warning.empty())
                config_->warnings.push_back(position(c.get("certificate")) + ": " + at +
                                            ".certificate: " + warning);
        }
        return true;
    }

    // A certificate entry's ocsp_response: read and checked against the certificate now, so every
    // reload picks up the file the operator's job renewed. A file that cannot serve the
    // certificate is an error; a genuine response that must not be stapled now (revoked, stale,
    // not yet valid) a warning, and the listener serves without a staple.
    std::shared_ptr<const OcspStaple> load_ocsp_response(const toml::table &c, const std::string &at,
                                                         const std::string &file, const std::string &chain,
                                                         bool &usable) {
        OcspLoad loaded = load_ocsp_staple(file, chain, std::time(nullptr));
        if (!loaded.error.empty()) {
            error_at(c.get("ocsp_response"), at + ".ocsp_response", loaded.error);
            usable = false;
        } else if (!loaded.warning.empty()) {
            config_->warnings.push_back(position(c.get("ocsp_response")) + ": " + at +
                                        ".ocsp_response: " + loaded.warning);
        }
        return loaded.staple;
    }

    // A listener's `tls` table: one certificate (certificate/key) or several (certificates =
    // [{ certificate, key }, ...], the first the default), protocols, ciphers, ciphersuites,
    // groups, unknown_name. The files are loaded here, so a bad one fails the config load.
    std::shared_ptr<const TlsServerContext> load_listener_tls(const toml::table &t, const std::string &where,
                                                              ListenerConfig &l) {
        check_keys(t, where,
                   {"certificate", "key", "ocsp_response", "certificates", "protocols", "ciphers",
                    "ciphersuites", "groups", "unknown_name", "hsts", "session_tickets", "ticket_rotation",
                    "session_timeout", "session_cache_size", "client_ca", "verify_client",
                    "client_cert_headers"});
        if (auto hsts = get_string(t, "hsts", where)) {
            std::string why = check_strict_transport_security(*hsts);
            if (why.empty())
                l.strict_transport_security = *hsts;
            else
                error_at(t.get("hsts"), where + ".hsts", "\"" + *hsts + "\": " + why);
        }
        bool files_usable = true;
        TlsSettings settings;
        auto add_certificate = [&](const toml::table &c, const std::string &at) {
            auto certificate = get_string(c, "certificate", at);
            auto key = get_string(c, "key", at);
            if (!certificate || !key) {
                error_at(&c, at,
                         "needs certificate = \"FILE\" (PEM chain) and key = \"FILE\" (PEM private key)");
                return;
            }
            TlsCertificateFiles files{resolve_path(*certificate), resolve_path(*key), nullptr};
            bool usable = check_certificate_files(c, at, files.chain, files.key);
            if (auto response = get_string(c, "ocsp_response", at); response && usable)
                files.ocsp = load_ocsp_response(c, at, resolve_path(*response), files.chain, usable);
            files_usable = usable && files_usable;
            settings.certificates.push_back(std::move(files));
        };
        if (const auto *list =
                typed<toml::array>(t, "certificates", where, "an array of { certificate, key } tables")) {
            if (t.get("certificate") || t.get("key") || t.get("ocsp_response"))
                error_at(
                    &t, where,
                    "give either certificate, key (and ocsp_response), or certificates = [...], not both");
            // Without a certificate no TLS context is made, and the listener would serve cleartext.
            if (list->empty())
                error_at(list, where + ".certificates",
                         "needs at least one { certificate = \"...\", key = \"...\" } table");
            for (size_t i = 0; i < list->size(); ++i) {
                std::string at = where + ".certificates[" + std::to_string(i) + "]";
                if (const auto *c = list->get(i)->as_table()) {
                    check_keys(*c, at, {"certificate", "key", "ocsp_response"});
                    add_certificate(*c, at);
                } else {
                    error_at(list->get(i), at, "must be a table: { certificate = \"...\", key = \"...\" }");
                }
            }
        } else {
            add_certificate(t, where);
        }
        load_tls_protocols(t, where, settings.min_version, settings.max_version);
        settings.ciphers = get_openssl_list(t, "ciphers", where);
        settings.ciphersuites = get_openssl_list(t, "ciphersuites", where);
        settings.groups = get_openssl_list(t, "groups", where);
        if (auto unknown = get_string(t, "unknown_name", where)) {
            if (*unknown == "refuse")
                settings.refuse_unknown_name = true;
            else if (*unknown != "default")
                error_at(
                    t.get("unknown_name"), where + ".unknown_name",
                    "must be \"default\" (serve the first certificate) or \"refuse\" (end the handshake)");
        }
        load_tls_resumption(t, where, l.listen_text, settings);
        files_usable = load_client_verification(t, where, settings, l.client_cert_headers) && files_usable;
        if (const Logger *logger = options_.logger)
            settings.warn = [logger](std::string_view message) { logger->warn(message); };
        if (l.http2) settings.alpn = {"h2", "http/1.1"};                    // h2 preferred (RFC 9113 §3.2)
        if (settings.certificates.empty() || !files_usable) return nullptr; // reported above
        std::string error;
        auto context = TlsServerContext::create(settings, error);
        if (!context) {
            // A list OpenSSL refused is reported at its key, as every other value is; the files were
            // checked above, so what is left is the table's.
            std::string key;
            for (std::string_view name : {"ciphersuites", "ciphers", "groups"})
                if (t.get(name) && error.starts_with(std::string(name) + " '")) key = name;
            error_at(key.empty() ? &t : t.get(key), key.empty() ? where : where + "." + key, error);
        }
        return context;
    }

    // session_tickets, ticket_rotation, session_timeout, session_cache_size: named as nginx's.
    void load_tls_resumption(const toml::table &t, const std::string &where, const std::string &listen,
                             TlsSettings &settings) {
        if (auto v = get_bool(t, "session_tickets", where)) settings.session_tickets = *v;
        Duration timeout = std::chrono::seconds(settings.session_timeout_seconds);
        if (get_duration(t, "session_timeout", where, timeout) && timeout < std::chrono::seconds(1))
            error_at(t.get("session_timeout"), where + ".session_timeout", "must be at least 1s");
        settings.session_timeout_seconds =
            static_cast<long>(std::chrono::ceil<std::chrono::seconds>(timeout).count());
        if (auto v = get_int(t, "session_cache_size", where, 0, 10'000'000)) settings.session_cache_size = *v;
        Duration rotation = std::chrono::hours(12);
        if (get_duration(t, "ticket_rotation", where, rotation) && rotation < std::chrono::seconds(1))
            error_at(t.get("ticket_rotation"), where + ".ticket_rotation", "must be at least 1s");
        settings.session_context = listen;
        if (options_.ticket_keys && settings.session_tickets)
            settings.ticket_keys = options_.ticket_keys->ring(listen, rotation);
    }

    // client_ca, verify_client and the client_cert_headers that forward the result upstream. False
    // when client_ca cannot be read (reported at its key).
    bool load_client_verification(const toml::table &t, const std::string &where, TlsSettings &settings,
                                  ClientCertHeaders &headers) {
        bool ca_usable = true;
        if (auto ca = get_string(t, "client_ca", where)) {
            settings.client_ca = resolve_path(*ca);
            // Checked here, at its key: the TLS context reads it only once the listener is built.
            if (std::string problem = check_readable(settings.client_ca); !problem.empty()) {
                error_at(t.get("client_ca"), where + ".client_ca", problem);
                ca_usable = false;
            }
        }
        if (auto mode = get_string(t, "verify_client", where)) {
            if (*mode == "required")
                settings.verify_client = TlsSettings::VerifyClient::kRequired;
            else if (*mode == "optional")
                settings.verify_client = TlsSettings::VerifyClient::kOptional;
            else if (*mode != "off")
                error_at(t.get("verify_client"), where + ".verify_client",
                         "must be \"required\" (no valid client certificate: the handshake fails), "
                         "\"optional\" (the request goes on, the result forwarded) or \"off\"");
        } else if (t.get("client_ca") && !t.get("verify_client")) {
            settings.verify_client = TlsSettings::VerifyClient::kRequired;
        }
        bool verifying = settings.verify_client != TlsSettings::VerifyClient::kOff;
        if (verifying && settings.client_ca.empty() && !t.get("client_ca")) {
            error_at(t.get("verify_client"), where + ".verify_client",
                     "needs client_ca = \"FILE\": the PEM bundle of the CAs client certificates chain to");
            ca_usable = false; // no context is made without one: it would only repeat this
        }
        const auto *names = typed<toml::table>(
            t, "client_cert_headers", where,
            "a table: { subject = \"X-Client-Subject\", fingerprint = \"X-Client-Cert-SHA256\", verify = "
            "\"X-Client-Verify\" }");
        if (names && !verifying)
            error_at(t.get("client_cert_headers"), where + ".client_cert_headers",
                     "needs verify_client = \"required\" or \"optional\" (and client_ca)");
        if (!verifying) return ca_usable;
        headers = {"X-Client-Subject", "X-Client-Cert-SHA256", "X-Client-Verify"};
        if (!names) return ca_usable;
        std::string at = where + ".client_cert_headers";
        check_keys(*names, at, {"subject", "fingerprint", "verify"});
        auto field = [&](std::string_view key, std::string &out) {
            auto name = get_string(*names, key, at);
            if (!name) return;
            bool token = std::all_of(name->begin(), name->end(),
                                     [](char ch) { return byte_is(ch, ByteClass::kTokenByte); });
            if (!token)
                error_at(names->get(key), join_key(at, key),
                         "\"" + *name + "\" is not a field name (\"\" forwards no such field)");
            else
                out = *name;
        };
        field("subject", headers.subject);
        field("fingerprint", headers.fingerprint);
        field("verify", headers.verify);
        return ca_usable;
    }

    void resolve_named(const toml::node *node, proxyd_target_kind kind, const std::string &where, Target &out) {
        auto name = node->value<std::string>();
        if (!name || !node->is_string()) {
            error_at(node, where, "must be a name (a string)");
            return;
        }
        uint32_t id = 0;
        if (!find_target(kind, *name, id)) {
            error_at(node, where,
                     std::string(kind == PROXYD_TARGET_UPSTREAM ? "upstream" : "handler") + " '" + *name +
                         "' is not declared" +
                         (kind == PROXYD_TARGET_UPSTREAM ? " in [upstreams]" : " in [handlers]"));
            return;
        }
        out = Target::from_id(id);
    }

    const LoadOptions &options_;
    std::vector<std::string> &errors_;
    std::unique_ptr<Config> config_;
    std::string config_dir_;
    std::string plugin_dir_;
    std::vector<std::string> handler_names_;
    std::vector<std::pair<std::string, PluginInstance *>> named_routers_; // [routers], in file order
    std::set<std::string, std::less<>> failed_filters_; // [filters] entries refused (reported there)
    std::vector<std::string> upstream_names_;
    std::set<std::string, std::less<>> declared_plugins_;

    // One entry of the built-in plugin set.
    struct BuiltinPlugin {
        std::string file;        // the module, resolved beside the built-in file
        const toml::node *entry; // its value there, for messages
        bool tried = false;      // its first use loaded it (or reported why it could not)
    };
    std::string builtin_file_; // the built-in set read, or empty
    std::vector<std::string> builtin_looked_for_;
    std::map<std::string, BuiltinPlugin, std::less<>> builtins_;
    std::set<std::string, std::less<>> refused_builtins_; // entries reported as broken
    std::string default_balancer_;                        // [defaults] balancer, when valid
    const toml::node *default_balancer_node_ = nullptr;
    bool default_balancer_refused_ = false;
    const std::vector<PeerConfig> *balancer_peers_ = nullptr; // while an upstream's balancer is created

    friend struct LoaderAccess;
};

} // namespace

// Bridges for the plugin host's config calls (load_context.hpp).
struct LoaderAccess {
    static void error(void *loader, const toml::node *node, const std::string &key,
                      const std::string &message) {
        static_cast<Loader *>(loader)->error_at(node, key, message);
    }
    static void error_at(void *loader, const toml::source_region &where, const std::string &message) {
        static_cast<Loader *>(loader)->error_at(where, message);
    }
    static std::string resolve_path(void *loader, std::string_view p) {
        return static_cast<Loader *>(loader)->resolve_path(p);
    }
    static const toml::table *load_document(void *loader, const std::string &path, std::string &error) {
        return static_cast<Loader *>(loader)->load_document(path, error);
    }
    static bool find_target(void *loader, proxyd_target_kind kind, std::string_view name, uint32_t &id) {
        return static_cast<Loader *>(loader)->find_target(kind, name, id);
    }
};

namespace {

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
        LoaderAccess::error_at(ctx.loader, holder->source(), (key.empty() ? "" : key + ": ") + text);
        return;
    }
    const toml::node *positioned = target;
    if (!target || !has_position(target->source()))
        positioned = place.original ? place.original : ctx.origin ? ctx.origin : target;
    LoaderAccess::error(ctx.loader, positioned, key, text);
}

} // namespace

void load_context_error(proxyd_load_context &ctx, const toml::node *node, const std::string &message) {
    report_in_block(ctx, node, false, message);
}
void load_context_error_at_key(proxyd_load_context &ctx, const toml::node *node, const std::string &message) {
    report_in_block(ctx, node, true, message);
}
std::string load_context_resolve_path(proxyd_load_context &ctx, std::string_view path) {
    return LoaderAccess::resolve_path(ctx.loader, path);
}
const toml::table *load_context_document(proxyd_load_context &ctx, const std::string &path, std::string &error) {
    return LoaderAccess::load_document(ctx.loader, path, error);
}
bool load_context_find_target(proxyd_load_context &ctx, proxyd_target_kind kind, std::string_view name,
                              uint32_t &id) {
    return LoaderAccess::find_target(ctx.loader, kind, name, id);
}

std::unique_ptr<Config> load_config(const std::string &path, const LoadOptions &options,
                                    std::vector<std::string> &errors) {
    Loader loader(path, options, errors);
    return loader.run();
}

} // namespace proxyd
