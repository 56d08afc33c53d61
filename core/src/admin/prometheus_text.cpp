#include "admin/admin_pages.hpp"

#include <cstdio>

namespace proxyd {
namespace {

// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
std::string label_value(const std::string &value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string number(double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", value);
    return buf;
}

class Exposition {
  public:
    void family(const char *name, const char *type, const char *help) {
        text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    }
    // labels: name="value" pairs already joined by label().
    void sample(const std::string &name, const std::string &labels, const std::string &value) {
        text_.append(name);
        if (!labels.empty()) text_.append("{").append(labels).append("}");
        text_.append(" ").append(value).append("\n");
    }
    void sample(const std::string &name, const std::string &labels, uint64_t value) {
        sample(name, labels, std::to_string(value));
    }
    std::string take() { return std::move(text_); }

  private:
    std::string text_;
};

std::string label(const char *name, const std::string &value) {
    return std::string(name) + "=\"" + label_value(value) + "\"";
}
std::string labels(std::initializer_list<std::string> parts) {
    std::string out;
    for (const auto &p : parts)
        out += (out.empty() ? "" : ",") + p;
    return out;
}

} // namespace

std::string status_class_name(size_t class_index) { return std::to_string(class_index + 1) + "xx"; }

std::string prometheus_text(const MetricsSnapshot &s) {
    Exposition e;
    e.family("proxyd_build_info", "gauge", "Always 1; the labels say which proxyd this is.");
    e.sample("proxyd_build_info", label("version", PROXYD_VERSION), 1);
    e.family("proxyd_start_time_seconds", "gauge", "Unix time when proxyd started.");
    char start[32];
    std::snprintf(start, sizeof start, "%.3f", s.start_time_seconds);
    e.sample("proxyd_start_time_seconds", "", start);
    e.family("proxyd_config_generation", "gauge",
             "The generation of the configuration serving new connections.");
    e.sample("proxyd_config_generation", "", s.generation);
    e.family("proxyd_config_reloads_total", "counter", "Configuration reloads since start.");
    e.sample("proxyd_config_reloads_total", "", s.reloads);
    e.family("proxyd_workers", "gauge", "Worker threads running.");
    e.sample("proxyd_workers", "", s.live_workers);
    e.family("proxyd_plugin_info", "gauge", "Always 1 per loaded plugin module.");
    if (s.config)
        for (const auto &p : s.config->plugins)
            e.sample("proxyd_plugin_info",
                     labels({label("name", p.name), label("kind", p.kind), label("file", p.file)}), 1);

    e.family("proxyd_client_connections_accepted_total", "counter", "Client connections accepted.");
    for (const auto &l : s.listeners)
        e.sample("proxyd_client_connections_accepted_total", label("listener", l.name), l.accepted);
    e.family("proxyd_client_connections_open", "gauge", "Client connections open now.");
    for (const auto &l : s.listeners)
        e.sample("proxyd_client_connections_open", label("listener", l.name), l.open);
    e.family("proxyd_client_received_bytes_total", "counter", "Bytes read from clients.");
    for (const auto &l : s.listeners)
        e.sample("proxyd_client_received_bytes_total", label("listener", l.name), l.bytes_received);
    e.family("proxyd_client_sent_bytes_total", "counter", "Bytes written to clients.");
    for (const auto &l : s.listeners)
        e.sample("proxyd_client_sent_bytes_total", label("listener", l.name), l.bytes_sent);

    e.family(
        "proxyd_requests_total", "counter",
        "Requests answered, by listener, target (upstream group or handler; - for none) and status class.");
    for (const auto &l : s.listeners)
        for (const auto &[target, counts] : l.requests)
            for (size_t c = 0; c < kStatusClasses; ++c)
                if (counts[c])
                    e.sample("proxyd_requests_total",
                             labels({label("listener", l.name), label("target", target),
                                     label("code", status_class_name(c))}),
                             counts[c]);
    e.family("proxyd_request_duration_seconds", "histogram",
             "From a request's first byte to its response's end (or the connection's).");
    for (const auto &l : s.listeners) {
        std::string ln = label("listener", l.name);
        for (size_t b = 0; b < l.buckets.size(); ++b)
            e.sample(
                "proxyd_request_duration_seconds_bucket",
                labels({ln, label("le", b < kDurationBuckets.size() ? number(kDurationBuckets[b]) : "+Inf")}),
                l.buckets[b]);
        e.sample("proxyd_request_duration_seconds_sum", ln, number(l.duration_seconds_sum));
        e.sample("proxyd_request_duration_seconds_count", ln, l.duration_count);
    }

    auto per_peer = [&](const char *name, const char *type, const char *help, auto value) {
        e.family(name, type, help);
        for (const auto &u : s.upstreams)
            for (const auto &p : u.peers)
                e.sample(name, labels({label("upstream", u.name), label("peer", p.address)}), value(p));
    };
    per_peer("proxyd_upstream_peer_up", "gauge",
             "1 unless passive health marks the peer down in some worker.",
             [](const MetricsSnapshot::Peer &p) { return uint64_t(p.down ? 0 : 1); });
    per_peer("proxyd_upstream_peer_active_connections", "gauge",
             "Connections to the peer carrying a request.",
             [](const MetricsSnapshot::Peer &p) { return p.active; });
    per_peer("proxyd_upstream_peer_idle_connections", "gauge",
             "Keep-alive connections to the peer in the pools.",
             [](const MetricsSnapshot::Peer &p) { return p.idle; });
    per_peer("proxyd_upstream_peer_requests_total", "counter",
             "Attempts to forward a request to the peer (each retry counts).",
             [](const MetricsSnapshot::Peer &p) { return p.requests; });
    e.family(
        "proxyd_upstream_peer_failures_total", "counter",
        "Failed attempts, by reason: connect, timeout, invalid_response (closed or garbage before a head).");
    for (const auto &u : s.upstreams)
        for (const auto &p : u.peers) {
            std::string base = labels({label("upstream", u.name), label("peer", p.address)});
            e.sample("proxyd_upstream_peer_failures_total", base + "," + label("reason", "connect"),
                     p.connect_failures);
            e.sample("proxyd_upstream_peer_failures_total", base + "," + label("reason", "timeout"),
                     p.timeouts);
            e.sample("proxyd_upstream_peer_failures_total", base + "," + label("reason", "invalid_response"),
                     p.broken);
        }
    e.family("proxyd_upstream_gateway_errors_total", "counter",
             "Requests for the group that proxyd answered 502 or 504 itself after its peers failed.");
    for (const auto &u : s.upstreams) {
        e.sample("proxyd_upstream_gateway_errors_total",
                 labels({label("upstream", u.name), label("code", "502")}), u.answered_502);
        e.sample("proxyd_upstream_gateway_errors_total",
                 labels({label("upstream", u.name), label("code", "504")}), u.answered_504);
    }
    return e.take();
}

} // namespace proxyd
