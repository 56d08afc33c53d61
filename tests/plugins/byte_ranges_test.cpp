// content/static: planning a Range header (RFC 9110 §14.1-14.2) and framing several ranges as
// multipart/byteranges (§14.6), without I/O.
#include "byte_ranges.hpp"
#include "multipart_byteranges.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

using namespace proxyd::static_files;

namespace {

using Kind = RangePlan::Kind;

// "offset+length" for each planned range, e.g. {"0+500", "900+100"}.
std::vector<std::string> planned(const RangePlan &plan) {
    std::vector<std::string> out;
    for (const ByteRange &r : plan.ranges)
        out.push_back(std::to_string(r.offset) + "+" + std::to_string(r.length));
    return out;
}

} // namespace

TEST_CASE("Range: one range, suffix and open, clamped at the end", "[static][ranges]") {
    struct Case {
        const char *header;
        const char *range;
    };
    const Case cases[] = {
        {"bytes=0-499", "0+500"},
        {"bytes=500-999", "500+500"},
        {"bytes=500-5000", "500+500"}, // last-pos past the end is clamped
        {"bytes=-300", "700+300"},
        {"bytes=-5000", "0+1000"},
        {"bytes=900-", "900+100"},
        {"bytes=999-999", "999+1"},
        {"BYTES = 0-0", "0+1"},
        {"bytes= 1-2 ,", "1+2"},
        {"bytes=\t1-2\t, ,", "1+2"},
        {"bytes=0-99999999999999999999999", "0+1000"}, // saturates, then clamps
    };
    for (const Case &c : cases) {
        CAPTURE(c.header);
        RangePlan plan = plan_ranges(c.header, 1000);
        CHECK(plan.kind == Kind::Partial);
        CHECK(planned(plan) == std::vector<std::string>{c.range});
    }
}

TEST_CASE("Range: several ranges are kept in the order asked", "[static][ranges]") {
    RangePlan plan = plan_ranges("bytes=900-, 0-9,-5", 1000);
    CHECK(plan.kind == Kind::Partial);
    CHECK(planned(plan) == std::vector<std::string>{"900+100", "0+10", "995+5"});
    // Overlapping ranges whose total stays within the file are served as asked (nginx does too).
    CHECK(planned(plan_ranges("bytes=0-9,5-14", 1000)) == std::vector<std::string>{"0+10", "5+10"});
}

TEST_CASE("Range: unsatisfiable ranges are skipped, none left is 416", "[static][ranges]") {
    // One satisfiable range among several: a plain single range.
    CHECK(planned(plan_ranges("bytes=5000-6000,0-1", 1000)) == std::vector<std::string>{"0+2"});
    CHECK(planned(plan_ranges("bytes=0-1,1000-,-0,998-", 1000)) == std::vector<std::string>{"0+2", "998+2"});
    for (const char *header : {"bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=99999999999999999999999-",
                               "bytes=2000-3000,4000-", "bytes=-0,1000-1001"}) {
        CAPTURE(header);
        RangePlan plan = plan_ranges(header, 1000);
        CHECK(plan.kind == Kind::Unsatisfiable);
        CHECK(plan.ranges.empty());
    }
}

TEST_CASE("Range: a range-set that does not parse is rejected, other units ignored", "[static][ranges]") {
    for (const char *header :
         {"bytes=5-1", "bytes=a-b", "bytes=1", "bytes=", "bytes=,", "bytes=--1", "bytes=+1-2", "bytes=0-1,x",
          "bytes=0 - 1", "bytes=0-1;2-3", "bytes=-1-2", "bytes=0x10-"}) {
        CAPTURE(header);
        CHECK(plan_ranges(header, 1000).kind == Kind::Unsatisfiable);
    }
    for (const char *header : {"items=0-1", "0-1", "", "bytes"}) {
        CAPTURE(header);
        CHECK(plan_ranges(header, 1000).kind == Kind::Whole);
    }
    // An empty file: the whole (empty) representation, whatever the range.
    CHECK(plan_ranges("bytes=0-", 0).kind == Kind::Whole);
    CHECK(plan_ranges("bytes=-1,0-1", 0).kind == Kind::Whole);
}

TEST_CASE("Range: more range-specs than max_ranges, or more bytes than the file, is the whole file",
          "[static][ranges]") {
    std::string sixteen = "bytes=0-0";
    for (int i = 1; i < 16; ++i)
        sixteen += "," + std::to_string(i * 10) + "-" + std::to_string(i * 10);
    CHECK(plan_ranges(sixteen, 1000).ranges.size() == 16); // the default bound is 16
    CHECK(plan_ranges(sixteen + ",999-", 1000).kind == Kind::Whole);
    CHECK(plan_ranges(sixteen, 1000, 15).kind == Kind::Whole);
    // Unsatisfiable specs count too: the bound is on the work a header causes.
    CHECK(plan_ranges("bytes=2000-,3000-,0-1", 1000, 2).kind == Kind::Whole);
    CHECK(plan_ranges("bytes=0-1", 1000, 1).kind == Kind::Partial);
    CHECK(plan_ranges("bytes=0-1,2-3", 1000, 1).kind == Kind::Whole);
    // max_ranges = 0: Range is not honoured at all.
    CHECK(plan_ranges("bytes=0-1", 1000, 0).kind == Kind::Whole);
    CHECK(plan_ranges("bytes=5-1", 1000, 0).kind == Kind::Whole);

    // Overlaps that ask for more bytes than the file has (the Apache Killer's shape).
    CHECK(plan_ranges("bytes=0-,0-", 1000).kind == Kind::Whole);
    CHECK(plan_ranges("bytes=0-599,400-999", 1000).kind == Kind::Whole);
    CHECK(plan_ranges("bytes=0-499,500-999", 1000).kind == Kind::Partial);
    CHECK(plan_ranges("bytes=-600,-600", 1000).kind == Kind::Whole);
    // Huge positions neither wrap the total nor overflow: they clamp to the file.
    CHECK(plan_ranges("bytes=0-18446744073709551615,0-18446744073709551616", 1000).kind == Kind::Whole);
    CHECK(plan_ranges("bytes=18446744073709551615-18446744073709551615", UINT64_MAX).kind ==
          Kind::Unsatisfiable);
    CHECK(planned(plan_ranges("bytes=-18446744073709551616", UINT64_MAX)) ==
          std::vector<std::string>{"0+18446744073709551615"});
}

TEST_CASE("Content-Range values", "[static][ranges]") {
    CHECK(format_content_range({0, 500}, 1000) == "bytes 0-499/1000");
    CHECK(format_content_range({999, 1}, 1000) == "bytes 999-999/1000");
    CHECK(format_unsatisfied_range(1000) == "bytes */1000");
}

TEST_CASE("multipart/byteranges: delimiters, part fields and a length known up front", "[static][ranges]") {
    const std::string file = "0123456789";
    const std::vector<ByteRange> ranges = {{0, 2}, {7, 3}};
    MultipartFrame frame = frame_byteranges(ranges, file.size(), "text/plain; charset=utf-8", {}, "B0123");
    CHECK(frame.content_type == "multipart/byteranges; boundary=B0123");
    REQUIRE(frame.part_heads.size() == 2);
    std::string body;
    for (size_t i = 0; i < ranges.size(); ++i)
        body += frame.part_heads[i] + file.substr(ranges[i].offset, ranges[i].length);
    body += frame.closing;
    CHECK(body == "--B0123\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Range: bytes 0-1/10\r\n"
                  "\r\n"
                  "01"
                  "\r\n--B0123\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Range: bytes 7-9/10\r\n"
                  "\r\n"
                  "789"
                  "\r\n--B0123--\r\n");
    CHECK(frame.content_length == body.size());

    // A precompressed sibling's coding goes with each part's bytes.
    MultipartFrame coded = frame_byteranges(ranges, 40, "text/css", "gzip", "X");
    CHECK(coded.part_heads[1] == "\r\n--X\r\nContent-Type: text/css\r\nContent-Encoding: gzip\r\n"
                                 "Content-Range: bytes 7-9/40\r\n\r\n");
}

TEST_CASE("multipart boundaries are 20 digits and differ per response", "[static][ranges]") {
    BoundarySource source;
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        std::string boundary = source.next();
        CHECK(boundary.size() == 20);
        CHECK(boundary.find_first_not_of("0123456789") == std::string::npos);
        seen.insert(boundary);
    }
    CHECK(seen.size() == 100);
    // Another worker's source does not repeat this one's sequence.
    BoundarySource other;
    CHECK(seen.count(other.next()) == 0);
}
