#include "admin/admin_pages.hpp"

#include <cstdio>

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

} // namespace

std::string status_json(const MetricsSnapshot &s) {
    const ConfigSummary empty;
    const ConfigSummary &config = s.config ? *s.config : empty;

    std::vector<std::string> listeners;
    for (const auto &l : s.listeners) {
        const ConfigSummary::Listener *declared = nullptr;
        for (const auto &c : config.listeners)
            if (c.name == l.name) declared = &c;
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
        listeners.push_back(
            Object()
                .str("name", l.name)
                .flag("in_config", declared != nullptr)
                .str("listen", declared ? declared->listen : "")
                .str("router", declared ? declared->router : "")
                .str("default_target", declared ? declared->default_target : "")
                .raw("connections", Object().num("accepted", l.accepted).num("open", l.open).done())
                .raw("bytes", Object().num("received", l.bytes_received).num("sent", l.bytes_sent).done())
                .raw("requests", Object().num("total", total).raw("by_target", by_target.done()).done())
                .raw("duration", Object()
                                     .num("count", l.duration_count)
                                     .raw("sum_seconds", number(l.duration_seconds_sum))
                                     .done())
                .done());
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
            peers.push_back(Object()
                                .str("address", p.address)
                                .num("weight", weight)
                                .str("state", p.down ? "DOWN" : "UP")
                                .num("down_in_workers", p.down_in_workers)
                                .num("active_connections", p.active)
                                .num("idle_connections", p.idle)
                                .num("requests", p.requests)
                                .raw("failures", Object()
                                                     .num("connect", p.connect_failures)
                                                     .num("timeout", p.timeouts)
                                                     .num("invalid_response", p.broken)
                                                     .done())
                                .done());
        }
        upstreams.push_back(
            Object()
                .str("name", u.name)
                .flag("in_config", declared != nullptr)
                .str("balancer", declared ? declared->balancer : "")
                .num("max_fails", declared ? declared->max_fails : 0)
                .num("fail_timeout_ms", declared ? uint64_t(declared->fail_timeout_ms) : 0)
                .raw("answered", Object().num("502", u.answered_502).num("504", u.answered_504).done())
                .raw("peers", array(peers))
                .done());
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
               .raw("listeners", array(listeners))
               .raw("upstreams", array(upstreams))
               .raw("handlers", array(handlers))
               .raw("plugins", array(plugins))
               .done() +
           "\n";
}

} // namespace proxyd
