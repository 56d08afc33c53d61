#include "net/net_address.hpp"

#include <catch2/catch.hpp>

using proxyd::NetAddress;
using proxyd::parse_net_address;

TEST_CASE("listen and peer addresses parse to socket addresses", "[config]") {
    NetAddress a;
    std::string error;
    REQUIRE(parse_net_address("127.0.0.1:8080", a, error));
    CHECK(a.family() == AF_INET);
    CHECK(a.port() == 8080);
    CHECK(a.to_string() == "127.0.0.1:8080");

    REQUIRE(parse_net_address("[::1]:9001", a, error));
    CHECK(a.family() == AF_INET6);
    CHECK(a.to_string() == "[::1]:9001");

    REQUIRE(parse_net_address("*:18000", a, error));
    CHECK(a.to_string() == "0.0.0.0:18000");

    REQUIRE(parse_net_address("localhost:80", a, error));
    CHECK(a.port() == 80);
}

TEST_CASE("a bad address says what is wrong with it", "[config]") {
    NetAddress a;
    std::string error;
    CHECK_FALSE(parse_net_address("127.0.0.1", a, error));
    CHECK_THAT(error, Catch::Contains("port is missing"));
    CHECK_FALSE(parse_net_address("8080", a, error)); // nginx's `listen 8080;`
    CHECK_THAT(error, Catch::Contains("host is missing"));
    CHECK_FALSE(parse_net_address("127.0.0.1:99999", a, error));
    CHECK_THAT(error, Catch::Contains("1 to 65535"));
    CHECK_FALSE(parse_net_address("127.0.0.1:0", a, error));
    CHECK_FALSE(parse_net_address("127.0.0.1:8o", a, error));
    CHECK_FALSE(parse_net_address(":80", a, error));
    CHECK_THAT(error, Catch::Contains("host is missing"));
    CHECK_FALSE(parse_net_address("::1:80", a, error));
    CHECK_THAT(error, Catch::Contains("brackets"));
    CHECK_FALSE(parse_net_address("no-such-host.invalid:80", a, error));
    CHECK_THAT(error, Catch::Contains("cannot resolve"));
}
