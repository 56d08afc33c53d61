// Durations as written in configs: "500ms", "5s", "2m", "1h", "1m30s".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd {

// The longest a config may write: a year. Longer is a typo (or "forever", which no timeout means),
// and deadlines computed from it would overflow the clocks' nanoseconds.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 365);

// nullopt when text is not a duration or is longer than kMaxDuration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// A duration as a config would write it: "10s", "1500ms".
std::string duration_text(std::chrono::milliseconds d);

} // namespace proxyd
