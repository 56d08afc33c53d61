// Max-Forwards (RFC 9110 §7.6.2): how many more intermediaries may forward an OPTIONS or TRACE
// request. An intermediary that receives 0 answers as the final recipient; one that forwards the
// request sends the received value less one. Other methods carry the field end to end.
#pragma once

#include "http/header_rules.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace proxyd {

inline constexpr std::string_view kMaxForwards = "Max-Forwards";
inline constexpr uint64_t kMaxForwardsSupported = 999'999'999'999'999'999;

// OPTIONS and TRACE, the methods whose Max-Forwards an intermediary reads (case-sensitive, as
// methods are: RFC 9110 §9.1).
inline bool method_reads_max_forwards(std::string_view method) {
    return method == "OPTIONS" || method == "TRACE";
}

// The value of a Max-Forwards field (1*DIGIT), at most kMaxForwardsSupported; nullopt for
// anything else, which is not a hop count to act on (it goes on as it came).
std::optional<uint64_t> parse_max_forwards(std::string_view value);

// The hop count of a head whose method reads it: the value of its one Max-Forwards field, or
// nullopt when it has none, several, or one that is not a number. head: a MessageHead or a
// HeaderList.
template <class Head> std::optional<uint64_t> max_forwards(std::string_view method, const Head &head) {
    if (!method_reads_max_forwards(method)) return std::nullopt;
    std::optional<uint64_t> hops;
    bool seen = false;
    for (size_t i = 0; i < head.header_count(); ++i) {
        if (!iequals(head.header_name(i), kMaxForwards)) continue;
        if (seen) return std::nullopt;
        seen = true;
        hops = parse_max_forwards(head.header_value(i));
    }
    return hops;
}

} // namespace proxyd
