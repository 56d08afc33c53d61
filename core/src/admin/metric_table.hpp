// Every metric of the admin pages, defined once: its Prometheus name, type, help and labels, the
// counter each worker keeps it in, the snapshot total it is summed into, and the names the JSON and
// HTML pages give it. MetricsStore sums worker slots by these rows, and prometheus_text, status_json
// and status_page are written from them, so a new metric is one row here plus its Counter.
// The request path never reads the table: workers keep writing their named Counters directly.
#pragma once

#include "admin/metrics.hpp"

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace proxyd {

enum class MetricType { counter, gauge, histogram };
const char *metric_type_name(MetricType type);

// How a family's samples are laid out; each page has one way of writing each layout.
enum class MetricLayout {
    series,         // one number per entity for each of the family's series
    health,         // a count of workers that mark a peer down; shown as up (1) or down (0)
    status_classes, // per listener, target and status class (MetricsSnapshot::Listener::requests)
    buckets,        // request durations (MetricsSnapshot::Listener::buckets, sum and count)
    // One state among named ones: every series reads the same total, the index of the series
    // (label_value) that holds; /metrics gives 1 to that series and 0 to the others, the JSON
    // page writes its name under the series' (shared) key, the HTML page under the first one's column.
    enumerated,
};

// One number of an entity (a listener, a peer, an upstream group) and its names in the pages.
template <class Slot, class Total> struct MetricSeries {
    // The value of the family's series_label; nullptr in a family of one series.
    const char *label_value = nullptr;
    // The counter each worker keeps; nullptr where summing the slots derives the value (a peer's
    // active connections) or the layout has its own storage.
    Counter Slot::*slot = nullptr;
    uint64_t Total::*total = nullptr; // the snapshot's sum; nullptr in the status_classes and buckets layouts
    const char *json_object = nullptr; // the member object of the entity's JSON it is nested in, if any
    const char *json_key = nullptr;
    const char *html_column = nullptr; // nullptr where the HTML page does not show it
};

template <class Slot, class Total> struct MetricFamily {
    const char *name = nullptr;
    MetricType type = MetricType::counter;
    const char *help = nullptr;
    MetricLayout layout = MetricLayout::series;
    const char *series_label = nullptr; // the label telling the series apart; nullptr for one series
    std::vector<MetricSeries<Slot, Total>> series;
};

// Samples of a listener family carry listener="…", of a peer family upstream="…" and peer="…", of a
// group family upstream="…"; then the family's series_label, if it has one.
using ListenerFamily = MetricFamily<ListenerMetrics, MetricsSnapshot::Listener>;
using PeerFamily = MetricFamily<PeerMetrics, MetricsSnapshot::Peer>;
using UpstreamFamily = MetricFamily<UpstreamMetrics, MetricsSnapshot::Upstream>;

// The families of each entity, in the order the pages list them.
std::span<const ListenerFamily> listener_families();
std::span<const PeerFamily> peer_families();
std::span<const UpstreamFamily> upstream_families();

// A fact of the whole process (its version, generation, plugins) rather than of worker slots; only
// /metrics lists these as metrics, the other pages show them among the config's facts.
struct MetricSample {
    std::vector<std::pair<std::string, std::string>> labels;
    std::string value;
};
struct ProcessMetric {
    const char *name;
    MetricType type;
    const char *help;
    std::vector<MetricSample> (*samples)(const MetricsSnapshot &snapshot);
};
std::span<const ProcessMetric> process_metrics();

// "2xx" for class index 1: the code label of requests and the name of its columns and keys.
std::string status_class_name(size_t class_index);

} // namespace proxyd
