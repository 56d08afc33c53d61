// DnsClient and UpstreamDiscovery against a real DNS server: Debian's dnsmasq, started here on a
// loopback port with a hosts file (A/AAAA) and SRV records, changed while the test runs.
#include "discovery/dns_client.hpp"
#include "discovery/upstream_discovery.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <uv.h>
#include <vector>

extern char **environ;

using namespace proxyd;
using namespace std::chrono_literals;

namespace {

constexpr const char *kDnsmasq = "/usr/sbin/dnsmasq";

// A loopback port free for UDP and for TCP: dnsmasq binds both, and under ctest -j a port that was
// free for UDP alone was taken on TCP by another test's connection ("Address already in use").
uint16_t free_dns_port() {
    for (int attempt = 0; attempt < 50; ++attempt) {
        int udp = socket(AF_INET, SOCK_DGRAM, 0);
        int tcp = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sin;
        bool free = bind(udp, reinterpret_cast<sockaddr *>(&sin), sizeof sin) == 0 &&
                    getsockname(udp, reinterpret_cast<sockaddr *>(&sin), &len) == 0 &&
                    bind(tcp, reinterpret_cast<sockaddr *>(&sin), sizeof sin) == 0;
        close(udp);
        close(tcp);
        if (free) return ntohs(sin.sin_port);
    }
    FAIL("no loopback port free for both UDP and TCP");
    return 0;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string &path, const std::string &text) { std::ofstream(path) << text; }

// One dnsmasq process serving hosts from a file and the SRV records given, answering with a TTL of
// one second; stopped by its PID.
class Dnsmasq {
  public:
    Dnsmasq(std::string folder, uint16_t port) : folder_(std::move(folder)), port_(port) {}
    ~Dnsmasq() { stop(); }

    std::string hosts_file() const { return folder_ + "/hosts"; }

    void start(const std::vector<std::string> &srv_records) {
        std::vector<std::string> args = {kDnsmasq,
                                         "--keep-in-foreground",
                                         "--conf-file=/dev/null",
                                         "--port=" + std::to_string(port_),
                                         "--listen-address=127.0.0.1",
                                         "--bind-interfaces",
                                         "--no-resolv",
                                         "--no-hosts",
                                         "--addn-hosts=" + hosts_file(),
                                         "--local-ttl=1",
                                         "--pid-file=" + folder_ + "/dnsmasq.pid",
                                         "--log-facility=" + folder_ + "/dnsmasq.log"};
        if (geteuid() == 0) args.push_back("--user=root");
        for (const std::string &srv : srv_records)
            args.push_back("--srv-host=" + srv);
        std::vector<char *> argv;
        for (std::string &a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        write_file(folder_ + "/dnsmasq.log", "");
        REQUIRE(posix_spawn(&pid_, kDnsmasq, nullptr, nullptr, argv.data(), environ) == 0);
        for (int i = 0; i < 200 && read_file(folder_ + "/dnsmasq.log").find("read ") == std::string::npos;
             ++i)
            std::this_thread::sleep_for(10ms);
        REQUIRE(read_file(folder_ + "/dnsmasq.log").find("read ") != std::string::npos);
    }

    // Re-reads the hosts file (SIGHUP), as dnsmasq does on a record change.
    void reload() {
        kill(pid_, SIGHUP);
        std::this_thread::sleep_for(100ms);
    }

    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = 0;
    }

  private:
    std::string folder_;
    uint16_t port_;
    pid_t pid_ = 0;
};

struct Fixture {
    Fixture() {
        char pattern[] = "/tmp/proxyd-dns-XXXXXX";
        folder = mkdtemp(pattern);
        port = free_dns_port();
        uv_loop_init(&loop);
    }
    ~Fixture() {
        uv_run(&loop, UV_RUN_DEFAULT); // let every handle close
        uv_loop_close(&loop);
        std::system(("rm -rf " + folder).c_str());
    }
    DnsClientOptions options() const {
        DnsClientOptions o;
        o.servers = {"127.0.0.1:" + std::to_string(port)};
        o.timeout = 300ms;
        o.tries = 1;
        return o;
    }
    // Runs the loop until done() or the deadline.
    template <class Done> bool run_until(Done done, std::chrono::milliseconds limit = 5s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline)
            uv_run(&loop, UV_RUN_ONCE);
        return done();
    }

    std::string folder;
    uint16_t port = 0;
    uv_loop_t loop{};
};

std::vector<std::string> addresses_of(const std::vector<DiscoveredPeer> &peers) {
    std::vector<std::string> out;
    for (const DiscoveredPeer &p : peers)
        out.push_back(p.address.to_string());
    return out;
}

} // namespace

TEST_CASE("DnsClient resolves A and AAAA records with their TTL, and SRV records", "[discovery]") {
    Fixture f;
    Dnsmasq dns(f.folder, f.port);
    write_file(dns.hosts_file(),
               "127.0.0.11 web.test\n127.0.0.12 web.test\n::1 web.test\n127.0.0.21 api.test\n");
    dns.start({"_http._tcp.web.test,api.test,9100,0,5"});

    std::string error;
    DnsClient *client = DnsClient::create(&f.loop, f.options(), error);
    REQUIRE(client);

    bool got_addresses = false;
    std::vector<DnsAddress> addresses;
    client->lookup_addresses("web.test", [&](int status, std::vector<DnsAddress> a) {
        CHECK(status == 0);
        addresses = std::move(a);
        got_addresses = true;
    });
    bool got_services = false;
    std::vector<DnsService> services;
    client->lookup_services("_http._tcp.web.test", [&](int status, std::vector<DnsService> s) {
        CHECK(status == 0);
        services = std::move(s);
        got_services = true;
    });
    REQUIRE(f.run_until([&] { return got_addresses && got_services; }));
    REQUIRE(addresses.size() == 3);
    // IPv4 first, then IPv6; the port is left 0 for the caller.
    CHECK(addresses[0].address.family() == AF_INET);
    CHECK(addresses[2].address.to_string() == "[::1]:0");
    CHECK(addresses[0].ttl == 1);
    REQUIRE(services.size() == 1);
    CHECK(services[0].target == "api.test");
    CHECK(services[0].port == 9100);
    CHECK(services[0].weight == 5);

    int missing_status = 0;
    bool got_missing = false;
    client->lookup_addresses("nothing.test", [&](int status, std::vector<DnsAddress>) {
        missing_status = status;
        got_missing = true;
    });
    REQUIRE(f.run_until([&] { return got_missing; }));
    CHECK(missing_status != 0);
    client->close();
}

TEST_CASE("DnsClient refuses a malformed server address", "[discovery]") {
    Fixture f;
    DnsClientOptions options;
    options.servers = {"not an address"};
    std::string error;
    CHECK(DnsClient::create(&f.loop, options, error) == nullptr);
    CHECK(error.find("DNS resolver") != std::string::npos);
}

TEST_CASE("DnsClient answers lookups in flight when closed from a callback", "[discovery]") {
    Fixture f;
    Dnsmasq dns(f.folder, f.port);
    write_file(dns.hosts_file(), "127.0.0.11 web.test\n");
    dns.start({});
    std::string error;
    DnsClient *client = DnsClient::create(&f.loop, f.options(), error);
    REQUIRE(client);
    int calls = 0;
    int second_status = 0;
    client->lookup_addresses("web.test", [&](int, std::vector<DnsAddress>) {
        ++calls;
        client->close(); // the other lookup is answered with ARES_EDESTRUCTION
    });
    client->lookup_addresses("web.test", [&](int status, std::vector<DnsAddress>) {
        ++calls;
        second_status = status;
    });
    REQUIRE(f.run_until([&] { return calls == 2; }));
    CHECK((second_status == ARES_EDESTRUCTION || second_status == 0));
}

TEST_CASE("UpstreamDiscovery follows host and SRV records, and keeps the last good set when DNS fails",
          "[discovery]") {
    Fixture f;
    Dnsmasq dns(f.folder, f.port);
    write_file(dns.hosts_file(), "127.0.0.11 web.test\n127.0.0.12 web.test\n127.0.0.31 svc-a.test\n");
    dns.start({"_http._tcp.svc.test,svc-a.test,9200,0,3"});

    std::string error;
    DnsClient *client = DnsClient::create(&f.loop, f.options(), error);
    REQUIRE(client);
    std::vector<DiscoverySource> sources = {
        {DiscoverySource::Kind::kHost, "web.test", 9001, 2},
        {DiscoverySource::Kind::kService, "_http._tcp.svc.test", 0, 1},
    };
    std::vector<std::vector<DiscoveredPeer>> changes;
    std::vector<std::string> warnings;
    auto *discovery = new UpstreamDiscovery(
        &f.loop, *client, "app", sources, DiscoveryTiming{1000ms, 200ms},
        [&](const std::vector<DiscoveredPeer> &peers) { changes.push_back(peers); },
        [&](proxyd_log_level level, const std::string &message) {
            if (level == PROXYD_LOG_WARN) warnings.push_back(message);
        });
    discovery->start();

    REQUIRE(f.run_until([&] { return changes.size() == 1; }));
    CHECK(addresses_of(changes[0]) ==
          std::vector<std::string>{"127.0.0.11:9001", "127.0.0.12:9001", "127.0.0.31:9200"});
    CHECK(changes[0][0].weight == 2);
    CHECK(changes[0][2].weight == 3);
    CHECK(changes[0][2].source == "_http._tcp.svc.test");

    // A host leaves and another arrives: the next round (TTL 1 s) reports the new set once.
    write_file(dns.hosts_file(), "127.0.0.12 web.test\n127.0.0.13 web.test\n127.0.0.31 svc-a.test\n");
    dns.reload();
    REQUIRE(f.run_until([&] { return changes.size() == 2; }));
    CHECK(addresses_of(changes[1]) ==
          std::vector<std::string>{"127.0.0.12:9001", "127.0.0.13:9001", "127.0.0.31:9200"});

    // SRV records change (dnsmasq reads them at start): a second target on another port.
    dns.stop();
    write_file(dns.hosts_file(), "127.0.0.12 web.test\n127.0.0.13 web.test\n127.0.0.31 svc-a.test\n"
                                 "127.0.0.32 svc-b.test\n");
    dns.start({"_http._tcp.svc.test,svc-a.test,9200,0,3", "_http._tcp.svc.test,svc-b.test,9201,0,1",
               "_http._tcp.svc.test,svc-c.test,9202,1,1"}); // priority 1: a backup, not used
    REQUIRE(f.run_until([&] { return changes.size() == 3; }));
    CHECK(addresses_of(changes[2]) == std::vector<std::string>{"127.0.0.12:9001", "127.0.0.13:9001",
                                                               "127.0.0.31:9200", "127.0.0.32:9201"});

    // DNS goes away: rounds fail, the set stays, each name is reported once.
    dns.stop();
    uint64_t rounds = discovery->rounds();
    REQUIRE(f.run_until([&] { return discovery->rounds() >= rounds + 2; }, 10s));
    CHECK(changes.size() == 3);
    CHECK(discovery->peers().size() == 4);
    CHECK(warnings.size() == 2);

    discovery->close();
    client->close();
}
