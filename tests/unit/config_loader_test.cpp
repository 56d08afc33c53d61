// The config loader against real files and the real plugins: every error names file:line:col.
#include "config/config_loader.hpp"
#include "plugin/host_calls.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace proxyd;

namespace {

struct Loaded {
    std::unique_ptr<Config> config;
    std::vector<std::string> errors;
    std::string path;
    std::string all() const {
        std::string s;
        for (auto &e : errors) s += e + "\n";
        return s;
    }
};

class ConfigFixture {
  public:
    ConfigFixture() : logger_(log_file_) {
        std::string ignored;
        log_file_.open("off", ignored);
        init_plugin_host(host_, logger_);
        char dir[] = "/tmp/proxyd-unit-XXXXXX";
        dir_ = mkdtemp(dir);
    }
    ~ConfigFixture() {
        for (auto &f : files_) std::remove(f.c_str());
        rmdir(dir_.c_str());
    }

    Loaded load(const std::string &text) {
        Loaded out;
        out.path = dir_ + "/proxyd-" + std::to_string(files_.size()) + ".toml";
        files_.push_back(out.path);
        std::ofstream(out.path) << text;
        LoadOptions options;
        options.plugin_search_path = {PROXYD_TEST_PLUGIN_DIR};
        options.host = &host_.api;
        out.config = load_config(out.path, options, out.errors);
        return out;
    }

  private:
    LogFile log_file_;
    Logger logger_;
    PluginHost host_;
    std::string dir_;
    std::vector<std::string> files_;
};

const char *kPlugins = "[plugins]\nprefix = \"routing_prefix.so\"\nround_robin = \"balancing_round_robin.so\"\n"
                       "static = \"content_static.so\"\n";

} // namespace

TEST_CASE_METHOD(ConfigFixture, "the shipped profiles load", "[config]") {
    for (const char *profile : {"reverse.toml", "lb.toml", "backends.toml"}) {
        LoadOptions options;
        options.plugin_search_path = {PROXYD_TEST_PLUGIN_DIR};
        PluginHost host;
        LogFile f;
        std::string ignored;
        f.open("off", ignored);
        Logger logger(f);
        init_plugin_host(host, logger);
        options.host = &host.api;
        std::vector<std::string> errors;
        auto config = load_config(std::string(PROXYD_TEST_SOURCE_DIR) + "/conf.d/" + profile, options, errors);
        INFO(profile);
        for (auto &e : errors) INFO(e);
        REQUIRE(config);
        CHECK(errors.empty());
    }
}

TEST_CASE_METHOD(ConfigFixture, "a minimal proxy config becomes listeners, upstreams and targets", "[config]") {
    auto r = load(std::string("workers = 2\n") + kPlugins +
                  "[upstreams.app]\npeers = [\"127.0.0.1:9001\", { address = \"127.0.0.1:9002\", weight = 3 }]\n"
                  "connect_timeout = \"250ms\"\n"
                  "[[listeners]]\nname = \"front\"\nlisten = \"127.0.0.1:18080\"\nupstream = \"app\"\n");
    INFO(r.all());
    REQUIRE(r.config);
    const Config &c = *r.config;
    CHECK(c.workers == 2);
    REQUIRE(c.upstreams.size() == 1);
    CHECK(c.upstreams[0].peers.size() == 2);
    CHECK(c.upstreams[0].peers[1].weight == 3);
    CHECK(c.upstreams[0].connect_timeout == std::chrono::milliseconds(250));
    CHECK(c.upstreams[0].balancer != nullptr); // round_robin by default
    REQUIRE(c.listeners.size() == 1);
    CHECK(c.listeners[0].name == "front");
    CHECK(c.listeners[0].target.kind == Target::Kind::Upstream);
}

TEST_CASE_METHOD(ConfigFixture, "errors name the file, line, column and key", "[config]") {
    SECTION("unknown top-level key") {
        auto r = load(std::string("wrokers = 2\n") + kPlugins);
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":1:1: wrokers: unknown key"));
    }
    SECTION("wrong type") {
        auto r = load("workers = \"two\"\n");
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":1:11: workers: must be an integer"));
    }
    SECTION("TOML syntax") {
        auto r = load("[listeners\n");
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0], Catch::StartsWith(r.path + ":1:"));
    }
    SECTION("route to an unknown upstream, reported by the routing plugin at the value") {
        auto r = load(std::string(kPlugins) +
                      "[[listeners]]\nlisten = \"127.0.0.1:18081\"\n[listeners.router]\nplugin = \"prefix\"\n"
                      "routes = [ { prefix = \"/\", upstream = \"nowhere\" } ]\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":9:") && Catch::Contains("plugin prefix") &&
                                Catch::Contains("'nowhere'"));
    }
    SECTION("duplicate listen address") {
        auto r = load(std::string(kPlugins) + "[handlers.h]\nplugin = \"static\"\nroot = \"/tmp\"\n" +
                      "[[listeners]]\nlisten = \"127.0.0.1:18082\"\nhandler = \"h\"\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18082\"\nhandler = \"h\"\n");
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":12:10: listeners[1].listen") &&
                                Catch::Contains("already used"));
    }
    SECTION("a handler of the wrong kind of plugin") {
        auto r = load(std::string(kPlugins) + "[handlers.h]\nplugin = \"round_robin\"\n" +
                      "[[listeners]]\nlisten = \"127.0.0.1:18083\"\nhandler = \"h\"\n");
        CHECK_THAT(r.all(), Catch::Contains("handlers.h.plugin") && Catch::Contains("balancing plugin") &&
                                Catch::Contains("content plugin is needed"));
    }
    SECTION("a missing plugin file names the paths looked at") {
        auto r = load("[plugins]\nnope = \"no_such_plugin.so\"\n");
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":2:8: plugins.nope: plugin file not found") &&
                                Catch::Contains("no_such_plugin.so"));
    }
    SECTION("a bad duration and a bad peer") {
        auto r = load(std::string(kPlugins) + "[upstreams.u]\npeers = [\"127.0.0.1\"]\nread_timeout = \"5 parsecs\"\n");
        CHECK_THAT(r.all(), Catch::Contains("upstreams.u.peers[0]") && Catch::Contains("port is missing"));
        CHECK_THAT(r.all(), Catch::Contains("upstreams.u.read_timeout") && Catch::Contains("not a duration"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "the framing switches and keepalive_requests", "[config]") {
    const std::string serve = "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n"
                              "[[listeners]]\nlisten = \"127.0.0.1:18084\"\nupstream = \"app\"\n";
    SECTION("defaults: strict line endings, 10000 requests per connection") {
        auto r = load(std::string(kPlugins) + serve);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK_FALSE(r.config->limits.allow_bare_lf);
        CHECK(r.config->limits.keepalive_requests == 10000);
    }
    SECTION("set") {
        auto r =
            load(std::string("[limits]\nallow_bare_lf = true\nkeepalive_requests = 0\n") + kPlugins + serve);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->limits.allow_bare_lf);
        CHECK(r.config->limits.keepalive_requests == 0);
    }
    SECTION("refused with their key") {
        auto r = load(std::string("[limits]\nallow_bare_lf = \"yes\"\nkeepalive_requests = -1\n") + kPlugins);
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(),
                   Catch::Contains("limits.allow_bare_lf") && Catch::Contains("limits.keepalive_requests"));
    }
}
