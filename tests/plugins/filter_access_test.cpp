// filter/access: CIDR parsing and matching over IPv4, IPv6 and IPv4-mapped IPv6, first match
// wins, and the plugin's 403 through its C ABI.
#include "address_rules.hpp"
#include "fake_host.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

using namespace proxyd::testing;
using proxyd::access::AddressRules;
using proxyd::access::parse_address;
using proxyd::access::parse_cidr;

TEST_CASE("IPv4 addresses are read as inet_pton reads them", "[filter_access]") {
    for (const char *text : {"0.0.0.0", "1.2.3.4", "127.0.0.1", "255.255.255.255", "10.0.0.10", "256.1.1.1",
                             "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..3.4", "1.2.3.4 ",
                             " 1.2.3.4", "1.2.3.1000", "1.2.3.a", "1.2.3.-1", "1.2.3.4/8", "1234.1.1.1"}) {
        INFO(text);
        in_addr v4{};
        bool valid = inet_pton(AF_INET, text, &v4) == 1;
        auto parsed = parse_address(text);
        REQUIRE(parsed.has_value() == valid);
        if (valid) CHECK(std::memcmp(parsed->data() + 12, &v4, 4) == 0);
    }
}

TEST_CASE("addresses and CIDRs parse into one IPv6 space", "[filter_access]") {
    CHECK(parse_address("192.0.2.1") == parse_address("::ffff:192.0.2.1"));
    CHECK(parse_address("fe80::1%eth0") == parse_address("fe80::1"));
    CHECK(!parse_address("192.0.2"));
    CHECK(!parse_address("example.org"));
    CHECK(!parse_address(""));
    std::string error;
    auto net = parse_cidr("10.0.0.0/8", &error);
    REQUIRE(net);
    CHECK(net->prefix == 104);
    CHECK(net->contains(*parse_address("10.255.0.1")));
    CHECK(net->contains(*parse_address("::ffff:10.1.2.3")));
    CHECK(!net->contains(*parse_address("11.0.0.1")));
    CHECK(!net->contains(*parse_address("::a00:1"))); // the IPv4-compatible form is not IPv4
    auto v6 = parse_cidr("2001:db8::/32", &error);
    REQUIRE(v6);
    CHECK(v6->contains(*parse_address("2001:db8:ffff::1")));
    CHECK(!v6->contains(*parse_address("2001:db9::1")));
    auto host = parse_cidr("192.0.2.9", &error);
    REQUIRE(host);
    CHECK(host->contains(*parse_address("192.0.2.9")));
    CHECK(!host->contains(*parse_address("192.0.2.8")));
    auto odd = parse_cidr("10.0.0.0/9", &error);
    REQUIRE(odd);
    CHECK(odd->contains(*parse_address("10.127.0.1")));
    CHECK(!odd->contains(*parse_address("10.128.0.1")));
    CHECK(parse_cidr("all", &error)->contains(*parse_address("::1")));
    CHECK(parse_cidr("0.0.0.0/0", &error)->contains(*parse_address("8.8.8.8")));
    CHECK(!parse_cidr("0.0.0.0/0", &error)->contains(*parse_address("2001:db8::1")));
}

TEST_CASE("bad CIDRs say why", "[filter_access]") {
    std::string error;
    CHECK(!parse_cidr("10.0.0.1/8", &error));
    CHECK_THAT(error, Catch::Contains("bits set past its prefix length"));
    CHECK(!parse_cidr("10.0.0.0/33", &error));
    CHECK(error == "'10.0.0.0/33': the prefix length must be 0..32");
    CHECK(!parse_cidr("::/129", &error));
    CHECK(!parse_cidr("10.0.0.0/", &error));
    CHECK(!parse_cidr("localhost", &error));
    CHECK(error == "'localhost' is not an IPv4 or IPv6 address");
}

TEST_CASE("the first matching rule decides, else the default", "[filter_access]") {
    AddressRules rules;
    std::string error;
    REQUIRE(rules.add("deny 10.1.0.0/16", &error));
    REQUIRE(rules.add("allow 10.0.0.0/8", &error));
    REQUIRE(rules.add("allow ::1", &error));
    CHECK(!rules.allows("10.1.2.3"));
    CHECK(rules.allows("10.2.2.3"));
    CHECK(rules.allows("::ffff:10.2.2.3"));
    CHECK(!rules.allows("::ffff:10.1.2.3"));
    CHECK(rules.allows("::1"));
    CHECK(!rules.allows("127.0.0.1"));
    CHECK(!rules.allows("not an address"));
    rules.set_default(true);
    CHECK(rules.allows("127.0.0.1"));
    CHECK(!rules.add("permit 10.0.0.0/8", &error));
    CHECK_THAT(error, Catch::StartsWith("a rule is \"allow CIDR\" or \"deny CIDR\""));
    CHECK(!rules.add("allow", &error));
}

TEST_CASE("access answers 403 to a refused client and lets the others through", "[filter_access]") {
    PluginModule module("filter_access.so");
    FakeHost host;
    void *instance = host.create(module, R"(rules = ["allow 127.0.0.1", "allow 2001:db8::/32"])");
    INFO(host.error_text());
    REQUIRE(instance);
    FakeWorker worker(module.descriptor(), instance);

    FakeRequest local("GET", "/");
    CHECK(filter_request_head(module, instance, worker, local) == PROXYD_FILTER_CONTINUE);
    CHECK(!local.responded);

    FakeRequest v6("GET", "/");
    v6.set_client_address("2001:db8::42");
    CHECK(filter_request_head(module, instance, worker, v6) == PROXYD_FILTER_CONTINUE);

    FakeRequest mapped("GET", "/");
    mapped.set_client_address("::ffff:127.0.0.1");
    CHECK(filter_request_head(module, instance, worker, mapped) == PROXYD_FILTER_CONTINUE);

    FakeRequest other("GET", "/");
    other.set_client_address("192.0.2.1");
    CHECK(filter_request_head(module, instance, worker, other) == PROXYD_FILTER_RESPONDED);
    REQUIRE(other.responded);
    CHECK(other.responded->status == 403);
    CHECK(other.responded->body == "Forbidden\n");
    CHECK(other.misuse.empty());
}

TEST_CASE("access reports bad rules at the rule", "[filter_access]") {
    PluginModule module("filter_access.so");
    FakeHost host;
    CHECK(host.create(module, "rules = [\"allow 10.0.0.0/8\", \"alow 10.0.0.0/8\", \"deny 1.2.3.4/40\"]\n"
                              "default = \"maybe\"") == nullptr);
    CHECK(host.error_text() == "plugin.toml:1:30: a rule is \"allow CIDR\" or \"deny CIDR\" (CIDR: "
                               "10.0.0.0/8, 2001:db8::/32, an address "
                               "or all), not 'alow 10.0.0.0/8'\n"
                               "plugin.toml:1:49: '1.2.3.4/40': the prefix length must be 0..32\n"
                               "plugin.toml:2:11: 'default' must be \"allow\" or \"deny\"\n");
    FakeHost none;
    CHECK(none.create(module, "default = \"allow\"") == nullptr);
    CHECK_THAT(none.error_text(), Catch::Contains("'rules' is required"));
}
