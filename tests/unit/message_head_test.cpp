#include "http/message_head.hpp"

#include <catch2/catch.hpp>

using proxyd::MessageHead;

TEST_CASE("a head assembled from pieces split across reads reads whole", "[http]") {
    MessageHead head;
    head.append_target("/ima");
    head.append_target("ges/a.jpg?x=1");
    // As llhttp reports them: name pieces, end of name, value pieces (none for an empty value).
    head.append_header_name("Ho");
    head.append_header_name("st");
    head.end_header_name();
    head.append_header_value("exa");
    head.append_header_value("mple.org");
    head.append_header_name("X-Empty");
    head.end_header_name();
    head.append_header_name("Accept");
    head.end_header_name();
    head.append_header_value(" */* ");
    REQUIRE(head.header_count() == 3);
    CHECK(head.target() == "/images/a.jpg?x=1");
    CHECK(head.header_name(0) == "Host");
    CHECK(head.header_value(0) == "example.org");
    CHECK(head.header_name(1) == "X-Empty");
    CHECK(head.header_value(1).empty());
    CHECK(head.find("accept") == "*/*");
    CHECK(head.count("HOST") == 1);
    CHECK_FALSE(head.find("cookie"));
    // A field's kind is known once its name is complete, from all its pieces.
    CHECK(head.header_kind(0) == proxyd::FieldKind::kHost);
    CHECK(head.header_kind(2) == proxyd::FieldKind::kOther);
    CHECK(head.find(proxyd::FieldKind::kHost) == "example.org");
    CHECK(head.count(proxyd::FieldKind::kHost) == 1);
    CHECK_FALSE(head.find(proxyd::FieldKind::kXRequestId));
    head.clear();
    CHECK(head.header_count() == 0);
    CHECK(head.size() == 0);
}
