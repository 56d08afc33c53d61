// The access log's user: the name in the Basic credentials a client sent (RFC 7617), and nothing
// for anything else.
#include "http/basic_user.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;

TEST_CASE("basic_user reads the name before the first colon of Basic credentials") {
    CHECK(basic_user("Basic YWxpY2U6c2VjcmV0") == "alice");           // alice:secret
    CHECK(basic_user("basic YWxpY2U6c2VjcmV0") == "alice");           // the scheme in any case
    CHECK(basic_user("BASIC   YWxpY2U6c2VjcmV0  ") == "alice");       // spaces around token68
    CHECK(basic_user("Basic Ym9iOnA6cTpy") == "bob");                 // bob:p:q:r, colons in the password
    CHECK(basic_user("Basic YTo=") == "a");                           // one padding byte
    CHECK(basic_user("Basic YWI6") == "ab");                          // none
    CHECK(basic_user("Basic w6lsb2k6eA==") == "\xc3\xa9loi");         // UTF-8, as sent
    CHECK(basic_user("Basic w6lsb2k6eA") == "\xc3\xa9loi"); // the padding left out, as nginx reads it
    CHECK(basic_user("Basic YTo") == "a");
}

TEST_CASE("basic_user gives nothing for other schemes or credentials it cannot read") {
    CHECK(basic_user("").empty());
    CHECK(basic_user("Bearer YWxpY2U6c2VjcmV0").empty());
    CHECK(basic_user("Basic").empty());
    CHECK(basic_user("Basic ").empty());
    CHECK(basic_user("BasicYWxpY2U6c2VjcmV0").empty());
    CHECK(basic_user("Basic YWxpY").empty());          // a length base64 cannot have
    CHECK(basic_user("Basic YWxp=2U6").empty());       // a '=' inside
    CHECK(basic_user("Basic YTo===").empty());         // three padding bytes
    CHECK(basic_user("Basic YTo=A").empty());          // bytes after the padding
    CHECK(basic_user("Basic AGE6eA==").empty());       // "\0a:x": a control byte in the name
    CHECK(basic_user("Basic YWxp!2U6").empty());       // outside the alphabet
    CHECK(basic_user("Basic YWxpY2U=").empty());       // "alice": no colon
    CHECK(basic_user("Basic OnNlY3JldA==").empty());   // ":secret": an empty name
    CHECK(basic_user("Basic " + std::string(8192, 'A')).empty());
}
