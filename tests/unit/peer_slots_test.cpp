#include "discovery/peer_slots.hpp"

#include <catch2/catch.hpp>

using namespace proxyd;

namespace {

DiscoveredPeer peer(const std::string &address, uint32_t weight = 1) {
    DiscoveredPeer p;
    std::string error;
    REQUIRE(parse_net_address(address, p.address, error));
    p.weight = weight;
    p.source = "_http._tcp.web.test";
    p.host = "web.test";
    return p;
}

std::vector<std::string> shown(const SlotPlacement &placement) {
    std::vector<std::string> out;
    for (const auto &p : placement)
        out.push_back(p ? p->address.to_string() : "-");
    return out;
}

} // namespace

TEST_CASE("discovered peers keep their slots, newcomers take the first vacant one", "[discovery]") {
    size_t left_out = 0;
    SlotPlacement slots(4);
    slots = place_in_slots(slots, {peer("10.0.0.1:80"), peer("10.0.0.2:80")}, left_out);
    CHECK(shown(slots) == std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:80", "-", "-"});

    // 10.0.0.1 leaves, 10.0.0.3 arrives: 10.0.0.2 stays in slot 1, the newcomer takes slot 0.
    slots = place_in_slots(slots, {peer("10.0.0.2:80", 5), peer("10.0.0.3:80")}, left_out);
    CHECK(shown(slots) == std::vector<std::string>{"10.0.0.3:80", "10.0.0.2:80", "-", "-"});
    CHECK(slots[1]->weight == 5);
    CHECK(left_out == 0);

    // More peers than slots: the survivors stay, the rest fill what is vacant, the others are counted.
    slots = place_in_slots(slots,
                           {peer("10.0.0.2:80"), peer("10.0.0.4:80"), peer("10.0.0.5:80"),
                            peer("10.0.0.6:80"), peer("10.0.0.3:80")},
                           left_out);
    CHECK(shown(slots) ==
          std::vector<std::string>{"10.0.0.3:80", "10.0.0.2:80", "10.0.0.4:80", "10.0.0.5:80"});
    CHECK(left_out == 1);

    slots = place_in_slots(slots, {}, left_out);
    CHECK(shown(slots) == std::vector<std::string>{"-", "-", "-", "-"});
}

TEST_CASE("a discovered peer as a peer of its group: address, Host authority and TLS name", "[discovery]") {
    UpstreamConfig group;
    PeerConfig plain = discovered_peer_config(group, peer("10.0.0.1:8080", 2), false);
    CHECK(plain.address_text == "10.0.0.1:8080");
    CHECK(plain.authority == "web.test:8080");
    CHECK(plain.weight == 2);
    CHECK(plain.discovered);
    CHECK_FALSE(plain.tls);

    PeerConfig tls = discovered_peer_config(group, peer("10.0.0.1:443"), true);
    CHECK(tls.address_text == "https://10.0.0.1:443");
    CHECK(tls.tls_name == "web.test");
    CHECK_FALSE(tls.tls_name_is_ip);
    group.discovery_tls_name = "api.example";
    CHECK(discovered_peer_config(group, peer("10.0.0.1:443"), true).tls_name == "api.example");
}
