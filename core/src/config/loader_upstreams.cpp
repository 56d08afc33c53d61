#include "config/duration.hpp"
#include "config/loader.hpp"
#include "http/byte_classes.hpp"
#include "net/net_address.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace proxyd {

void ConfigLoader::load_upstreams(const toml::table &upstreams) {
    for (const auto &[name, value] : upstreams)
        load_upstream(std::string(name.str()), value, join_key("upstreams", name.str()));
}

// One upstream group, declared under [upstreams] or inline as a listener's upstream.
void ConfigLoader::load_upstream(std::string name, const toml::node &value, const std::string &where) {
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
            u.balancer = instantiate(
                default_balancer_, &value, balancer_key, nullptr, PROXYD_KIND_BALANCING, balancer_key,
                "; it is the default balancer (" + position(default_balancer_node_) + "), as none is given");
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

// A connection beyond keepalive waits at most as long as one within it. Left out, the default
// capped at keepalive_timeout, as for limits.drain_timeout (config_loader.cpp).
void ConfigLoader::load_surplus_timeout(const toml::table &t, const std::string &where, UpstreamConfig &u) {
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

void ConfigLoader::load_health_check(const toml::table &t, const std::string &where, UpstreamConfig &u) {
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
        if (is_token(*method))
            c.method = *method;
        else
            error_at(t.get("method"), join_key(where, "method"), "\"" + *method + "\" is not a method token");
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
                     "\"" + *status + "\" is not a status range (examples: \"200\", \"200-399\", \"2xx\")");
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
void ConfigLoader::load_upstream_policies(const toml::table &t, const std::string &where,
                                          UpstreamPolicies &p) {
    if (auto v = get_int(t, "max_connections", where, 0, 1000000)) p.max_connections = uint32_t(*v);
    if (auto v = get_int(t, "queue_size", where, 0, 1000000)) p.queue_size = uint32_t(*v);
    get_duration(t, "queue_timeout", where, p.queue_timeout);
    if (p.queue_size > 0 && p.max_connections == 0)
        error_at(t.get("queue_size"), join_key(where, "queue_size"),
                 "needs max_connections: requests queue only for peers at their limit");
    if (const toml::node *n = t.get("retry_on")) load_retry_on(*n, join_key(where, "retry_on"), p.retry_on);
    const std::string bw = join_key(where, "retry_budget");
    if (const auto *b =
            typed<toml::table>(t, "retry_budget", where, "a table: { ratio = 0.2, min_per_second = 3 }")) {
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
    if (const auto *o = typed<toml::table>(t, "outlier", where, "a table: { consecutive_5xx = 5, ... }")) {
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
        if (auto v = get_int(*o, "max_ejection_percent", ow, 0, 100)) c.max_ejection_percent = uint32_t(*v);
        if (c.max_ejection < c.base_ejection)
            error_at(o->get("max_ejection"), join_key(ow, "max_ejection"),
                     "must not be shorter than base_ejection");
    }
}

void ConfigLoader::load_retry_on(const toml::node &node, const std::string &where, RetryOn &out) {
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
        int code = s.size() == 3 && s[0] == '5' && std::isdigit(uint8_t(s[1])) && std::isdigit(uint8_t(s[2]))
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

void ConfigLoader::load_peers(const toml::table &t, const std::string &where, UpstreamConfig &u,
                              bool group_tls) {
    const toml::node *peers = t.get("peers");
    const auto *array = peers ? peers->as_array() : nullptr;
    if (!array || array->empty()) {
        error_at(peers ? peers : static_cast<const toml::node *>(&t), where + ".peers",
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
        peer.tls_name = authority_host(authority);
        peer.tls_name_is_ip = is_ip_literal(peer.tls_name);
        u.peers.push_back(std::move(peer));
    }
}

// A peers entry followed in DNS: { resolve = "name:port", weight = N } (every A and AAAA
// address of the name) or { srv = "_service._proto.name" } (the SRV records' targets, ports and
// weights).
void ConfigLoader::load_discovery_source(const toml::table &t, const std::string &where, UpstreamConfig &u,
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
void ConfigLoader::load_discovery(const toml::table &t, const std::string &where, UpstreamConfig &u) {
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

} // namespace proxyd
