// The sticky balancer's cookie: peer ids (stable, keyed, not showing the address), which values
// count as ids, the Set-Cookie it writes, and its option checks.
#include "hash_key.hpp"
#include "sticky_cookie.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>

using namespace proxyd::hash;

TEST_CASE("a peer id is 12 hex digits made from the address and the secret only", "[sticky]") {
    std::string id = peer_id("", "127.0.0.1:9001");
    CHECK(id.size() == kPeerIdLength);
    CHECK(is_peer_id(id));
    CHECK(peer_id("", "127.0.0.1:9001") == id); // the same after a reload: nothing else goes in
    CHECK(peer_id("s3cret", "127.0.0.1:9001") != id);
    CHECK(peer_id("s3cret", "127.0.0.1:9001") == peer_id("s3cret", "127.0.0.1:9001"));
    // The first 6 bytes of HMAC-SHA256(secret, address), as Python's hmac module makes them.
    CHECK(peer_id("key", "The quick brown fox jumps over the lazy dog") == "f7bc83f43053");
    std::set<std::string> ids;
    for (int port = 9000; port < 9100; ++port) {
        std::string address = "10.0.0.1:" + std::to_string(port);
        std::string one = peer_id("", address);
        CHECK(one.find(std::to_string(port)) == std::string::npos);
        ids.insert(one);
    }
    CHECK(ids.size() == 100);
}

TEST_CASE("only 12 lower-case hex digits are an id", "[sticky]") {
    CHECK(is_peer_id("0a1b2c3d4e5f"));
    CHECK_FALSE(is_peer_id(""));
    CHECK_FALSE(is_peer_id("0a1b2c3d4e5"));
    CHECK_FALSE(is_peer_id("0a1b2c3d4e5f0"));
    CHECK_FALSE(is_peer_id("0A1B2C3D4E5F"));
    CHECK_FALSE(is_peer_id("0a1b2c3d4e5g"));
    CHECK_FALSE(is_peer_id("127.0.0.1:80"));
}

TEST_CASE("the Set-Cookie carries the options asked for", "[sticky]") {
    CookieOptions options;
    CHECK(set_cookie_value(options, "0a1b2c3d4e5f") == "SRV=0a1b2c3d4e5f; Path=/; HttpOnly");
    options.name = "route";
    options.path = "/app";
    options.domain = "example.com";
    options.max_age = 3600;
    options.secure = true;
    options.same_site = SameSite::kNone;
    CHECK(set_cookie_value(options, "0a1b2c3d4e5f") ==
          "route=0a1b2c3d4e5f; Path=/app; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=None");
    options.http_only = false;
    options.same_site = SameSite::kStrict;
    options.max_age.reset();
    options.domain.clear();
    CHECK(set_cookie_value(options, "x") == "route=x; Path=/app; Secure; SameSite=Strict");
}

TEST_CASE("option values are checked", "[sticky]") {
    CHECK(parse_same_site("Lax") == SameSite::kLax);
    CHECK(parse_same_site("strict") == SameSite::kStrict);
    CHECK(parse_same_site("NONE") == SameSite::kNone);
    CHECK_FALSE(parse_same_site("lenient"));
    CHECK(is_cookie_path("/"));
    CHECK(is_cookie_path("/app/v1"));
    CHECK_FALSE(is_cookie_path("app"));
    CHECK_FALSE(is_cookie_path("/a;b"));
    CHECK_FALSE(is_cookie_path(""));
    CHECK(is_cookie_domain("example.com"));
    CHECK_FALSE(is_cookie_domain("exa mple.com"));
    CHECK_FALSE(is_cookie_domain(""));
}

TEST_CASE("the cookie is found among others, with white space and quotes", "[sticky]") {
    CHECK(find_cookie("SRV=0a1b2c3d4e5f", "SRV") == "0a1b2c3d4e5f");
    CHECK(find_cookie("theme=dark;  SRV = 0a1b2c3d4e5f ; x=1", "SRV") == "0a1b2c3d4e5f");
    CHECK(find_cookie("SRV=\"0a1b2c3d4e5f\"", "SRV") == "0a1b2c3d4e5f");
    CHECK(find_cookie("srv=0a1b2c3d4e5f", "SRV") == std::nullopt); // names are case-sensitive
    CHECK(find_cookie("XSRV=0a1b2c3d4e5f", "SRV") == std::nullopt);
}
