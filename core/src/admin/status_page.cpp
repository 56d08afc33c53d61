#include "admin/admin_pages.hpp"
#include "admin/metric_table.hpp"

#include <cstdio>

namespace proxyd {
namespace {

std::string escaped(const std::string &text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string cell(const std::string &text) { return "<td>" + escaped(text) + "</td>"; }
std::string cell(uint64_t value) { return "<td class=\"n\">" + std::to_string(value) + "</td>"; }

std::string duration_text(double seconds) {
    auto total = static_cast<uint64_t>(seconds);
    char buf[64];
    std::snprintf(
        buf, sizeof buf, "%llud %02lluh %02llum %02llus", static_cast<unsigned long long>(total / 86400),
        static_cast<unsigned long long>(total / 3600 % 24), static_cast<unsigned long long>(total / 60 % 60),
        static_cast<unsigned long long>(total % 60));
    return buf;
}

std::string status_class_headers() {
    std::string h;
    for (size_t c = 0; c < kStatusClasses; ++c)
        h += "<th>" + status_class_name(c) + "</th>";
    return h;
}

// The column headers of an entity's metrics, in table order.
template <class Slot, class Total>
std::string metric_headers(std::span<const MetricFamily<Slot, Total>> families) {
    std::string h;
    for (const auto &f : families)
        for (const auto &s : f.series)
            if (s.html_column) {
                h += "<th>" + std::string(s.html_column) + "</th>";
                if (f.layout == MetricLayout::status_classes) h += status_class_headers();
            }
    return h;
}

std::string state_cell(bool down) {
    return std::string("<td class=\"state ") + (down ? "down\">DOWN" : "up\">UP") + "</td>";
}

// The cells under metric_headers(); other_layout writes the status_classes layout.
template <class Slot, class Total, class OtherLayout>
std::string metric_cells(std::span<const MetricFamily<Slot, Total>> families, const Total &t,
                         OtherLayout other_layout) {
    std::string h;
    for (const auto &f : families)
        for (const auto &s : f.series) {
            if (!s.html_column) continue;
            if (f.layout == MetricLayout::health)
                h += state_cell(t.*s.total != 0);
            else if (f.layout == MetricLayout::enumerated)
                h += t.*s.total < f.series.size()
                         ? "<td>" + std::string(f.series[t.*s.total].label_value) + "</td>"
                         : "<td></td>";
            else
                h += s.total ? cell(t.*s.total) : other_layout(t);
        }
    return h;
}

// For peers, whose families are all of the series and health layouts.
template <class Slot, class Total>
std::string metric_cells(std::span<const MetricFamily<Slot, Total>> families, const Total &t) {
    return metric_cells(families, t, [](const Total &) { return std::string(); });
}

// A requests total and a count per status class, summed over the listener's targets.
std::string status_class_cells(const MetricsSnapshot::Listener &l) {
    std::array<uint64_t, kStatusClasses> classes{};
    uint64_t total = 0;
    for (const auto &[target, counts] : l.requests)
        for (size_t c = 0; c < kStatusClasses; ++c)
            classes[c] += counts[c], total += counts[c];
    std::string h = cell(total);
    for (uint64_t n : classes)
        h += cell(n);
    return h;
}

// "answered 502: 3, answered 504: 0" in a group's caption.
std::string caption_counts(const MetricsSnapshot::Upstream &u) {
    std::string text;
    for (const auto &f : upstream_families())
        for (const auto &s : f.series)
            text +=
                (text.empty() ? "" : ", ") + std::string(s.html_column) + ": " + std::to_string(u.*s.total);
    return text;
}

constexpr const char *kStyle = R"(
body{font:13px/1.4 sans-serif;margin:1em 2em;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 .3em}h2{font-size:16px;margin:1.2em 0 .3em}
table{border-collapse:collapse;margin-bottom:.5em}th,td{border:1px solid #bbb;padding:2px 8px;text-align:left}
th{background:#dde4ee}td.n{text-align:right;font-family:monospace}
td.state{font-weight:bold;text-align:center}.up{background:#b5e8b0}.down{background:#f4a6a6}
.facts td:first-child{font-weight:bold;background:#eee}caption{text-align:left;font-weight:bold;padding:2px 0}
)";

} // namespace

std::string status_page(const MetricsSnapshot &s) {
    const ConfigSummary empty;
    const ConfigSummary &config = s.config ? *s.config : empty;
    std::string h;
    h.reserve(8192);
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"refresh\" content=\"5\"><title>proxyd status</title><style>";
    h += kStyle;
    h += "</style></head><body>\n<h1>proxyd status</h1>\n<table class=\"facts\">";
    h += "<tr><td>version</td>" + cell(PROXYD_VERSION) + "</tr>";
    h += "<tr><td>config file</td><td id=\"config-path\">" + escaped(config.path) + "</td></tr>";
    h += "<tr><td>config generation</td><td id=\"generation\">" + std::to_string(s.generation) + "</td></tr>";
    h += "<tr><td>reloads</td>" + cell(s.reloads) + "</tr>";
    h += "<tr><td>uptime</td>" + cell(duration_text(s.uptime_seconds)) + "</tr>";
    h += "<tr><td>workers</td>" + cell(std::to_string(s.live_workers) + " running") + "</tr>";
    h += "<tr><td>admin requests refused (token)</td>" +
         cell(std::to_string(s.admin_token_missing) + " missing, " + std::to_string(s.admin_token_invalid) +
              " invalid") +
         "</tr></table>\n";

    h += "<h2>Listeners</h2>\n<table id=\"listeners\"><tr><th>name</th><th>listen</th><th>router</th>"
         "<th>default target</th>" +
         metric_headers(listener_families()) + "</tr>\n";
    for (const auto &l : s.listeners) {
        const ConfigSummary::Listener *declared = nullptr;
        for (const auto &c : config.listeners)
            if (c.name == l.name) declared = &c;
        h += "<tr class=\"listener\" data-listener=\"" + escaped(l.name) + "\">" + cell(l.name) +
             cell(declared ? declared->listen : "(earlier generation)") +
             cell(declared ? declared->router : "") + cell(declared ? declared->default_target : "") +
             metric_cells(listener_families(), l, status_class_cells) + "</tr>\n";
    }
    h += "</table>\n";

    h += "<h2>Routes</h2>\n<table id=\"routes\"><tr><th>listener</th><th>target</th>" +
         status_class_headers() + "</tr>\n";
    for (const auto &l : s.listeners)
        for (const auto &[target, counts] : l.requests) {
            h += "<tr>" + cell(l.name) + cell(target);
            for (uint64_t n : counts)
                h += cell(n);
            h += "</tr>\n";
        }
    h += "</table>\n";

    h += "<h2>Upstream groups</h2>\n";
    for (const auto &u : s.upstreams) {
        const ConfigSummary::Upstream *declared = nullptr;
        for (const auto &c : config.upstreams)
            if (c.name == u.name) declared = &c;
        h +=
            "<table class=\"upstream\" data-upstream=\"" + escaped(u.name) + "\"><caption>" +
            escaped(u.name) +
            (declared ? " — balancer " + escaped(declared->balancer) : std::string(" — earlier generation")) +
            " — " + caption_counts(u) + "</caption><tr><th>peer</th>" + metric_headers(peer_families()) +
            "</tr>\n";
        for (const auto &p : u.peers)
            h += "<tr class=\"peer\" data-peer=\"" + escaped(p.address) + "\" data-state=\"" +
                 (p.down ? "DOWN" : "UP") + "\">" +
                 cell(p.source.empty() ? p.address : p.address + " (DNS " + p.source + ")") +
                 metric_cells(peer_families(), p) + "</tr>\n";
        h += "</table>\n";
    }

    h += "<h2>Handlers</h2>\n<table id=\"handlers\"><tr><th>name</th><th>plugin</th></tr>\n";
    for (const auto &handler : config.handlers)
        h += "<tr>" + cell(handler.name) + cell(handler.plugin) + "</tr>\n";
    h += "</table>\n<h2>Plugins</h2>\n<table "
         "id=\"plugins\"><tr><th>name</th><th>kind</th><th>file</th></tr>\n";
    for (const auto &p : config.plugins)
        h += "<tr>" + cell(p.name) + cell(p.kind) + cell(p.file) + "</tr>\n";
    h += "</table>\n<p>Also: <a href=\"/status.json\">/status.json</a>, <a href=\"/metrics\">/metrics</a>. "
         "This page reloads every 5 seconds.</p>\n</body></html>\n";
    return h;
}

} // namespace proxyd
