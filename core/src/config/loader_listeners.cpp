#include "config/loader.hpp"

#include <algorithm>

namespace proxyd {

void ConfigLoader::load_listener(const toml::table &t, const std::string &where) {
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
            // nginx's `listen 8080;`: what to write instead, when it is a port.
            NetAddress with_host;
            std::string ignored;
            if (is_bare_port(*listen) && parse_net_address("127.0.0.1:" + *listen, with_host, ignored))
                why += ": \"127.0.0.1:" + *listen + "\", or \"*:" + *listen + "\" to listen on every address";
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
    // redirect_https = false is the same as leaving it out.
    const toml::node *redirecting = redirect && redirect->value_exact<bool>() == false ? nullptr : redirect;
    if (redirecting && (handler || upstream || router))
        error_at(redirect, where + ".redirect_https",
                 "a listener that redirects every request to HTTPS takes no handler, upstream or router");
    // The 308 is answered before any filter would run. A warning, not an error: the filters may
    // come from [defaults.listener], meant for the HTTPS listeners beside this one.
    if (redirecting && !l.filters.empty())
        config_->warnings.push_back(position(t.get("filters")) + ": " + where +
                                    ".filters: does nothing on a listener that redirects every request "
                                    "to HTTPS (its 308 is answered before any filter runs)");
    if (!handler && !upstream && !router && !redirecting)
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
            error_at(
                router, where + ".router",
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
    // Listeners may share a name: one service on several addresses, counted as one, or an HTTPS
    // listener and the cleartext one that redirects to it. With another default target, another
    // named router, or a router beside none, it is more likely a copied listener whose name was
    // left as it was. (Routers written in place are not compared: two of one config are two
    // instances.)
    auto named = [this](const PluginInstance *instance) {
        return std::any_of(named_routers_.begin(), named_routers_.end(),
                           [instance](const auto &entry) { return entry.second == instance; });
    };
    auto routes_elsewhere = [&](const ListenerConfig &other) {
        if (other.redirect_https_port || l.redirect_https_port) return false;
        bool other_routers = other.router != l.router && named(other.router) && named(l.router);
        return other.target.kind != l.target.kind || other.target.index != l.target.index || other_routers ||
               (other.router == nullptr) != (l.router == nullptr);
    };
    for (const auto &other : config_->listeners)
        if (other.name == l.name && routes_elsewhere(other)) {
            const toml::node *name = t.get("name");
            config_->warnings.push_back(position(name ? name : &t) + ": " + where + ".name: \"" + l.name +
                                        "\" is also the name of the listener on " + other.listen_text +
                                        ", which routes elsewhere: the two are counted as one in the metrics "
                                        "and status pages");
            break;
        }
    config_->listeners.push_back(std::move(l));
}

// A listener's handler or upstream given as a table instead of a name: declared on the spot
// under the listener's name, which must not be taken by a declared one.
void ConfigLoader::load_inline_target(const toml::node &node, proxyd_target_kind kind,
                                      const std::string &listener_name, const std::string &where,
                                      Target &out) {
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

void ConfigLoader::resolve_named(const toml::node *node, proxyd_target_kind kind, const std::string &where,
                                 Target &out) {
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

// http2 = true (nginx's `http2 on`), http2_max_concurrent_streams = N (nginx's name).
void ConfigLoader::load_listener_http2(const toml::table &t, const std::string &where, ListenerConfig &l) {
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
            error_at(t.get("http2_websocket"), join_key(where, "http2_websocket"),
                     "needs http2 = true: WebSocket over HTTP/2 runs on the listener's HTTP/2 connections");
    }
    // A bound set on a listener without HTTP/2 bounds nothing: most likely a forgotten
    // http2 = true. An explicit http2 = false says it is meant (HTTP/2 switched off for a while,
    // or bounds that [defaults.listener] gives every listener), so only a missing http2 warns.
    if (!t.get("http2")) {
        for (const char *key :
             {"http2_max_concurrent_streams", "http2_max_header_list_size", "http2_max_continuations",
              "http2_reset_burst", "http2_resets_per_second", "http2_idle_frame_burst"})
            if (const toml::node *node = t.get(key))
                config_->warnings.push_back(position(node) + ": " + join_key(where, key) +
                                            ": does nothing without http2 = true on this listener (http2 = "
                                            "false says that is meant)");
    }
}

// redirect_https = true (to port 443) or = PORT: a cleartext listener answering every request
// with a 308 to the same URL over https.
void ConfigLoader::load_redirect_https(const toml::node &node, const std::string &where, bool https,
                                       ListenerConfig &l) {
    if (auto on = node.value_exact<bool>()) {
        l.redirect_https_port = *on ? 443 : 0;
    } else if (auto port = node.value_exact<int64_t>(); port && *port >= 1 && *port <= 65535) {
        l.redirect_https_port = static_cast<uint16_t>(*port);
    } else {
        error_at(&node, where, "must be true (to port 443) or the HTTPS port, an integer from 1 to 65535");
        return;
    }
    if (l.redirect_https_port && https)
        error_at(&node, where,
                 "is for a cleartext listener: on this HTTPS listener it would redirect to itself");
}

} // namespace proxyd
