// content/static: request path → file path. Every case here is one a client can send.
#include "path_normalise.hpp"

#include <catch2/catch.hpp>
#include <string>

using proxyd::static_files::has_hidden_segment;
using proxyd::static_files::normalise_path;
using proxyd::static_files::PathError;

namespace {

std::string normalised(std::string_view raw) {
    std::string out;
    PathError e = normalise_path(raw, out);
    return e == PathError::None ? out : "<error>";
}

PathError error_of(std::string_view raw) {
    std::string out;
    return normalise_path(raw, out);
}

} // namespace

TEST_CASE("plain paths come through unchanged", "[static][path]") {
    CHECK(normalised("/") == "/");
    CHECK(normalised("/index.html") == "/index.html");
    CHECK(normalised("/a/b/c.txt") == "/a/b/c.txt");
    CHECK(normalised("/a/b/") == "/a/b/");
}

TEST_CASE("percent escapes are decoded once", "[static][path]") {
    CHECK(normalised("/a%20b.txt") == "/a b.txt");
    CHECK(normalised("/%41%62") == "/Ab");
    CHECK(normalised("/caf%C3%A9") == "/caf\xC3\xA9");
    // Double encoding stays literal: "%252e" is the three bytes "%2e", not a dot.
    CHECK(normalised("/%252e%252e/x") == "/%2e%2e/x");
    CHECK(normalised("/a%25") == "/a%");
}

TEST_CASE("dot segments are resolved", "[static][path]") {
    CHECK(normalised("/./a") == "/a");
    CHECK(normalised("/a/./b") == "/a/b");
    CHECK(normalised("/a/b/../c") == "/a/c");
    CHECK(normalised("/a/b/../../c") == "/c");
    // A trailing "." or ".." names a directory, so the result keeps a trailing slash.
    CHECK(normalised("/a/.") == "/a/");
    CHECK(normalised("/a/b/..") == "/a/");
    CHECK(normalised("/a/..") == "/");
    // Only whole segments are dot segments.
    CHECK(normalised("/a/..b/c.") == "/a/..b/c.");
    CHECK(normalised("/.../x") == "/.../x");
}

TEST_CASE("encoded dots and slashes are resolved like literal ones", "[static][path]") {
    CHECK(normalised("/a/%2e%2e/b") == "/b");
    CHECK(normalised("/a/%2E%2e/b") == "/b");
    CHECK(normalised("/a/.%2e/b") == "/b");
    CHECK(normalised("/a/%2e/b") == "/a/b");
    CHECK(normalised("/a%2fb") == "/a/b");
    CHECK(normalised("/a%2F..%2Fb") == "/b");
}

TEST_CASE("repeated slashes collapse", "[static][path]") {
    CHECK(normalised("//a///b//") == "/a/b/");
    CHECK(normalised("//") == "/");
    CHECK(normalised("/a%2f%2fb") == "/a/b");
}

TEST_CASE("a backslash is an ordinary byte, not a separator", "[static][path]") {
    CHECK(normalised("/a\\..\\b") == "/a\\..\\b");
    CHECK(normalised("/..\\x") == "/..\\x");
    CHECK(normalised("/%5c..%5cx") == "/\\..\\x");
}

TEST_CASE("climbing above the root is rejected, not clamped", "[static][path]") {
    CHECK(error_of("/..") == PathError::AboveRoot);
    CHECK(error_of("/../etc/passwd") == PathError::AboveRoot);
    CHECK(error_of("/a/../../etc/passwd") == PathError::AboveRoot);
    CHECK(error_of("/%2e%2e/etc/passwd") == PathError::AboveRoot);
    CHECK(error_of("/a/%2e%2e%2f%2e%2e/x") == PathError::AboveRoot);
    CHECK(error_of("/..%2fetc") == PathError::AboveRoot);
    CHECK(error_of("/./../x") == PathError::AboveRoot);
}

TEST_CASE("malformed escapes are rejected", "[static][path]") {
    CHECK(error_of("/a%") == PathError::BadEscape);
    CHECK(error_of("/a%2") == PathError::BadEscape);
    CHECK(error_of("/a%zz") == PathError::BadEscape);
    CHECK(error_of("/a%g0") == PathError::BadEscape);
    CHECK(error_of("/a%%41") == PathError::BadEscape);
}

TEST_CASE("a NUL byte, encoded or raw, is rejected", "[static][path]") {
    CHECK(error_of("/a%00.txt") == PathError::NulByte);
    CHECK(error_of(std::string_view("/a\0b", 4)) == PathError::NulByte);
}

TEST_CASE("a path must start with '/'", "[static][path]") {
    CHECK(error_of("") == PathError::NotAbsolute);
    CHECK(error_of("*") == PathError::NotAbsolute);
    CHECK(error_of("a/b") == PathError::NotAbsolute);
    CHECK(error_of("%2fa") == PathError::NotAbsolute);
}

TEST_CASE("hidden segments are detected after normalisation", "[static][path]") {
    CHECK(has_hidden_segment("/.git/config"));
    CHECK(has_hidden_segment("/a/.env"));
    CHECK(has_hidden_segment("/a/.hidden/"));
    CHECK_FALSE(has_hidden_segment("/a/b.txt"));
    CHECK_FALSE(has_hidden_segment("/"));
    CHECK(has_hidden_segment(normalised("/a/%2egit/config")));
}

// A bounded, deterministic stand-in for a fuzzer: random paths built from the bytes and escapes
// that matter ('/', '.', '%', '%2e', '%2f', '%00', '%25', '\'), checked against the invariants
// the plugin relies on before it opens anything.
TEST_CASE("random paths: every result stays a clean absolute path", "[static][path]") {
    const char *pieces[] = {"/", "/",  ".", "..", "%2e",  "%2E",   "%2f", "%2F", "%5c",  "\\",   "%00", "%25",
                            "%", "%2", "a", "b",  ".git", "%252e", "//",  "/./", "/../", "x%41", "\xff"};
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    size_t accepted = 0;
    for (int round = 0; round < 50000; ++round) {
        std::string raw = "/";
        for (uint64_t n = next() % 12; n > 0; --n)
            raw += pieces[next() % std::size(pieces)];
        std::string out;
        PathError e = normalise_path(raw, out);
        if (e != PathError::None) continue;
        ++accepted;
        INFO(raw << " -> " << out);
        REQUIRE(out.starts_with('/'));
        REQUIRE(out.find('\0') == std::string::npos);
        REQUIRE(out.find("//") == std::string::npos);
        REQUIRE(out.find("/./") == std::string::npos);
        REQUIRE(out.find("/../") == std::string::npos);
        REQUIRE_FALSE(out.ends_with("/.."));
        REQUIRE_FALSE(out.ends_with("/."));
        // The result is a fixed point when it holds no '%' that a second pass would decode.
        if (out.find('%') == std::string::npos) REQUIRE(normalised(out) == out);
    }
    CHECK(accepted > 1000);
}
