#include "http/combined_field.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd;

TEST_CASE("field lines of one name combine in order, comma-separated (RFC 9110 5.3)", "[http]") {
    CombinedField none;
    CHECK(none.empty());
    CHECK(none.value().empty());

    std::string head = "1.0 first";
    CombinedField one;
    one.add(head);
    CHECK(one.value() == "1.0 first");
    CHECK(one.value().data() == head.data()); // a single line is not copied

    CombinedField three;
    three.add("1.0 first");
    three.add("");
    three.add("1.1 second, 1.1 third");
    three.add("2 fourth");
    CHECK(three.value() == "1.0 first, 1.1 second, 1.1 third, 2 fourth");

    CombinedField empty_first;
    empty_first.add("");
    empty_first.add("10.0.0.2");
    CHECK(empty_first.value() == "10.0.0.2");
}
