#include "http/max_forwards.hpp"

#include <algorithm>
#include <charconv>

namespace proxyd {

std::optional<uint64_t> parse_max_forwards(std::string_view value) {
    if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    // Leading zeros say nothing ("007" is 7), so they do not make a value look huge.
    value.remove_prefix(std::min(value.find_first_not_of('0'), value.size() - 1));
    // Past 18 digits the count is this proxy's largest, which RFC 9110 §7.6.2 lets it forward
    // instead of the received value less one.
    if (value.size() > 18) return kMaxForwardsSupported;
    uint64_t hops = 0;
    std::from_chars(value.data(), value.data() + value.size(), hops);
    return hops;
}

} // namespace proxyd
