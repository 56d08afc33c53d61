#include "admin/metric_table.hpp"

#include <cstdio>

namespace proxyd {

const char *metric_type_name(MetricType type) {
    static constexpr const char *kNames[] = {"counter", "gauge", "histogram"};
    return kNames[static_cast<size_t>(type)];
}

std::string status_class_name(size_t class_index) { return std::to_string(class_index + 1) + "xx"; }

// clang-format would give every field a line of its own; by hand, each family stays a few lines.
// clang-format off
std::span<const ListenerFamily> listener_families() {
    using L = ListenerMetrics;
    using T = MetricsSnapshot::Listener;
    using enum MetricType;
    using enum MetricLayout;
    static const std::vector<ListenerFamily> families = {
        {.name = "proxyd_client_connections_accepted_total", .type = counter,
         .help = "Client connections accepted.",
         .series = {{.slot = &L::accepted, .total = &T::accepted,
                     .json_object = "connections", .json_key = "accepted", .html_column = "accepted"}}},
        {.name = "proxyd_client_connections_open", .type = gauge,
         .help = "Client connections open now.",
         .series = {{.slot = &L::open, .total = &T::open,
                     .json_object = "connections", .json_key = "open", .html_column = "open"}}},
        {.name = "proxyd_client_received_bytes_total", .type = counter,
         .help = "Bytes read from clients.",
         .series = {{.slot = &L::bytes_received, .total = &T::bytes_received,
                     .json_object = "bytes", .json_key = "received", .html_column = "bytes in"}}},
        {.name = "proxyd_client_sent_bytes_total", .type = counter,
         .help = "Bytes written to clients.",
         .series = {{.slot = &L::bytes_sent, .total = &T::bytes_sent,
                     .json_object = "bytes", .json_key = "sent", .html_column = "bytes out"}}},
        {.name = "proxyd_requests_total", .type = counter,
         .help = "Requests answered, by listener, target (upstream group or handler; - for none) and "
                 "status class.",
         .layout = status_classes, .series_label = "code",
         .series = {{.json_key = "requests", .html_column = "requests"}}},
        {.name = "proxyd_request_duration_seconds", .type = histogram,
         .help = "From a request's first byte to its response's end (or the connection's).",
         .layout = buckets, .series_label = "le",
         .series = {{.json_key = "duration"}}},
    };
    return families;
}

std::span<const PeerFamily> peer_families() {
    using P = PeerMetrics;
    using T = MetricsSnapshot::Peer;
    using enum MetricType;
    using enum MetricLayout;
    static const std::vector<PeerFamily> families = {
        {.name = "proxyd_upstream_peer_up", .type = gauge,
         .help = "1 unless passive health marks the peer down in some worker.",
         .layout = health,
         .series = {{.total = &T::down_in_workers, .json_key = "down_in_workers", .html_column = "state"}}},
        {.name = "proxyd_upstream_peer_active_connections", .type = gauge,
         .help = "Connections to the peer carrying a request.",
         .series = {{.total = &T::active, .json_key = "active_connections", .html_column = "active"}}},
        {.name = "proxyd_upstream_peer_idle_connections", .type = gauge,
         .help = "Keep-alive connections to the peer in the pools.",
         .series = {{.total = &T::idle, .json_key = "idle_connections", .html_column = "idle"}}},
        {.name = "proxyd_upstream_peer_requests_total", .type = counter,
         .help = "Attempts to forward a request to the peer (each retry counts).",
         .series = {{.slot = &P::requests, .total = &T::requests,
                     .json_key = "requests", .html_column = "requests"}}},
        {.name = "proxyd_upstream_peer_failures_total", .type = counter,
         .help = "Failed attempts, by reason: connect, timeout, invalid_response (closed or garbage before "
                 "a head).",
         .series_label = "reason",
         .series = {{"connect", &P::connect_failures, &T::connect_failures,
                     "failures", "connect", "connect failures"},
                    {"timeout", &P::timeouts, &T::timeouts,
                     "failures", "timeout", "timeouts"},
                    {"invalid_response", &P::broken, &T::broken,
                     "failures", "invalid_response", "invalid responses"}}},
        {.name = "proxyd_upstream_peer_check_state", .type = gauge,
         .help = "1 for the peer's active health check state: unchecked (no check or verdict yet), up, down, "
                 "pending (found by DNS, out of rotation until its first check).",
         .layout = enumerated, .series_label = "state",
         .series = {{"unchecked", nullptr, &T::check_state, nullptr, "check", "check"},
                    {"up", nullptr, &T::check_state, nullptr, "check"}, {"down", nullptr, &T::check_state, nullptr, "check"},
                    {"pending", nullptr, &T::check_state, nullptr, "check"}}},
        {.name = "proxyd_upstream_peer_last_check", .type = gauge,
         .help = "1 for the result of the peer's latest active health check: none, pass, fail.",
         .layout = enumerated, .series_label = "result",
         .series = {{"none", nullptr, &T::last_check, nullptr, "last_check", "last check"},
                    {"pass", nullptr, &T::last_check, nullptr, "last_check"}, {"fail", nullptr, &T::last_check, nullptr, "last_check"}}},
        {.name = "proxyd_upstream_peer_last_check_timestamp_seconds", .type = gauge,
         .help = "Unix time of the peer's latest active health check (0: none yet).",
         .series = {{.total = &T::last_check_time, .json_key = "last_check_time", .html_column = "checked at"}}},
        {.name = "proxyd_upstream_peer_admin_state", .type = gauge,
         .help = "1 for the state the admin listener set: ready, drain (no new requests), maintenance "
                 "(no requests, no checks).",
         .layout = enumerated, .series_label = "state",
         .series = {{"ready", nullptr, &T::admin_state, nullptr, "admin_state", "admin"},
                    {"drain", nullptr, &T::admin_state, nullptr, "admin_state"}, {"maintenance", nullptr, &T::admin_state, nullptr, "admin_state"}}},
        {.name = "proxyd_upstream_peer_effective_weight_percent", .type = gauge,
         .help = "The share of its configured weight the peer gets now: slow start ramps it from 10 to 100; "
                 "0 while drained or in maintenance.",
         .series = {{.total = &T::weight_percent, .json_key = "effective_weight_percent", .html_column = "weight %"}}},
        {.name = "proxyd_upstream_peer_in_use_connections", .type = gauge,
         .help = "Requests on the peer now, from all workers (what max_connections limits).",
         .series = {{.slot = &P::in_use, .total = &T::in_use, .json_key = "in_use", .html_column = "in use"}}},
        {.name = "proxyd_upstream_peer_ejected", .type = gauge,
         .help = "1 while outlier detection keeps the peer out of the balancer's choice.",
         .series = {{.total = &T::ejected, .json_key = "ejected", .html_column = "ejected"}}},
        {.name = "proxyd_upstream_peer_ejections_total", .type = counter,
         .help = "Outlier ejections of the peer.",
         .series = {{.slot = &P::ejections, .total = &T::ejections, .json_key = "ejections",
                     .html_column = "ejections"}}},
    };
    return families;
}

std::span<const UpstreamFamily> upstream_families() {
    using U = UpstreamMetrics;
    using T = MetricsSnapshot::Upstream;
    using enum MetricType;
    static const std::vector<UpstreamFamily> families = {
        {.name = "proxyd_upstream_gateway_errors_total", .type = counter,
         .help = "Requests for the group that proxyd answered 502 or 504 itself after its peers failed.",
         .series_label = "code",
         .series = {{"502", &U::answered_502, &T::answered_502, "answered", "502", "answered 502"},
                    {"504", &U::answered_504, &T::answered_504, "answered", "504", "answered 504"}}},
        {.name = "proxyd_upstream_queued_requests", .type = gauge,
         .help = "Requests waiting for a peer under its max_connections.",
         .series = {{.slot = &U::queued, .total = &T::queued, .json_object = "queue", .json_key = "length",
                     .html_column = "queued"}}},
        {.name = "proxyd_upstream_queue_rejected_total", .type = counter,
         .help = "Requests answered 503 by the queue, by reason: full (at once) or timeout (after queue_timeout).",
         .series_label = "reason",
         .series = {{"full", &U::queue_full, &T::queue_full, "queue", "full", "queue full"},
                    {"timeout", &U::queue_timeout, &T::queue_timeout, "queue", "timeout", "queue timeouts"}}},
        {.name = "proxyd_upstream_retries_total", .type = counter,
         .help = "Attempts after a request's first, on another peer.",
         .series = {{.slot = &U::retries, .total = &T::retries, .json_key = "retries", .html_column = "retries"}}},
        {.name = "proxyd_upstream_retry_budget_exhausted_total", .type = counter,
         .help = "Retries the retry budget refused: the failure went to the client as it was.",
         .series = {{.slot = &U::retry_budget_exhausted, .total = &T::retry_budget_exhausted,
                     .json_key = "retry_budget_exhausted", .html_column = "budget exhausted"}}},
    };
    return families;
}
// clang-format on

namespace {

std::vector<MetricSample> one(std::string value) { return {MetricSample{{}, std::move(value)}}; }

} // namespace

std::span<const ProcessMetric> process_metrics() {
    using enum MetricType;
    static const std::vector<ProcessMetric> metrics = {
        {"proxyd_build_info", gauge, "Always 1; the labels say which proxyd this is.",
         [](const MetricsSnapshot &) {
             return std::vector<MetricSample>{{{{"version", PROXYD_VERSION}}, "1"}};
         }},
        {"proxyd_start_time_seconds", gauge, "Unix time when proxyd started.",
         [](const MetricsSnapshot &s) {
             char start[32];
             std::snprintf(start, sizeof start, "%.3f", s.start_time_seconds);
             return one(start);
         }},
        {"proxyd_config_generation", gauge, "The generation of the configuration serving new connections.",
         [](const MetricsSnapshot &s) { return one(std::to_string(s.generation)); }},
        {"proxyd_config_reloads_total", counter, "Configuration reloads since start.",
         [](const MetricsSnapshot &s) { return one(std::to_string(s.reloads)); }},
        {"proxyd_workers", gauge, "Worker threads running.",
         [](const MetricsSnapshot &s) { return one(std::to_string(s.live_workers)); }},
        {"proxyd_admin_auth_failures_total", counter,
         "Admin requests refused for their Bearer token, by reason: missing (no Authorization field), "
         "invalid (another scheme or token, or several fields).",
         [](const MetricsSnapshot &s) {
             return std::vector<MetricSample>{
                 {{{"reason", "missing"}}, std::to_string(s.admin_token_missing)},
                 {{{"reason", "invalid"}}, std::to_string(s.admin_token_invalid)}};
         }},
        {"proxyd_plugin_info", gauge, "Always 1 per loaded plugin module.",
         [](const MetricsSnapshot &s) {
             std::vector<MetricSample> samples;
             if (s.config)
                 for (const auto &p : s.config->plugins)
                     samples.push_back({{{"name", p.name}, {"kind", p.kind}, {"file", p.file}}, "1"});
             return samples;
         }},
    };
    return metrics;
}

} // namespace proxyd
