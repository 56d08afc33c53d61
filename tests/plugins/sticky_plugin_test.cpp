// balancing_sticky.so through the ABI: its settings and their errors; a cookie naming a peer
// decides the pick while that peer is up and untried; the response_head hook (1.4) sends the
// cookie to a client that lacks it or names another peer, and to no other.
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

using namespace proxyd::test;

namespace {

void three_peers(FakeHost &host) {
    for (int i = 1; i <= 3; ++i)
        host.peers.push_back(FakePeer{"127.0.0.1:900" + std::to_string(i), 1, false});
}

int pick(const PluginModule &module, void *instance, const FakeWorker &worker,
         const std::vector<proxyd_peer> &peers, const FakeRequest &request, const bool *tried = nullptr) {
    bool none[3] = {};
    int chosen = module.descriptor().balancing->pick(instance, worker.get(), peers.data(), peers.size(),
                                                     tried ? tried : none, request.raw());
    if (chosen >= 0)
        attempt_done(module, instance, worker.get(), static_cast<size_t>(chosen), PROXYD_OUTCOME_SUCCESS);
    return chosen;
}

// The Set-Cookie values the balancer's response_head hook adds for a response from peer.
std::vector<std::string> cookies_for(const PluginModule &module, void *instance, FakeWorker &worker,
                                     const std::vector<proxyd_peer> &peers, size_t peer,
                                     FakeRequest &request) {
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    REQUIRE(PROXYD_TESTING_HAS(hooks, proxyd_balancing_hooks, response_head));
    FakeResponseHead head(200, {{"Content-Type", "text/plain"}});
    request.worker = &worker;
    request.response_head = &head;
    hooks.response_head(instance, worker.get(), &peers[peer], peer, request.raw());
    request.response_head = nullptr;
    CHECK(request.misuse.empty());
    std::vector<std::string> out;
    for (auto &[name, value] : head.headers)
        if (name == "Set-Cookie") out.push_back(value);
    return out;
}

std::string id_in(const std::string &set_cookie) { return set_cookie.substr(4, 12); }

std::string address_of(const proxyd_peer &peer) { return std::string(peer.address.ptr, peer.address.len); }

} // namespace

TEST_CASE("sticky checks its settings and names the key at fault", "[sticky_plugin]") {
    PluginModule module("balancing_sticky.so");
    FakeHost ok;
    three_peers(ok);
    CHECK(ok.create(module, "plugin = \"sticky\"") != nullptr);
    CHECK(ok.create(module, "cookie = \"route\"\nmax_age = 60\nsecure = true\nsamesite = \"None\"\n"
                            "path = \"/app\"\ndomain = \"example.com\"\nhttponly = false\nsecret = \"x\"\n"
                            "key = \"client_address\"") != nullptr);
    struct Case {
        const char *toml;
        const char *message;
        int64_t column;
    };
    for (const Case &c : {
             Case{"cookie = \"a b\"", "cookie 'a b' is not a valid cookie name", 10},
             Case{"max_age = 0",
                  "max_age must be seconds from 1 to 34560000 (400 days, what browsers keep at most); leave "
                  "it "
                  "out for a session cookie",
                  11},
             Case{"samesite = \"lenient\"", "samesite must be \"Strict\", \"Lax\" or \"None\"", 12},
             Case{"samesite = \"None\"",
                  "samesite = \"None\" needs secure = true (browsers refuse it otherwise)", 12},
             Case{"path = \"app\"", "path must start with '/' and hold no ';' or control characters", 8},
             Case{"expires = 3", "unknown key 'expires'", 1},
         }) {
        FakeHost bad;
        three_peers(bad);
        INFO(c.toml);
        CHECK(bad.create(module, c.toml) == nullptr);
        REQUIRE(bad.errors().size() == 1);
        CHECK(bad.errors()[0].message == c.message);
        CHECK(bad.errors()[0].column == c.column);
    }
}

TEST_CASE("a client gets its peer's cookie once, and the cookie keeps it there", "[sticky_plugin]") {
    PluginModule module("balancing_sticky.so");
    FakeHost host;
    three_peers(host);
    void *instance = host.create(module, "max_age = 600");
    REQUIRE(instance);
    auto peers = host.peer_array();
    FakeWorker first(module.descriptor(), instance, 0, 2), second(module.descriptor(), instance, 1, 2);

    FakeRequest fresh("GET", "/");
    int placed = pick(module, instance, first, peers, fresh);
    REQUIRE(placed >= 0);
    auto set = cookies_for(module, instance, first, peers, static_cast<size_t>(placed), fresh);
    REQUIRE(set.size() == 1);
    CHECK(set[0].starts_with("SRV="));
    CHECK(set[0].ends_with("; Path=/; Max-Age=600; HttpOnly"));
    std::string cookie = "SRV=" + id_in(set[0]);

    for (int i = 0; i < 20; ++i) {
        FakeRequest again("GET", "/", {{"Cookie", "a=1; " + cookie}});
        REQUIRE(pick(module, instance, i % 2 ? first : second, peers, again) == placed);
        REQUIRE(cookies_for(module, instance, first, peers, static_cast<size_t>(placed), again).empty());
    }

    SECTION("a down or tried peer, or an unknown id, falls back and the cookie is re-issued") {
        FakeRequest again("GET", "/", {{"Cookie", cookie}});
        peers[static_cast<size_t>(placed)].down = true;
        int other = pick(module, instance, first, peers, again);
        CHECK(other >= 0);
        CHECK(other != placed);
        auto reissued = cookies_for(module, instance, first, peers, static_cast<size_t>(other), again);
        REQUIRE(reissued.size() == 1);
        CHECK(id_in(reissued[0]) != id_in(set[0]));
        peers[static_cast<size_t>(placed)].down = false;

        bool tried[3] = {};
        tried[placed] = true;
        CHECK(pick(module, instance, first, peers, again, tried) != placed);

        FakeRequest unknown("GET", "/", {{"Cookie", "SRV=000000000000"}});
        int any = pick(module, instance, first, peers, unknown);
        CHECK(cookies_for(module, instance, first, peers, static_cast<size_t>(any), unknown).size() == 1);
    }

    SECTION("ids come from addresses: another order of the peers keeps each cookie on its peer") {
        FakeHost reordered;
        for (int i = 3; i >= 1; --i)
            reordered.peers.push_back(FakePeer{"127.0.0.1:900" + std::to_string(i), 1, false});
        void *other = reordered.create(module, "max_age = 600");
        REQUIRE(other);
        auto other_peers = reordered.peer_array();
        FakeWorker worker(module.descriptor(), other);
        FakeRequest again("GET", "/", {{"Cookie", cookie}});
        int chosen = pick(module, other, worker, other_peers, again);
        REQUIRE(chosen >= 0);
        CHECK(address_of(other_peers[static_cast<size_t>(chosen)]) ==
              address_of(peers[static_cast<size_t>(placed)]));
    }
}
