// Durations as written in configs: "500ms", "5s", "2m", "1h", "1m30s".
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace proxyd {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

} // namespace proxyd
