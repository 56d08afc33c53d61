#include "admin/admin_pages.hpp"
#include "admin/metric_table.hpp"

#include <cstdio>
#include <cstring>

namespace proxyd {
namespace {

std::string quoted(const std::string &text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"')
            out += "\\\"";
        else if (c == '\\')
            out += "\\\\";
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else
            out += static_cast<char>(c);
    }
    return out + "\"";
}

std::string number(double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", value);
    return buf;
}

// Builds one JSON object, member by member.
class Object {
  public:
    Object &raw(const char *key, const std::string &json) {
        text_ += (text_.size() > 1 ? "," : "") + quoted(key) + ":" + json;
        return *this;
    }
    Object &str(const char *key, const std::string &value) { return raw(key, quoted(value)); }
    Object &num(const char *key, uint64_t value) { return raw(key, std::to_string(value)); }
    Object &flag(const char *key, bool value) { return raw(key, value ? "true" : "false"); }
    std::string done() const { return text_ + "}"; }

  private:
    std::string text_ = "{";
};

std::string array(const std::vector<std::string> &items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? "," : "") + items[i];
    return out + "]";
}

bool same_object(const char *a, const char *b) { return a && b ? std::strcmp(a, b) == 0 : a == b; }

// An entity's metrics as members of its object, in table order; consecutive series naming the same
// json_object share one nested object. other_layout writes the status_classes and histogram layouts.
template <class Slot, class Total, class OtherLayout>
void metric_members(Object &entity, std::span<const MetricFamily<Slot, Total>> families, const Total &t,
                    OtherLayout other_layout) {
    Object nested;
    const char *nested_name = nullptr;
    auto close_nested = [&] {
        if (nested_name) entity.raw(nested_name, nested.done());
        nested = Object();
    };
    for (const auto &f : families)
        for (const auto &s : f.series) {
            if (f.layout == MetricLayout::enumerated) {
                // One member for the family: the name of the series that holds.
                uint64_t held = t.*s.total;
                close_nested();
                nested_name = nullptr;
                if (&s == &f.series.front() && held < f.series.size())
                    entity.str(s.json_key, f.series[held].label_value);
                continue;
            }
            if (!same_object(s.json_object, nested_name)) {
                close_nested();
                nested_name = s.json_object;
            }
            Object &into = nested_name ? nested : entity;
            if (f.layout == MetricLayout::health) into.str("state", t.*s.total ? "DOWN" : "UP");
            if (s.total)
                into.num(s.json_key, t.*s.total);
            else
                into.raw(s.json_key, other_layout(f.layout, t));
        }
    close_nested();
}

std::string requests_json(const MetricsSnapshot::Listener &l) {
    Object by_target;
    uint64_t total = 0;
    for (const auto &[target, counts] : l.requests) {
        Object classes;
        for (size_t c = 0; c < kStatusClasses; ++c) {
            classes.num(status_class_name(c).c_str(), counts[c]);
            total += counts[c];
        }
        by_target.raw(target.c_str(), classes.done());
    }
    return Object().num("total", total).raw("by_target", by_target.done()).done();
}

std::string listener_layout_json(MetricLayout layout, const MetricsSnapshot::Listener &l) {
    if (layout == MetricLayout::status_classes) return requests_json(l);
    return Object().num("count", l.duration_count).raw("sum_seconds", number(l.duration_seconds_sum)).done();
}

// For peers and groups, whose families are all of the series and health layouts.
template <class Slot, class Total>
void metric_members(Object &entity, std::span<const MetricFamily<Slot, Total>> families, const Total &t) {
    metric_members(entity, families, t, [](MetricLayout, const Total &) { return std::string("null"); });
}

} // namespace

std::string status_json(const MetricsSnapshot &s) {
    const ConfigSummary empty;
    const ConfigSummary &config = s.config ? *s.config : empty;

    std::vector<std::string> listeners;
    for (const auto &l : s.listeners) {
        const ConfigSummary::Listener *declared = nullptr;
        for (const auto &c : config.listeners)
            if (c.name == l.name) declared = &c;
        Object listener;
        listener.str("name", l.name)
            .flag("in_config", declared != nullptr)
            .str("listen", declared ? declared->listen : "")
            .str("router", declared ? declared->router : "")
            .str("default_target", declared ? declared->default_target : "");
        metric_members(listener, listener_families(), l, listener_layout_json);
        listeners.push_back(listener.done());
    }

    std::vector<std::string> upstreams;
    for (const auto &u : s.upstreams) {
        const ConfigSummary::Upstream *declared = nullptr;
        for (const auto &c : config.upstreams)
            if (c.name == u.name) declared = &c;
        std::vector<std::string> peers;
        for (const auto &p : u.peers) {
            uint32_t weight = 0;
            if (declared)
                for (const auto &c : declared->peers)
                    if (c.address == p.address) weight = c.weight;
            Object peer;
            if (p.weight) weight = p.weight;
            peer.str("address", p.address).num("weight", weight).str("source", p.source);
            metric_members(peer, peer_families(), p);
            peers.push_back(peer.done());
        }
        Object upstream;
        upstream.str("name", u.name)
            .flag("in_config", declared != nullptr)
            .str("balancer", declared ? declared->balancer : "")
            .num("max_fails", declared ? declared->max_fails : 0)
            .num("fail_timeout_ms", declared ? uint64_t(declared->fail_timeout_ms) : 0)
            .num("max_connections", declared ? declared->max_connections : 0)
            .num("queue_size", declared ? declared->queue_size : 0);
        metric_members(upstream, upstream_families(), u);
        upstreams.push_back(upstream.raw("peers", array(peers)).done());
    }

    std::vector<std::string> handlers, plugins;
    for (const auto &h : config.handlers)
        handlers.push_back(Object().str("name", h.name).str("plugin", h.plugin).done());
    for (const auto &p : config.plugins)
        plugins.push_back(Object().str("name", p.name).str("kind", p.kind).str("file", p.file).done());

    return Object()
               .str("version", PROXYD_VERSION)
               .raw("uptime_seconds", number(s.uptime_seconds))
               .raw("config", Object()
                                  .str("path", config.path)
                                  .num("generation", s.generation)
                                  .num("reloads", s.reloads)
                                  .num("workers", config.workers)
                                  .done())
               .num("live_workers", s.live_workers)
               .raw("admin_auth_failures", Object()
                                               .num("missing", s.admin_token_missing)
                                               .num("invalid", s.admin_token_invalid)
                                               .done())
               .raw("listeners", array(listeners))
               .raw("upstreams", array(upstreams))
               .raw("handlers", array(handlers))
               .raw("plugins", array(plugins))
               .done() +
           "\n";
}

} // namespace proxyd
