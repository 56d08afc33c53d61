#include "byte_ranges.hpp"

#include "http_text.hpp"

#include <algorithm>
#include <optional>

namespace proxyd::static_files {
namespace {

// A byte position: digits only. Values too big for 64 bits saturate, which keeps the comparisons
// that follow right (such a position is past any file's end).
std::optional<uint64_t> parse_position(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        uint64_t digit = static_cast<uint64_t>(c - '0');
        value = value > (UINT64_MAX - digit) / 10 ? UINT64_MAX : value * 10 + digit;
    }
    return value;
}

enum class SpecResult { Satisfiable, Unsatisfiable, Invalid };

// One int-range or suffix-range (RFC 9110 §14.1.1) against size (> 0).
SpecResult parse_spec(std::string_view spec, uint64_t size, ByteRange &out) {
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return SpecResult::Invalid;
    std::string_view first_text = spec.substr(0, dash);
    std::string_view last_text = spec.substr(dash + 1);
    if (first_text.empty()) {
        std::optional<uint64_t> suffix = parse_position(last_text);
        if (!suffix) return SpecResult::Invalid;
        if (*suffix == 0) return SpecResult::Unsatisfiable;
        out.length = std::min(*suffix, size);
        out.offset = size - out.length;
        return SpecResult::Satisfiable;
    }
    std::optional<uint64_t> first = parse_position(first_text);
    std::optional<uint64_t> last =
        last_text.empty() ? std::optional<uint64_t>(UINT64_MAX) : parse_position(last_text);
    if (!first || !last || *last < *first) return SpecResult::Invalid;
    if (*first >= size) return SpecResult::Unsatisfiable;
    out.offset = *first;
    out.length = std::min(*last, size - 1) - *first + 1;
    return SpecResult::Satisfiable;
}

} // namespace

RangePlan plan_ranges(std::string_view range, uint64_t size, size_t max_ranges) {
    const RangePlan whole;
    const RangePlan unsatisfiable{RangePlan::Kind::Unsatisfiable, {}};
    // An empty file has no byte to select; 200 with no body is what any client wants (nginx
    // answers the same), where the letter of §14.1.1 would make every int-range a 416.
    if (size == 0 || max_ranges == 0) return whole;
    range = trim_optional_space(range);
    size_t equals = range.find('=');
    if (equals == std::string_view::npos ||
        !equals_ignore_case(trim_optional_space(range.substr(0, equals)), "bytes"))
        return whole;

    std::string_view set = range.substr(equals + 1);
    RangePlan plan{RangePlan::Kind::Partial, {}};
    size_t specs = 0;
    uint64_t total = 0; // of the satisfiable ranges
    while (!set.empty()) {
        size_t comma = set.find(',');
        std::string_view spec = trim_optional_space(set.substr(0, comma));
        set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
        if (spec.empty()) continue; // the list syntax allows empty elements
        // Counted before parsing, so a long header costs no more than max_ranges specs' work.
        if (++specs > max_ranges) return whole;
        ByteRange part;
        switch (parse_spec(spec, size, part)) {
        case SpecResult::Invalid:
            return unsatisfiable;
        case SpecResult::Unsatisfiable:
            continue;
        case SpecResult::Satisfiable:
            // Each length is at most size, so the sum cannot wrap before it passes size.
            total += part.length;
            if (total > size) return whole;
            plan.ranges.push_back(part);
            break;
        }
    }
    // "bytes=" (no range-spec) does not parse; ranges all past the end are not satisfiable.
    if (plan.ranges.empty()) return unsatisfiable;
    return plan;
}

std::string format_content_range(const ByteRange &range, uint64_t size) {
    return "bytes " + std::to_string(range.offset) + "-" + std::to_string(range.offset + range.length - 1) +
           "/" + std::to_string(size);
}

std::string format_unsatisfied_range(uint64_t size) { return "bytes */" + std::to_string(size); }

} // namespace proxyd::static_files
