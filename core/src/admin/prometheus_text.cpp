#include "admin/admin_pages.hpp"
#include "admin/metric_table.hpp"

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
    void family(const char *name, MetricType type, const char *help) {
        text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text_.append("# TYPE ").append(name).append(" ").append(metric_type_name(type)).append("\n");
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

std::string label(const std::string &name, const std::string &value) {
    return name + "=\"" + label_value(value) + "\"";
}
std::string labels(std::initializer_list<std::string> parts) {
    std::string out;
    for (const auto &p : parts)
        if (!p.empty()) out += (out.empty() ? "" : ",") + p;
    return out;
}

// The series and health layouts: one sample per series, read from the entity's snapshot total.
template <class Slot, class Total>
void series_samples(Exposition &e, const MetricFamily<Slot, Total> &f, const std::string &entity,
                    const Total &t) {
    for (size_t i = 0; i < f.series.size(); ++i) {
        const auto &s = f.series[i];
        uint64_t value = t.*s.total;
        if (f.layout == MetricLayout::health) value = value == 0 ? 1 : 0;
        if (f.layout == MetricLayout::enumerated) value = value == i ? 1 : 0;
        e.sample(f.name, labels({entity, s.label_value ? label(f.series_label, s.label_value) : ""}), value);
    }
}

void status_class_samples(Exposition &e, const ListenerFamily &f, const std::string &listener,
                          const MetricsSnapshot::Listener &l) {
    for (const auto &[target, counts] : l.requests)
        for (size_t c = 0; c < kStatusClasses; ++c)
            if (counts[c])
                e.sample(
                    f.name,
                    labels({listener, label("target", target), label(f.series_label, status_class_name(c))}),
                    counts[c]);
}

void histogram_samples(Exposition &e, const ListenerFamily &f, const std::string &listener,
                       const MetricsSnapshot::Listener &l) {
    std::string name = f.name;
    for (size_t b = 0; b < l.buckets.size(); ++b)
        e.sample(
            name + "_bucket",
            labels({listener, label(f.series_label,
                                    b < kDurationBuckets.size() ? number(kDurationBuckets[b]) : "+Inf")}),
            l.buckets[b]);
    e.sample(name + "_sum", listener, number(l.duration_seconds_sum));
    e.sample(name + "_count", listener, l.duration_count);
}

} // namespace

std::string prometheus_text(const MetricsSnapshot &s) {
    Exposition e;
    for (const auto &m : process_metrics()) {
        e.family(m.name, m.type, m.help);
        for (const auto &sample : m.samples(s)) {
            std::string joined;
            for (const auto &[name, value] : sample.labels)
                joined = labels({joined, label(name, value)});
            e.sample(m.name, joined, sample.value);
        }
    }
    for (const auto &f : listener_families()) {
        e.family(f.name, f.type, f.help);
        for (const auto &l : s.listeners) {
            std::string listener = label("listener", l.name);
            if (f.layout == MetricLayout::status_classes)
                status_class_samples(e, f, listener, l);
            else if (f.layout == MetricLayout::buckets)
                histogram_samples(e, f, listener, l);
            else
                series_samples(e, f, listener, l);
        }
    }
    for (const auto &f : peer_families()) {
        e.family(f.name, f.type, f.help);
        for (const auto &u : s.upstreams)
            for (const auto &p : u.peers)
                series_samples(e, f, labels({label("upstream", u.name), label("peer", p.address)}), p);
    }
    for (const auto &f : upstream_families()) {
        e.family(f.name, f.type, f.help);
        for (const auto &u : s.upstreams)
            series_samples(e, f, label("upstream", u.name), u);
    }
    return e.take();
}

} // namespace proxyd
