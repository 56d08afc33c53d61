#include "config/duration.hpp"

#include <cstdint>

namespace proxyd {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t total_ms = 0;
    size_t i = 0;
    while (i < text.size()) {
        uint64_t value = 0;
        size_t digits = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            value = value * 10 + static_cast<uint64_t>(text[i] - '0');
            if (value > (1ull << 40)) return std::nullopt;
            ++i, ++digits;
        }
        if (digits == 0) return std::nullopt;
        size_t unit_start = i;
        while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
        std::string_view unit = text.substr(unit_start, i - unit_start);
        uint64_t factor = 0;
        if (unit == "ms") factor = 1;
        else if (unit == "s") factor = 1000;
        else if (unit == "m") factor = 60 * 1000;
        else if (unit == "h") factor = 3600 * 1000;
        else return std::nullopt;
        total_ms += value * factor;
        if (total_ms > static_cast<uint64_t>(kMaxDuration.count())) return std::nullopt;
    }
    return std::chrono::milliseconds(total_ms);
}

std::string duration_text(std::chrono::milliseconds d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

} // namespace proxyd
