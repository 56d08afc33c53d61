// Range requests (RFC 9110 §14.1-14.2) for the static plugin: which byte ranges of a
// representation a Range header value asks for, and whether they are served, with no I/O.
#ifndef PROXYD_PLUGINS_BYTE_RANGES_HPP
#define PROXYD_PLUGINS_BYTE_RANGES_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::static_files {

// [offset, offset + length) of a representation; length is never 0.
struct ByteRange {
    uint64_t offset = 0;
    uint64_t length = 0;
};

struct RangePlan {
    enum class Kind {
        Whole,        // Range ignored: 200 with the whole representation
        Partial,      // 206: one range (plain) or several (multipart/byteranges)
        Unsatisfiable // 416 with "Content-Range: bytes */size"
    } kind = Kind::Whole;
    std::vector<ByteRange> ranges; // Partial: the satisfiable ranges, in the order asked
};

// The default bound on range-specs per request (the max_ranges key); see plan_ranges.
inline constexpr size_t kDefaultMaxRanges = 16;

// Plans a Range header value against a representation of size bytes:
// - a unit other than bytes, or a zero-length representation: Whole;
// - more than max_ranges range-specs (0: any Range at all): Whole, as nginx's max_ranges does,
//   so a request cannot make the plugin frame thousands of parts;
// - a range-spec that does not parse: Unsatisfiable (rejected, as nginx does, rather than
//   ignored; RFC 9110 §14.2 allows either);
// - ranges past the end are skipped; none left: Unsatisfiable;
// - satisfiable ranges whose lengths add up to more than size (overlaps, repeats): Whole, so
//   the body never outgrows the file (RFC 9110 §14.2's note on many small or overlapping
//   ranges). Otherwise they are served as asked, in their order, overlaps included (nginx).
// Positions too large for 64 bits saturate, which puts them past any end.
RangePlan plan_ranges(std::string_view range, uint64_t size, size_t max_ranges = kDefaultMaxRanges);

// "bytes 0-499/1234", the Content-Range of a range (of a 206 or of one part of it).
std::string format_content_range(const ByteRange &range, uint64_t size);

// "bytes */1234", the Content-Range of a 416.
std::string format_unsatisfied_range(uint64_t size);

} // namespace proxyd::static_files

#endif
