#include "head_of_fields.hpp"
#include "http/max_forwards.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;

TEST_CASE("a Max-Forwards value is 1*DIGIT, capped at this proxy's largest (RFC 9110 7.6.2)", "[http]") {
    CHECK(parse_max_forwards("0") == 0u);
    CHECK(parse_max_forwards("10") == 10u);
    CHECK(parse_max_forwards("007") == 7u);
    CHECK(parse_max_forwards("0000000000000000000003") == 3u); // zeros never make it huge
    CHECK(parse_max_forwards("0000000000000000000000") == 0u);
    CHECK(parse_max_forwards("999999999999999999") == kMaxForwardsSupported);
    CHECK(parse_max_forwards("123456789012345678901234567890") == kMaxForwardsSupported);
    for (const char *bad : {"", "-1", "+1", "1 ", "1,2", "0x10", "one"})
        CHECK_FALSE(parse_max_forwards(bad).has_value());
}

TEST_CASE("only OPTIONS and TRACE read their one Max-Forwards field", "[http]") {
    MessageHead zero = head_of_fields({{"Host", "a"}, {"max-forwards", "0"}});
    CHECK(max_forwards("OPTIONS", zero) == 0u);
    CHECK(max_forwards("TRACE", zero) == 0u);
    for (const char *other : {"GET", "POST", "options", "FROB"})
        CHECK_FALSE(max_forwards(other, zero).has_value());
    CHECK_FALSE(max_forwards("OPTIONS", head_of_fields({{"Host", "a"}})).has_value());
    // Two fields, or one that is no number: no hop count to act on, the fields go on as they came.
    CHECK_FALSE(
        max_forwards("OPTIONS", head_of_fields({{"Max-Forwards", "0"}, {"Max-Forwards", "3"}})).has_value());
    CHECK_FALSE(max_forwards("TRACE", head_of_fields({{"Max-Forwards", "x1"}})).has_value());
}
