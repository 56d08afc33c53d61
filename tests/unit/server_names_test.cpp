// SNI name matching without certificates: which name set covers a host.
#include "tls/server_names.hpp"

#include <catch2/catch.hpp>

using proxyd::ServerNameIndex;

TEST_CASE("SNI names: exact beats wildcard, a wildcard covers one label, case and a trailing dot do not "
          "matter",
          "[tls]") {
    ServerNameIndex index;
    const size_t fallback = index.add({"default.test"});
    const size_t wild = index.add({"*.b.test", "A.test"});
    const size_t exact = index.add({"x.b.test"});
    const size_t later_wild = index.add({"*.b.test"});
    REQUIRE(index.size() == 4);
    CHECK(later_wild == 3);

    SECTION("an exact name wins over a wildcard added before it") {
        CHECK(index.find("x.b.test") == exact);
        CHECK(index.find("y.b.test") == wild); // the first set with the wildcard
    }
    SECTION("a wildcard covers exactly one leftmost label") {
        CHECK(index.find("b.test") == ServerNameIndex::kNone);
        CHECK(index.find("y.x.b.test") == ServerNameIndex::kNone);
        CHECK(index.find(".b.test") == ServerNameIndex::kNone);
    }
    SECTION("case-insensitive, on both sides") {
        CHECK(index.find("X.B.TEST") == exact);
        CHECK(index.find("a.test") == wild);
        CHECK(index.find("DEFAULT.test") == fallback);
    }
    SECTION("one trailing dot (a fully qualified name) is ignored, two are not") {
        CHECK(index.find("x.b.test.") == exact);
        CHECK(index.find("y.b.test.") == wild);
        CHECK(index.find("x.b.test..") == ServerNameIndex::kNone);
    }
    SECTION("nothing covers an empty or unknown name") {
        CHECK(index.find("") == ServerNameIndex::kNone);
        CHECK(index.find(".") == ServerNameIndex::kNone);
        CHECK(index.find("other.test") == ServerNameIndex::kNone);
    }
    SECTION("a second certificate for the same names finds their set, whatever their order and case") {
        CHECK(index.find_same({"a.test", "*.B.test"}) == wild);
        CHECK(index.find_same({"a.test"}) == ServerNameIndex::kNone);
        CHECK(index.names(wild) == std::vector<std::string>{"*.b.test", "a.test"});
    }
}
