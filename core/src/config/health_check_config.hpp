// An upstream group's active health check (its `health_check` table): what to send each peer,
// how often, and what answer counts as healthy. Immutable once loaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd {

struct HealthCheckConfig {
    enum class Type : uint8_t { http, tcp };
    Type type = Type::http;
    std::string method = "GET";
    std::string path = "/";
    std::string host;          // the Host field; empty: the peer's host:port
    uint16_t status_min = 200; // expect_status, inclusive
    uint16_t status_max = 399;
    std::string expect_body; // a substring the body must hold; empty: any body
    std::chrono::milliseconds interval{2000};
    std::chrono::milliseconds timeout{1000};
    uint32_t rise = 2; // consecutive passes that bring a down (or unchecked) peer up
    uint32_t fall = 3; // consecutive failures that take an up (or unchecked) peer down
};

// "200", "200-399" or "2xx" as an inclusive range of statuses from 100 to 599; nullopt otherwise.
std::optional<std::pair<uint16_t, uint16_t>> parse_status_range(std::string_view text);

} // namespace proxyd
