// The path proxyd routes and filters by: unreserved characters decoded, dot segments gone,
// slashes merged.
#include "http/request_path.hpp"

#include <catch2/catch.hpp>
#include <string>

using proxyd::normalise_request_path;
using proxyd::RequestPathForm;

namespace {

// The path routing sees for path, or "refused".
std::string routed(std::string_view path) {
    std::string out;
    switch (normalise_request_path(path, out)) {
    case RequestPathForm::kClean:
        return std::string(path);
    case RequestPathForm::kNormalised:
        return out;
    case RequestPathForm::kAboveRoot:
        return "refused";
    case RequestPathForm::kBadEscape:
        return "bad escape";
    }
    return "?";
}

} // namespace

TEST_CASE("clean paths are left as they came, without a copy", "[http][path]") {
    std::string out = "untouched";
    for (const char *path :
         {"/", "/a", "/a/", "/a/b.html", "/.well-known/x", "/a/...", "/a/.b/c.", "/%2fa", "/%C3%A9"}) {
        INFO(path);
        CHECK(normalise_request_path(path, out) == RequestPathForm::kClean);
    }
    CHECK(out == "untouched");
}

TEST_CASE("dot segments are removed as RFC 3986 5.2.4 does", "[http][path]") {
    CHECK(routed("/a/b/../c") == "/a/c");
    CHECK(routed("/a/./b") == "/a/b");
    CHECK(routed("/a/b/..") == "/a/");
    CHECK(routed("/a/.") == "/a/");
    CHECK(routed("/./") == "/");
    CHECK(routed("/a/b/../../c/") == "/c/");
    CHECK(routed("/public/../admin/x") == "/admin/x");
}

TEST_CASE("percent-encoded dots count as dots, as origins that decode them read them", "[http][path]") {
    CHECK(routed("/public/%2e%2e/admin") == "/admin");
    CHECK(routed("/public/%2E%2e/admin") == "/admin");
    CHECK(routed("/public/.%2e/admin") == "/admin");
    CHECK(routed("/a/%2e/b") == "/a/b");
    CHECK(routed("/a/%2e%2e%2e/b") == "/a/.../b"); // three dots: an ordinary segment
}

TEST_CASE("encoded unreserved characters are decoded, others left encoded", "[http][path]") {
    CHECK(routed("/%61dmin/x") == "/admin/x");
    CHECK(routed("/a%2Db%5F%7E") == "/a-b_~");
    CHECK(routed("/a%2fb/%25") == "/a%2fb/%25"); // clean: "%2f" and "%25" stay as they are
    CHECK(routed("/%61%2fb") == "/a%2fb");
    CHECK(routed("/a%2e") == "/a.");
    CHECK(routed("/%4a") == "/J");
}

TEST_CASE("runs of slashes are merged, as nginx merges them", "[http][path]") {
    CHECK(routed("//admin/x") == "/admin/x");
    CHECK(routed("/a//b///c") == "/a/b/c");
    CHECK(routed("/a//") == "/a/");
}

TEST_CASE("a path that climbs above the root is refused", "[http][path]") {
    CHECK(routed("/..") == "refused");
    CHECK(routed("/../a") == "refused");
    CHECK(routed("/a/../../b") == "refused");
    CHECK(routed("/%2e%2e/etc/passwd") == "refused");
}

TEST_CASE("a '%' that starts no escape is refused, so no escape can be made by decoding", "[http][path]") {
    // Kept, the stray '%' would join a decoded digit: "%%361" would become "%61", which the
    // static plugin or an origin decodes again ("a"), past the route of /admin/.
    for (const char *path : {"/%%361dmin/secret", "/x/%2%65%2%65/private", "/%6%31", "/%zz", "/a%2", "/a%"}) {
        INFO(path);
        CHECK(routed(path) == "bad escape");
    }
}

TEST_CASE("the clean path is a fixed point: cleaning it again changes nothing", "[http][path]") {
    for (const char *path : {"/a/b/../c", "//x//y/", "/%61/%2e%2e/b", "/a/./b/.", "/%2F/%41/..",
                             "/a/.../b/../c", "/p/%2e%2E%2e/q/..", "/~%7e/%5f"}) {
        INFO(path);
        std::string once;
        REQUIRE(normalise_request_path(path, once) == RequestPathForm::kNormalised);
        std::string twice;
        CHECK(normalise_request_path(once, twice) == RequestPathForm::kClean);
    }
}
