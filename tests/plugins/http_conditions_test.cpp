// content/static: the conditional-request rules of RFC 9110 §13, decided without I/O (Range is
// byte_ranges_test.cpp's).
#include "http_conditions.hpp"
#include "http_text.hpp"

#include <catch2/catch.hpp>

using namespace proxyd::static_files;

namespace {

constexpr int64_t kMtime = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
const std::string kTag = "\"2ebc3aa1-64\"";

Precondition decide(ConditionalHeaders h, bool get_or_head = true) {
    return evaluate_preconditions(h, kTag, kMtime, get_or_head);
}

} // namespace

TEST_CASE("the three HTTP-date forms parse, anything else does not", "[static][conditions]") {
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == kMtime);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == kMtime);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == kMtime);
    CHECK(parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT ") == kMtime);
    CHECK(parse_http_date(format_http_date(1700000000)) == 1700000000);
    // Leap days that are there, and month ends.
    CHECK(parse_http_date("Sat, 29 Feb 2020 00:00:00 GMT") == 1582934400);
    CHECK(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    CHECK(parse_http_date("Tue, 31 Dec 2024 23:59:59 GMT") == 1735689599);
    for (const char *bad :
         {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Foo 1994 08:49:37 GMT",
          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "1994-11-06",
          "Sun, 00 Nov 1994 08:49:37 GMT", "Mon, 31 Feb 2020 00:00:00 GMT", "Tue, 31 Apr 2024 00:00:00 GMT",
          "Sun, 29 Feb 2021 00:00:00 GMT", "Thu, 29 Feb 1900 00:00:00 GMT", "Monday, 31-Jun-24 00:00:00 GMT",
          "Sat Feb 30 00:00:00 2020"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_http_date(bad));
    }
}

TEST_CASE("entity-tag lists: strong and weak comparison, '*'", "[static][conditions]") {
    CHECK(etag_list_matches(kTag, kTag, false));
    CHECK(etag_list_matches("\"x\", " + kTag, kTag, false));
    CHECK(etag_list_matches(" \"x\" ,," + kTag + " ", kTag, true));
    CHECK(etag_list_matches("*", kTag, false));
    CHECK_FALSE(etag_list_matches("\"x\"", kTag, true));
    // W/ tags match only under the weak comparison (If-None-Match).
    CHECK(etag_list_matches("W/" + kTag, kTag, true));
    CHECK_FALSE(etag_list_matches("W/" + kTag, kTag, false));
    // Without quotes it is another tag.
    CHECK_FALSE(etag_list_matches("2ebc3aa1-64", kTag, true));
}

TEST_CASE("If-None-Match and If-Modified-Since give 304, If-None-Match wins", "[static][conditions]") {
    const std::string at = format_http_date(kMtime), later = format_http_date(kMtime + 10),
                      earlier = format_http_date(kMtime - 10);
    CHECK(decide({.if_none_match = kTag}) == Precondition::NotModified);
    CHECK(decide({.if_none_match = "\"other\""}) == Precondition::Proceed);
    CHECK(decide({.if_none_match = "*"}) == Precondition::NotModified);
    CHECK(decide({.if_modified_since = at}) == Precondition::NotModified);
    CHECK(decide({.if_modified_since = later}) == Precondition::NotModified);
    CHECK(decide({.if_modified_since = earlier}) == Precondition::Proceed);
    CHECK(decide({.if_modified_since = "garbage"}) == Precondition::Proceed);
    // §13.2.2: a present If-None-Match makes If-Modified-Since ignored, both ways.
    CHECK(decide({.if_none_match = "\"other\"", .if_modified_since = at}) == Precondition::Proceed);
    CHECK(decide({.if_none_match = kTag, .if_modified_since = earlier}) == Precondition::NotModified);
    // Other methods: If-None-Match fails with 412, If-Modified-Since is ignored.
    CHECK(decide({.if_none_match = kTag}, false) == Precondition::Failed);
    CHECK(decide({.if_modified_since = at}, false) == Precondition::Proceed);
}

TEST_CASE("If-Match and If-Unmodified-Since give 412 when they fail", "[static][conditions]") {
    const std::string at = format_http_date(kMtime), earlier = format_http_date(kMtime - 10);
    CHECK(decide({.if_match = kTag}) == Precondition::Proceed);
    CHECK(decide({.if_match = "*"}) == Precondition::Proceed);
    CHECK(decide({.if_match = "\"other\""}) == Precondition::Failed);
    CHECK(decide({.if_match = "W/" + kTag}) == Precondition::Failed); // strong comparison
    CHECK(decide({.if_unmodified_since = at}) == Precondition::Proceed);
    CHECK(decide({.if_unmodified_since = earlier}) == Precondition::Failed);
    CHECK(decide({.if_unmodified_since = "not a date"}) == Precondition::Proceed);
    // If-Match present: If-Unmodified-Since is not evaluated.
    CHECK(decide({.if_match = kTag, .if_unmodified_since = earlier}) == Precondition::Proceed);
    // 412 is decided before 304.
    CHECK(decide({.if_match = "\"other\"", .if_none_match = kTag}) == Precondition::Failed);
}

TEST_CASE("If-Range holds for the same strong tag or exactly Last-Modified", "[static][conditions]") {
    CHECK(if_range_holds(kTag, kTag, kMtime));
    CHECK_FALSE(if_range_holds("\"other\"", kTag, kMtime));
    CHECK_FALSE(if_range_holds("W/" + kTag, kTag, kMtime));
    CHECK(if_range_holds(format_http_date(kMtime), kTag, kMtime));
    CHECK_FALSE(if_range_holds(format_http_date(kMtime + 1), kTag, kMtime));
    CHECK_FALSE(if_range_holds(format_http_date(kMtime - 1), kTag, kMtime));
    CHECK_FALSE(if_range_holds("garbage", kTag, kMtime));
    // A Last-Modified that is not a strong validator (a file under two seconds old)
    // never holds; an entity-tag is judged by itself.
    CHECK_FALSE(if_range_holds(format_http_date(kMtime), kTag, std::nullopt));
    CHECK(if_range_holds(kTag, kTag, std::nullopt));
    CHECK_FALSE(if_range_holds("W/" + kTag, "W/" + kTag, kMtime));
}
