#include "config/duration.hpp"

#include <catch2/catch.hpp>

using proxyd::parse_duration;
using std::chrono::milliseconds;

TEST_CASE("durations are written with a unit, as in nginx", "[config]") {
    CHECK(parse_duration("500ms") == milliseconds(500));
    CHECK(parse_duration("5s") == milliseconds(5000));
    CHECK(parse_duration("2m") == milliseconds(120000));
    CHECK(parse_duration("1h") == milliseconds(3600000));
    CHECK(parse_duration("1m30s") == milliseconds(90000));
}

TEST_CASE("a duration without a known unit is refused", "[config]") {
    CHECK_FALSE(parse_duration(""));
    CHECK_FALSE(parse_duration("5"));
    CHECK_FALSE(parse_duration("5 s"));
    CHECK_FALSE(parse_duration("5 parsecs"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration("-5s"));
    CHECK_FALSE(parse_duration("99999999999999999999s"));
}

TEST_CASE("a duration is at most a year, however it is written", "[config]") {
    CHECK(parse_duration("8760h") == std::chrono::hours(8760));
    CHECK_FALSE(parse_duration("8760h1ms"));
    CHECK_FALSE(parse_duration("99999999999h"));
    // Each part alone is under the per-number bound; their sum once overflowed the milliseconds.
    CHECK_FALSE(parse_duration("1099511627776h1099511627776h1099511627776h"));
}
