// The admin listener's three pages, rendered from one MetricsSnapshot: Prometheus text exposition
// format 0.0.4 (/metrics), a self-refreshing HTML page in the spirit of HAProxy's stats page
// (/status) and the same data as JSON (/status.json; schema in docs/operating.md), each written from
// the rows of metric_table.
#pragma once

#include "admin/metrics.hpp"

#include <string>

namespace proxyd {

std::string prometheus_text(const MetricsSnapshot &snapshot);
std::string status_json(const MetricsSnapshot &snapshot);
std::string status_page(const MetricsSnapshot &snapshot);

} // namespace proxyd
