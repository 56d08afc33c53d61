#include "config/health_check_config.hpp"

#include <charconv>

namespace proxyd {

namespace {

std::optional<uint16_t> status_code(std::string_view text) {
    unsigned value = 0;
    if (text.size() != 3) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 100 || value > 599)
        return std::nullopt;
    return static_cast<uint16_t>(value);
}

} // namespace

std::optional<std::pair<uint16_t, uint16_t>> parse_status_range(std::string_view text) {
    if (text.size() == 3 && text[0] >= '1' && text[0] <= '5' && text.substr(1) == "xx") {
        auto base = static_cast<uint16_t>((text[0] - '0') * 100);
        return std::pair<uint16_t, uint16_t>{base, static_cast<uint16_t>(base + 99)};
    }
    size_t dash = text.find('-');
    auto low = status_code(text.substr(0, dash));
    auto high = dash == std::string_view::npos ? low : status_code(text.substr(dash + 1));
    if (!low || !high || *low > *high) return std::nullopt;
    return std::pair<uint16_t, uint16_t>{*low, *high};
}

} // namespace proxyd
