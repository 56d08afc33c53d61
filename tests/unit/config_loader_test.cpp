// The config loader against real files and the real plugins: every error names file:line:col.
#include "config/config_loader.hpp"
#include "h2/h2_session.hpp"
#include "server/host_table.hpp"
#include "test_certificates.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
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
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    // Loads text with the built plugins' folder (and its built-in plugin set) as the search path,
    // or with search_path.
    Loaded load(const std::string &text, std::vector<std::string> search_path = {PROXYD_TEST_PLUGIN_DIR}) {
        Loaded out;
        out.path = dir_ + "/proxyd-" + std::to_string(files_++) + ".toml";
        std::ofstream(out.path) << text;
        LoadOptions options;
        options.plugin_search_path = std::move(search_path);
        options.host = &host_.api;
        out.config = load_config(out.path, options, out.errors);
        return out;
    }

    // A further file beside the configs load() writes (one they can include by name).
    std::string write(const std::string &name, const std::string &text) {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

    // A plugin folder of our own: the built plugins linked in under their names, and builtin as
    // its built-in plugin set (none when empty).
    std::string plugin_dir(const std::string &builtin) {
        std::string dir = dir_ + "/plugins-" + std::to_string(files_++);
        std::filesystem::create_directory(dir);
        for (const char *so : {"content_static.so", "routing_prefix.so", "balancing_round_robin.so"})
            std::filesystem::create_symlink(std::string(PROXYD_TEST_PLUGIN_DIR) + "/" + so, dir + "/" + so);
        if (!builtin.empty()) std::ofstream(dir + "/" + kBuiltinPluginsFile) << builtin;
        return dir;
    }

  private:
    LogFile log_file_;
    Logger logger_;
    PluginHost host_;
    std::string dir_;
    size_t files_ = 0;
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
        std::string error_text;
        for (auto &e : errors) error_text += e + "\n";
        INFO(profile);
        INFO(error_text);
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

TEST_CASE_METHOD(ConfigFixture, "a listener's http2 keys", "[config]") {
    const std::string up = "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n"
                           "[[listeners]]\nlisten = \"127.0.0.1:18084\"\nupstream = \"app\"\n";
    SECTION("off by default, 100 streams") {
        auto r = load(std::string(kPlugins) + up);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK_FALSE(r.config->listeners[0].http2);
        CHECK(r.config->listeners[0].http2_max_concurrent_streams == 100);
    }
    SECTION("set") {
        auto r = load(std::string(kPlugins) + up + "http2 = true\nhttp2_max_concurrent_streams = 16\n");
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->listeners[0].http2);
        CHECK(r.config->listeners[0].http2_max_concurrent_streams == 16);
    }
    SECTION("refused at their key") {
        auto r = load(std::string(kPlugins) + up + "http2 = \"on\"\nhttp2_max_concurrent_streams = 0\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(":10:9: listeners[0].http2:") &&
                                Catch::Contains(":11:32: listeners[0].http2_max_concurrent_streams:"));
    }
    SECTION("http2_websocket: off by default, set, refused at its key") {
        auto off = load(std::string(kPlugins) + up + "http2 = true\n");
        REQUIRE(off.config);
        CHECK_FALSE(off.config->listeners[0].http2_websocket);
        auto on = load(std::string(kPlugins) + up + "http2 = true\nhttp2_websocket = true\n");
        INFO(on.all());
        REQUIRE(on.config);
        CHECK(on.config->listeners[0].http2_websocket);
        auto bad = load(std::string(kPlugins) + up + "http2_websocket = 1\n");
        CHECK_FALSE(bad.config);
        CHECK_THAT(bad.all(), Catch::Contains(":10:19: listeners[0].http2_websocket:"));
    }
    SECTION("flood bounds: H2Limits' defaults") {
        auto r = load(std::string(kPlugins) + up);
        REQUIRE(r.config);
        const ListenerConfig &l = r.config->listeners[0];
        const H2Limits defaults;
        CHECK(l.http2_max_header_list_size == defaults.max_header_list_size);
        CHECK(l.http2_max_continuations == defaults.max_continuations);
        CHECK(l.http2_reset_burst == defaults.reset_burst);
        CHECK(l.http2_resets_per_second == defaults.resets_per_second);
        CHECK(l.http2_idle_frame_burst == defaults.idle_frame_burst);
    }
    // Each key set, then each refused at its own file:line:col and key.
    const std::pair<std::string, uint32_t ListenerConfig::*> bounds[] = {
        {"http2_max_header_list_size", &ListenerConfig::http2_max_header_list_size},
        {"http2_max_continuations", &ListenerConfig::http2_max_continuations},
        {"http2_reset_burst", &ListenerConfig::http2_reset_burst},
        {"http2_resets_per_second", &ListenerConfig::http2_resets_per_second},
        {"http2_idle_frame_burst", &ListenerConfig::http2_idle_frame_burst}};
    for (const auto &[key, member] : bounds) {
        DYNAMIC_SECTION(key << " set") {
            auto r = load(std::string(kPlugins) + up + "http2 = true\n" + key + " = 4096\n");
            INFO(r.all());
            REQUIRE(r.config);
            CHECK(r.config->listeners[0].*member == 4096);
        }
        DYNAMIC_SECTION(key << " refused at its key") {
            auto r = load(std::string(kPlugins) + up + key + " = -1\n");
            CHECK_FALSE(r.config);
            CHECK_THAT(r.all(), Catch::Contains(":10:" + std::to_string(key.size() + 4) + ": listeners[0]." +
                                                key + ": must be between"));
        }
    }
}

// ---- the built-in plugin set ------------------------------------------------------------------
// The build puts the shipped set beside the built plugins, so load() sees it; plugin_dir() makes
// folders with sets of a test's own.

namespace {

const std::string kServeUpstream = "[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                                   "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"web\"\n";
const std::string kServeStatic = "[handlers.site]\nplugin = \"static\"\nroot = \"/tmp\"\n"
                                 "[[listeners]]\nlisten = \"127.0.0.1:18091\"\nhandler = \"site\"\n";

std::string loaded_module_names(const Config &c) {
    std::string names;
    for (const auto &m : c.plugins.modules())
        names += (names.empty() ? "" : " ") + m->name();
    return names;
}

} // namespace

TEST_CASE_METHOD(ConfigFixture, "an upstream without balancer gets the built-in default",
                 "[config][builtin]") {
    auto r = load(kServeUpstream);
    INFO(r.all());
    REQUIRE(r.config);
    const PluginInstance *balancer = r.config->upstreams[0].balancer;
    REQUIRE(balancer);
    CHECK(balancer->module().kind() == PROXYD_KIND_BALANCING);
    CHECK(balancer->module().name() == "round_robin");
    CHECK(balancer->module().path() == std::string(PROXYD_TEST_PLUGIN_DIR) + "/balancing_round_robin.so");
    CHECK(balancer->label() == "upstreams.web.balancer");
    // Only what the config uses is loaded.
    CHECK(loaded_module_names(*r.config) == "round_robin");
}

TEST_CASE_METHOD(ConfigFixture, "a handler and a router use built-in plugins without [plugins]",
                 "[config][builtin]") {
    auto r =
        load(kServeStatic + "[[listeners]]\nlisten = \"127.0.0.1:18092\"\n[listeners.router]\n"
                            "plugin = \"prefix\"\nroutes = [ { prefix = \"/\", handler = \"site\" } ]\n");
    INFO(r.all());
    REQUIRE(r.config);
    REQUIRE(r.config->handlers.size() == 1);
    REQUIRE(r.config->handlers[0].instance);
    CHECK(r.config->handlers[0].instance->module().kind() == PROXYD_KIND_CONTENT);
    REQUIRE(r.config->listeners[1].router);
    CHECK(r.config->listeners[1].router->module().kind() == PROXYD_KIND_ROUTING);
    CHECK(loaded_module_names(*r.config) == "static prefix");
}

TEST_CASE_METHOD(ConfigFixture, "a config's own [plugins] entry overrides the built-in one",
                 "[config][builtin]") {
    SECTION("the declared file is the one loaded") {
        std::string dir = plugin_dir("[plugins]\nstatic = \"content_static.so\"\n");
        std::string own = std::string(PROXYD_TEST_PLUGIN_DIR) + "/content_static.so";
        auto r = load("[plugins]\nstatic = \"" + own + "\"\n" + kServeStatic, {dir});
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->handlers[0].instance->module().path() == own);
    }
    SECTION("also as the default balancer, which then must be a balancing plugin") {
        auto r = load("[plugins]\nround_robin = \"content_static.so\"\n" + kServeUpstream);
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":3:1: upstreams.web.balancer: plugin 'round_robin'") &&
                                Catch::Contains("is a content plugin; a balancing plugin is needed here") &&
                                Catch::Contains("it is the default balancer (" PROXYD_TEST_PLUGIN_DIR "/" +
                                                std::string(kBuiltinPluginsFile) + ":"));
    }
    SECTION("old configs that declare the shipped plugins load unchanged") {
        auto r = load(std::string(kPlugins) +
                      "[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "balancer = \"round_robin\"\n" +
                      kServeStatic);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->plugins.modules().size() == 3); // declared plugins load whether used or not
    }
}

TEST_CASE_METHOD(ConfigFixture, "without a built-in plugin set there is no default balancer",
                 "[config][builtin]") {
    std::string dir = plugin_dir("");
    std::string looked_for = dir + "/" + kBuiltinPluginsFile;
    SECTION("an upstream without balancer says so and how to fix it") {
        auto r = load(kServeUpstream, {dir});
        CHECK_FALSE(r.config);
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0], Catch::StartsWith(r.path + ":1:1: upstreams.web.balancer: missing") &&
                                    Catch::Contains("no default balancer") && Catch::Contains(looked_for) &&
                                    Catch::Contains("balancer = \"NAME\""));
    }
    SECTION("a balancer declared in [plugins] still works") {
        auto r = load("[plugins]\nrr = \"balancing_round_robin.so\"\n" + kServeUpstream +
                          "[upstreams.web.balancer]\nplugin = \"rr\"\n",
                      {dir});
        INFO(r.all());
        CHECK(r.config);
    }
    SECTION("an undeclared name says there are no built-ins") {
        auto r = load(kServeStatic, {dir});
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":2:10: handlers.site.plugin: plugin 'static' is not "
                                            "declared in [plugins], and there are no built-in plugins") &&
                       Catch::Contains(looked_for));
    }
}

TEST_CASE_METHOD(ConfigFixture, "an unknown plugin name lists the built-ins", "[config][builtin]") {
    auto r = load(
        "[handlers.h]\nplugin = \"statik\"\n[[listeners]]\nlisten = \"127.0.0.1:18093\"\nhandler = \"h\"\n");
    CHECK_FALSE(r.config);
    CHECK_THAT(r.all(),
               Catch::Contains(r.path +
                               ":2:10: handlers.h.plugin: plugin 'statik' is neither declared "
                               "in [plugins] nor a built-in plugin (built-ins: access, auth, hash, "
                               "headers, least_conn, prefix, rate_limit, round_robin, static, sticky)"));
}

TEST_CASE_METHOD(ConfigFixture, "errors in the built-in plugin set name its file, line, column and key",
                 "[config][builtin]") {
    SECTION("wrong types and unknown keys") {
        std::string dir = plugin_dir("[plugins]\nstatic = 3\nround_robin = \"balancing_round_robin.so\"\n"
                                     "[defaults]\nbalancer = \"round_robin\"\nbalancr = \"x\"\n");
        std::string set = dir + "/" + kBuiltinPluginsFile;
        auto r = load(kServeUpstream, {dir});
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(set + ":2:10: plugins.static: must be the plugin's file name") &&
                                Catch::Contains(set + ":6:1: defaults.balancr: unknown key"));
    }
    SECTION("a default balancer that is not one of its plugins") {
        std::string dir =
            plugin_dir("[plugins]\nstatic = \"content_static.so\"\n[defaults]\nbalancer = \"rr\"\n");
        auto r = load(kServeUpstream, {dir});
        CHECK_FALSE(r.config);
        REQUIRE(r.errors.size() == 1); // the upstream is not blamed for it as well
        CHECK_THAT(r.errors[0],
                   Catch::StartsWith(dir + "/" + kBuiltinPluginsFile + ":4:12: defaults.balancer:") &&
                       Catch::Contains("'rr'"));
    }
    SECTION("TOML syntax") {
        std::string dir = plugin_dir("[plugins\nstatic = \"content_static.so\"\n");
        auto r = load(kServeUpstream, {dir});
        CHECK_FALSE(r.config);
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0], Catch::StartsWith(dir + "/" + kBuiltinPluginsFile + ":1:"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "a built-in plugin's file is needed only when its name is used",
                 "[config][builtin]") {
    std::string dir =
        plugin_dir("[plugins]\nstatic = \"content_static.so\"\nprefix = \"missing_prefix.so\"\n"
                   "round_robin = \"balancing_round_robin.so\"\n[defaults]\nbalancer = \"round_robin\"\n");
    SECTION("unused: no error") {
        auto r = load(kServeStatic + kServeUpstream.substr(0, kServeUpstream.find("[[")), {dir});
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(loaded_module_names(*r.config) == "round_robin static"); // upstreams load before handlers
    }
    SECTION("used: the error is at the use and names the built-in entry, once") {
        auto r =
            load(std::string(
                     "[[listeners]]\nlisten = \"127.0.0.1:18094\"\n[listeners.router]\nplugin = \"prefix\"\n"
                     "routes = [ { prefix = \"/\", handler = \"site\" } ]\n"
                     "[[listeners]]\nlisten = \"127.0.0.1:18095\"\n[listeners.router]\nplugin = \"prefix\"\n"
                     "routes = [ { prefix = \"/\", handler = \"site\" } ]\n") +
                     "[handlers.site]\nplugin = \"static\"\nroot = \"/tmp\"\n",
                 {dir});
        CHECK_FALSE(r.config);
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0], Catch::StartsWith(
                                    r.path + ":4:10: listeners[0].router.plugin: built-in plugin 'prefix' (" +
                                    dir + "/" + kBuiltinPluginsFile + ":3:10): plugin file not found") &&
                                    Catch::Contains(dir + "/missing_prefix.so"));
    }
}

// ---- limits.drain_timeout ---------------------------------------------------------------------

TEST_CASE_METHOD(ConfigFixture, "limits.drain_timeout", "[config]") {
    SECTION("default: 5s") {
        auto r = load(kServeUpstream);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->limits.drain_timeout == std::chrono::seconds(5));
    }
    SECTION("set") {
        auto r = load("[limits]\ndrain_timeout = \"2500ms\"\n" + kServeUpstream);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->limits.drain_timeout == std::chrono::milliseconds(2500));
    }
    SECTION("equal to shutdown_timeout") {
        auto r = load("[limits]\nshutdown_timeout = \"3s\"\ndrain_timeout = \"3s\"\n" + kServeUpstream);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->limits.drain_timeout == std::chrono::seconds(3));
    }
    SECTION("left out, it never exceeds a shorter shutdown_timeout") {
        auto r = load("[limits]\nshutdown_timeout = \"2s\"\n" + kServeUpstream);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->limits.drain_timeout == std::chrono::seconds(2));
    }
    SECTION("longer than shutdown_timeout: refused at the key") {
        auto r = load("[limits]\ndrain_timeout = \"20s\"\n" + kServeUpstream);
        CHECK_FALSE(r.config);
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0],
                   Catch::StartsWith(r.path + ":2:17: limits.drain_timeout: \"20s\" is longer than "
                                              "limits.shutdown_timeout (10s)"));
        r = load("[limits]\ndrain_timeout = \"3s\"\nshutdown_timeout = \"2500ms\"\n" + kServeUpstream);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":2:17: limits.drain_timeout:") &&
                                Catch::Contains("shutdown_timeout (2500ms)"));
    }
    SECTION("not a duration") {
        auto r = load("[limits]\ndrain_timeout = \"soon\"\n" + kServeUpstream);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":2:17: limits.drain_timeout: \"soon\" is not a duration"));
    }
}

// ---- upstreams.NAME.keepalive_surplus_timeout ---------------------------------------------------

TEST_CASE_METHOD(ConfigFixture, "upstream keepalive_surplus_timeout", "[config]") {
    const std::string listener = "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"web\"\n";
    auto group = [&](const std::string &keys) {
        return "[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n" + keys + listener;
    };
    SECTION("default: 1s") {
        auto r = load(kServeUpstream);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->upstreams.at(0).keepalive_surplus_timeout == std::chrono::seconds(1));
    }
    SECTION("\"0s\" turns it off, unlike the other durations") {
        auto r = load(group("keepalive_surplus_timeout = \"0s\"\n"));
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->upstreams.at(0).keepalive_surplus_timeout.count() == 0);
    }
    SECTION("left out, it never exceeds a shorter keepalive_timeout") {
        auto r = load(group("keepalive_timeout = \"400ms\"\n"));
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->upstreams.at(0).keepalive_surplus_timeout == std::chrono::milliseconds(400));
    }
    SECTION("longer than keepalive_timeout: refused at the key") {
        auto r = load(group("keepalive_timeout = \"2s\"\nkeepalive_surplus_timeout = \"3s\"\n"));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":4:29: upstreams.web.keepalive_surplus_timeout: \"3s\" is "
                                            "longer than keepalive_timeout (2s)"));
    }
    SECTION("not a duration") {
        auto r = load(group("keepalive_surplus_timeout = \"brief\"\n"));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":3:29: upstreams.web.keepalive_surplus_timeout: \"brief\" is "
                                            "not a duration"));
    }
}

// ---- per-listener limits ----------------------------------------------------------------------

TEST_CASE_METHOD(ConfigFixture, "a listener's limits table overrides [limits] for its connections", "[config]") {
    const std::string two_listeners = "[limits]\nheader_timeout = \"20s\"\nmax_body_size = 1000\n"
                                      "[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                                      "[[listeners]]\nname = \"strict\"\nlisten = \"127.0.0.1:18090\"\n"
                                      "upstream = \"web\"\n"
                                      "limits = { header_timeout = \"2s\", max_body_size = 10, allow_bare_lf = true }\n"
                                      "[[listeners]]\nname = \"plain\"\nlisten = \"127.0.0.1:18091\"\n"
                                      "upstream = \"web\"\n";
    SECTION("set keys override, the rest are inherited from [limits] and the defaults") {
        auto r = load(two_listeners);
        INFO(r.all());
        REQUIRE(r.config);
        const auto &strict = r.config->listeners[0].limits;
        const auto &plain = r.config->listeners[1].limits;
        CHECK(strict.header_timeout == std::chrono::seconds(2));
        CHECK(strict.max_body_bytes == 10);
        CHECK(strict.allow_bare_lf);
        CHECK(strict.keepalive_timeout == r.config->limits.keepalive_timeout);
        CHECK(plain.header_timeout == std::chrono::seconds(20));
        CHECK(plain.max_body_bytes == 1000);
        CHECK_FALSE(plain.allow_bare_lf);
    }
    SECTION("process-wide keys are refused per listener, at the key") {
        auto r = load("[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"web\"\n"
                      "[listeners.limits]\ndrain_timeout = \"1s\"\nmax_connections = 5\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":7:17: listeners[0].limits.drain_timeout: is process-wide: "
                                                     "set it in [limits], not per listener"));
        CHECK_THAT(r.all(), Catch::Contains("listeners[0].limits.max_connections: is process-wide"));
    }
    SECTION("unknown keys and bad values name the listener's key") {
        auto r = load("[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"web\"\n"
                      "[listeners.limits]\nheader_timout = \"1s\"\nbody_timeout = \"later\"\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":7:1: listeners[0].limits.header_timout: unknown key"));
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":8:16: listeners[0].limits.body_timeout: \"later\" is not a "
                                                     "duration"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "filter_timeout bounds a pending filter, set in [limits] or per listener",
                 "[config]") {
    SECTION("the default, [limits] and the listener's own value") {
        CHECK(LimitsConfig{}.filter_timeout == std::chrono::seconds(60));
        auto r = load("[limits]\nfilter_timeout = \"20s\"\n"
                      "[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"web\"\n"
                      "limits = { filter_timeout = \"250ms\" }\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18091\"\nupstream = \"web\"\n");
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->listeners[0].limits.filter_timeout == std::chrono::milliseconds(250));
        CHECK(r.config->listeners[1].limits.filter_timeout == std::chrono::seconds(20));
    }
    SECTION("a bad value names file, line:col and key") {
        auto r = load("[limits]\nfilter_timeout = 5\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":2:18: limits.filter_timeout:"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "handshake_timeout is a connection limit, set in [limits] or per listener",
                 "[config]") {
    const std::string listeners = "[limits]\nhandshake_timeout = \"4s\"\n"
                                  "[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                                  "[[listeners]]\nname = \"strict\"\nlisten = \"127.0.0.1:18090\"\n"
                                  "upstream = \"web\"\nlimits = { handshake_timeout = \"1500ms\" }\n"
                                  "[[listeners]]\nname = \"plain\"\nlisten = \"127.0.0.1:18091\"\n"
                                  "upstream = \"web\"\n";
    SECTION("the default, [limits] and the listener's own value") {
        CHECK(LimitsConfig{}.handshake_timeout == std::chrono::seconds(10));
        auto r = load(listeners);
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->listeners[0].limits.handshake_timeout == std::chrono::milliseconds(1500));
        CHECK(r.config->listeners[1].limits.handshake_timeout == std::chrono::seconds(4));
    }
    SECTION("a bad value names file, line:col and key") {
        auto r = load("[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"web\"\n"
                      "[listeners.limits]\nhandshake_timeout = \"0s\"\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(
                                r.path + ":7:21: listeners[0].limits.handshake_timeout: \"0s\" is no time: "
                                         "give one longer than 0s"));
    }
}

// ---- one way to refer: inline or by name ------------------------------------------------------

TEST_CASE_METHOD(ConfigFixture, "a listener's handler, upstream and router may be inline or named", "[config]") {
    SECTION("an inline handler and an inline upstream take the listener's name") {
        auto r = load("[[listeners]]\nname = \"files\"\nlisten = \"127.0.0.1:18090\"\n"
                      "handler = { plugin = \"static\", root = \"/tmp\" }\n"
                      "[[listeners]]\nname = \"api\"\nlisten = \"127.0.0.1:18091\"\n"
                      "upstream = { peers = [\"127.0.0.1:9001\"], read_timeout = \"5s\" }\n");
        INFO(r.all());
        REQUIRE(r.config);
        const Config &c = *r.config;
        REQUIRE(c.handlers.size() == 1);
        REQUIRE(c.upstreams.size() == 1);
        CHECK(c.target_name(c.listeners[0].target) == "files");
        CHECK(c.target_name(c.listeners[1].target) == "api");
        CHECK(c.upstreams[0].read_timeout == std::chrono::seconds(5));
        CHECK(c.upstreams[0].balancer != nullptr); // the default balancer
    }
    SECTION("a named router is shared by the listeners that name it") {
        auto r = load("[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "[routers.site]\nplugin = \"prefix\"\nroutes = [{ prefix = \"/\", upstream = \"web\" }]\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nrouter = \"site\"\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18091\"\nrouter = \"site\"\n");
        INFO(r.all());
        REQUIRE(r.config);
        CHECK(r.config->listeners[0].router != nullptr);
        CHECK(r.config->listeners[0].router == r.config->listeners[1].router);
    }
    SECTION("an unknown router name, a router of the wrong kind, an inline name that is taken") {
        auto r = load("[upstreams.web]\npeers = [\"127.0.0.1:9001\"]\n"
                      "[routers.bad]\nplugin = \"static\"\nroot = \"/tmp\"\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nrouter = \"nosuch\"\n"
                      "[[listeners]]\nname = \"web\"\nlisten = \"127.0.0.1:18091\"\n"
                      "handler = { plugin = \"static\", root = \"/tmp\" }\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":8:10: listeners[0].router: router 'nosuch' is not declared "
                                                     "in [routers]"));
        CHECK_THAT(r.all(), Catch::Contains("routers.bad"));
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":12:11: listeners[1].handler: an inline target takes its "
                                                     "listener's name 'web'"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "errors about included or filled-in values point where they were written",
                 "[config][include][defaults]") {
    std::string site =
        write("site.toml", "\n[upstreams.api]\npeers = [\"127.0.0.1:1\"]\nconnect_timeout = \"soon\"\n"
                           "[[listeners]]\nname = \"api\"\nlisten = \"127.0.0.1:18082\"\n"
                           "upstream = \"api\"\nport = 80\n");
    auto r = load("include = \"site.toml\"\n[defaults.handler]\nplugin = \"static\"\nroot = \"/tmp\"\n"
                  "no_such_key = 1\n[handlers.h]\n[defaults.upstream]\nread_timeout = \"later\"\n");
    CHECK_FALSE(r.config);
    CHECK_THAT(r.all(), Catch::Contains(site + ":4:19: upstreams.api.connect_timeout: \"soon\""));
    CHECK_THAT(r.all(), Catch::Contains(site + ":9:1: listeners[0].port: unknown key"));
    // A default is checked where it is used, and reported where it is written.
    CHECK_THAT(r.all(), Catch::Contains(r.path + ":8:16: upstreams.api.read_timeout: \"later\""));
    // A plugin's unknown key is reported at the key, not at its value (column 15).
    CHECK_THAT(
        r.all(),
        Catch::Contains(r.path + ":5:1: handlers.h.no_such_key: plugin static: unknown key 'no_such_key'"));
}

TEST_CASE_METHOD(ConfigFixture, "a plugin's error names the dotted key and the line of the node it is about",
                 "[config][plugins]") {
    SECTION("nested keys and array elements of a filter") {
        auto r = load("[filters.hdr]\nplugin = \"headers\"\nrequest = { set = { \"X-A\" = 42 }, remove = "
                      "[\"ok\", \"\"] }\n"
                      "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\nfilters = [\"hdr\"]\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"app\"\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":3:29: filters.hdr.request.set.X-A: plugin headers: "));
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":3:51: filters.hdr.request.remove[1]: plugin headers: "));
    }
    SECTION("a handler with filters, whose block its plugin sees as a copy without them") {
        auto r =
            load("[filters.hdr]\nplugin = \"headers\"\nrequest = { remove = [\"X-A\"] }\n"
                 "[handlers.site]\nplugin = \"static\"\nfilters = [\"hdr\"]\nroot = 42\nno_such_key = 1\n"
                 "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nhandler = \"site\"\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(
                                r.path + ":7:8: handlers.site.root: plugin static: 'root' must be a string"));
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":8:1: handlers.site.no_such_key: plugin static: unknown key"));
        CHECK_THAT(r.all(), !Catch::Contains(":0:0:"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "a file key naming a folder or no file is refused at that key, once",
                 "[config][tls]") {
    test::TempDir certs;
    TlsCertificateFiles site = test::make_certificate(certs, "site", test::KeyType::kEcdsa, {"localhost"});
    auto listener = [&](const std::string &tls) {
        return "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nhandler = { plugin = \"static\", root = "
               "\"/tmp\" }\n"
               "tls = { " +
               tls + " }\n";
    };
    const std::string pair = "certificate = \"" + site.chain + "\", key = \"" + site.key + "\"";
    SECTION("client_ca = \"\" names the config's folder: refused, where reading it threw and ended proxyd") {
        auto r = load(listener(pair + ", client_ca = \"\""));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(":4:") && Catch::Contains("listeners[0].tls.client_ca: ") &&
                                Catch::Contains(": a folder, not a file"));
        CHECK(r.errors.size() == 1);
    }
    SECTION("a client_ca that is not there is reported at its key, not at the tls table") {
        auto r = load(listener(pair + ", client_ca = \"nope.pem\""));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(),
                   Catch::Contains("listeners[0].tls.client_ca: " +
                                   (std::filesystem::path(r.path).parent_path() / "nope.pem").string() +
                                   ": cannot read it (No such file or directory)"));
        CHECK(r.errors.size() == 1);
    }
    SECTION("certificate = \"\" is reported at certificate, not as the key's missing PEM") {
        auto r = load(listener("certificate = \"\", key = \"" + site.key + "\""));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains("listeners[0].tls.certificate: ") &&
                                Catch::Contains(": a folder, not a file"));
        CHECK(r.errors.size() == 1);
    }
    SECTION("verify_client without client_ca is one error, not a second one about an unnamed bundle") {
        auto r = load(listener(pair + ", verify_client = \"required\""));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains("listeners[0].tls.verify_client: needs client_ca"));
        CHECK(r.errors.size() == 1);
    }
    SECTION("certificates = [] is refused: the listener served cleartext HTTP") {
        auto r = load(listener("certificates = []"));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains("listeners[0].tls.certificates: needs at least one"));
    }
    SECTION("protocols = [] is refused, not read as both") {
        auto r = load(listener(pair + ", protocols = []"));
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains("listeners[0].tls.protocols: must name"));
    }
    SECTION("an empty OpenSSL list is refused, not read as the defaults") {
        for (std::string key : {"ciphers", "ciphersuites", "groups"}) {
            auto r = load(listener(pair + ", " + key + " = \"\""));
            CHECK_FALSE(r.config);
            CHECK_THAT(r.all(), Catch::Contains("listeners[0].tls." + key +
                                                ": is empty: leave the key out for the defaults"));
        }
        auto r = load("[upstreams.u]\npeers = [\"https://127.0.0.1:9001\"]\ntls = { ciphers = \"\" }\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"u\"\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains("upstreams.u.tls.ciphers: is empty"));
    }
    SECTION("a file a plugin loads (mime_types = \"\")") {
        auto r = load("[handlers.site]\nplugin = \"static\"\nroot = \"/tmp\"\nmime_types = \"\"\n"
                      "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nhandler = \"site\"\n");
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":4:14: handlers.site.mime_types: plugin static: ") &&
                                Catch::Contains(": a folder, not a file"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "a log file that could not be opened is refused by -t, at its key",
                 "[config][log]") {
    const std::string listener =
        "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nhandler = { plugin = \"static\", "
        "root = \"/tmp\" }\n";
    auto folder = load("[log]\naccess = \"\"\nerror = \"no-such-folder/error.log\"\n" + listener);
    CHECK_FALSE(folder.config);
    CHECK_THAT(folder.all(), Catch::Contains(folder.path + ":2:10: log.access: ") &&
                                 Catch::Contains(": a folder, not a file (\"stderr\", \"off\" or a file)"));
    CHECK_THAT(folder.all(), Catch::Contains(folder.path + ":3:9: log.error: ") &&
                                 Catch::Contains("no-such-folder/error.log: cannot create it in "));
    // A file that is not there yet is fine where it can be made, and the check makes nothing.
    auto fresh = load("[log]\naccess = \"access.log\"\nerror = \"stderr\"\n" + listener);
    INFO(fresh.all());
    REQUIRE(fresh.config);
    CHECK_FALSE(std::filesystem::exists(std::filesystem::path(fresh.path).parent_path() / "access.log"));
}

TEST_CASE_METHOD(ConfigFixture, "upstream TLS: https:// peers and the group's tls table", "[config][tls]") {
    const std::string listen = "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"app\"\n";
    SECTION("the scheme chooses per peer; the name checked is the peer's host") {
        auto r = load(std::string(kPlugins) +
                      "[upstreams.app]\npeers = [\"https://127.0.0.1:9443\", \"http://127.0.0.1:9001\", "
                      "\"127.0.0.1:9002\", \"https://[::1]:9444\"]\n" +
                      listen);
        INFO(r.all());
        REQUIRE(r.config);
        const UpstreamConfig &u = r.config->upstreams[0];
        REQUIRE(u.peers.size() == 4);
        CHECK(u.tls != nullptr); // the system store by default
        CHECK(u.peers[0].tls);
        CHECK(u.peers[0].address_text == "https://127.0.0.1:9443");
        CHECK(u.peers[0].authority == "127.0.0.1:9443");
        CHECK(u.peers[0].address.port() == 9443);
        CHECK(u.peers[0].tls_name == "127.0.0.1");
        CHECK(u.peers[0].tls_name_is_ip);
        CHECK_FALSE(u.peers[1].tls);
        CHECK(u.peers[1].authority == "127.0.0.1:9001");
        CHECK_FALSE(u.peers[2].tls);
        CHECK(u.peers[3].tls_name == "::1");
        CHECK(u.peers[3].tls_name_is_ip);
    }
    SECTION("cleartext peers alone need no TLS context") {
        auto r = load(std::string(kPlugins) + "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n" + listen);
        REQUIRE(r.config);
        CHECK(r.config->upstreams[0].tls == nullptr);
    }
    SECTION("a tls table makes every peer speak TLS, checked against server_name") {
        auto r =
            load(std::string(kPlugins) +
                 "[upstreams.app]\npeers = [\"127.0.0.1:9443\", { address = \"https://127.0.0.1:9444\" }]\n"
                 "tls = { verify = false, server_name = \"api.internal\", protocols = [\"TLSv1.3\"] }\n" +
                 listen);
        INFO(r.all());
        REQUIRE(r.config);
        const UpstreamConfig &u = r.config->upstreams[0];
        CHECK(u.tls != nullptr);
        for (const PeerConfig &p : u.peers) {
            CHECK(p.tls);
            CHECK(p.tls_name == "api.internal");
            CHECK_FALSE(p.tls_name_is_ip);
        }
    }
    SECTION("errors name file:line:col and the key") {
        auto r = load(std::string(kPlugins) + "[upstreams.app]\npeers = [\"ftp://127.0.0.1:21\"]\n" + listen);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":6:10: upstreams.app.peers[0]") &&
                                Catch::Contains("http:// or https://"));
        r = load(std::string(kPlugins) +
                 "[upstreams.app]\npeers = [\"http://127.0.0.1:9001\"]\ntls = { verify = true }\n" + listen);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":6:10: upstreams.app.peers[0]") &&
                                Catch::Contains("speaks TLS to every peer"));
        r = load(std::string(kPlugins) +
                 "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n"
                 "tls = { certificate = \"client.pem\", sni = \"x\" }\n" +
                 listen);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":7:37: upstreams.app.tls.sni: unknown key"));
        CHECK_THAT(r.all(), Catch::Contains("upstreams.app.tls: a client certificate needs both"));
        r = load(std::string(kPlugins) +
                 "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n"
                 "tls = { ca = \"missing-ca.pem\" }\n" +
                 listen);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":7:14: upstreams.app.tls.ca: ") &&
                       Catch::Contains("missing-ca.pem: cannot read it (No such file or directory)"));
        CHECK(r.errors.size() == 1);
        r = load(std::string(kPlugins) +
                 "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n"
                 "tls = { server_name = \"\", protocols = [\"SSLv3\"] }\n" +
                 listen);
        CHECK_THAT(r.all(), Catch::Contains("upstreams.app.tls.server_name: must not be empty"));
        CHECK_THAT(r.all(),
                   Catch::Contains("upstreams.app.tls.protocols: must be \"TLSv1.2\" or \"TLSv1.3\""));
    }
}

TEST_CASE_METHOD(ConfigFixture, "peers found in DNS: resolve and srv entries, [resolver] and their errors",
                 "[config][discovery]") {
    const std::string front = "[[listeners]]\nlisten = \"127.0.0.1:18090\"\nupstream = \"u\"\n";
    SECTION("a group of fixed and discovered peers gets max_peers slots after its fixed ones") {
        auto r =
            load(std::string(kPlugins) + "[resolver]\nservers = [\"127.0.0.1:5353\", \"[::1]:53\"]\n" +
                 "timeout = \"500ms\"\ntries = 3\n[upstreams.u]\npeers = [\"127.0.0.1:9001\", " +
                 "{ resolve = \"web.internal:8080\", weight = 3 }, { srv = \"_http._tcp.api.internal\" }]\n" +
                 "max_peers = 4\nresolve_interval = \"10s\"\n" + front);
        REQUIRE(r.config);
        const auto &u = r.config->upstreams[0];
        REQUIRE(u.peers.size() == 5);
        CHECK_FALSE(u.peers[0].discovered);
        CHECK(u.peers[1].discovered);
        CHECK(u.peers[4].address_text == "dns#4");
        CHECK(u.discovery_first_slot == 1);
        REQUIRE(u.discovery.size() == 2);
        CHECK(u.discovery[0].name == "web.internal");
        CHECK(u.discovery[0].port == 8080);
        CHECK(u.discovery[0].weight == 3);
        CHECK(u.discovery[1].kind == DiscoverySource::Kind::kService);
        CHECK(u.discovery_timing.interval == std::chrono::seconds(10));
        CHECK(r.config->resolver.servers == std::vector<std::string>{"127.0.0.1:5353", "[::1]:53"});
        CHECK(r.config->resolver.tries == 3);
    }
    SECTION("errors at the key") {
        auto r = load(std::string(kPlugins) + "[resolver]\nservers = [\"dns.example:53\"]\n[upstreams.u]\n" +
                      "peers = [{ resolve = \"10.0.0.1:80\" }, { srv = \"_http._tcp.x\", weight = 2 }, " +
                      "{ resolve = \"web:http\" }, { resolve = \"a:1\", srv = \"b\" }]\n" + front);
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":6:12: resolver.servers[0]: a DNS server is an IP address"));
        CHECK_THAT(r.all(), Catch::Contains("upstreams.u.peers[0].resolve") &&
                                Catch::Contains("is not a host name and port"));
        CHECK_THAT(r.all(),
                   Catch::Contains("upstreams.u.peers[1].weight: SRV records give their own weights"));
        CHECK_THAT(r.all(), Catch::Contains("upstreams.u.peers[2].resolve"));
        CHECK_THAT(r.all(), Catch::Contains("upstreams.u.peers[3]: a peer is found by resolve"));
    }
    SECTION("max_peers without a discovered peer") {
        auto r = load(std::string(kPlugins) + "[upstreams.u]\npeers = [\"127.0.0.1:9001\"]\nmax_peers = 3\n" +
                      front);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":7:13: upstreams.u.max_peers: applies to peers found in DNS"));
    }
}

TEST_CASE_METHOD(ConfigFixture, "upstream policies: limits, queue, retry_on, budget and outliers",
                 "[config]") {
    const std::string head = std::string(kPlugins) + "[upstreams.app]\npeers = [\"127.0.0.1:9001\"]\n";
    const std::string tail =
        "[[listeners]]\nname = \"front\"\nlisten = \"127.0.0.1:18080\"\nupstream = \"app\"\n";
    SECTION("read as written") {
        auto r =
            load(head +
                 "max_connections = 4\nqueue_size = 10\nqueue_timeout = \"2s\"\n"
                 "retry_on = [\"connect-failure\", \"503\", \"504\"]\n"
                 "retry_budget = { ratio = 0.25, min_per_second = 2 }\n"
                 "outlier = { consecutive_5xx = 7, base_ejection = \"5s\", max_ejection_percent = 30 }\n" +
                 tail);
        INFO(r.all());
        REQUIRE(r.config);
        const UpstreamPolicies &p = r.config->upstreams[0].policies;
        CHECK(p.max_connections == 4);
        CHECK(p.queue_size == 10);
        CHECK(p.queue_timeout == std::chrono::milliseconds(2000));
        CHECK(p.retry_on.connect_failure);
        CHECK_FALSE(p.retry_on.timeout);
        CHECK_FALSE(p.retry_on.invalid_response);
        CHECK(p.retry_on.status(503));
        CHECK_FALSE(p.retry_on.status(500));
        CHECK(p.retry_budget.ratio == Approx(0.25));
        CHECK(p.retry_budget.min_per_second == 2);
        CHECK(p.outlier.enabled);
        CHECK(p.outlier.consecutive_5xx == 7);
        CHECK(p.outlier.consecutive_connect_failures == 5);
        CHECK(p.outlier.base_ejection == std::chrono::milliseconds(5000));
        CHECK(p.outlier.max_ejection_percent == 30);
    }
    SECTION("defaults: no limit, today's retries, no budget, no ejection") {
        auto r = load(head + tail);
        REQUIRE(r.config);
        const UpstreamPolicies &p = r.config->upstreams[0].policies;
        CHECK(p.max_connections == 0);
        CHECK(p.retry_on.connect_failure);
        CHECK(p.retry_on.timeout);
        CHECK(p.retry_on.invalid_response);
        CHECK_FALSE(p.retry_on.status(502));
        CHECK_FALSE(p.retry_budget.enabled());
        CHECK_FALSE(p.outlier.enabled);
    }
    SECTION("errors name file:line:col and key") {
        auto r = load(head + "retry_on = [\"5xx\", \"teapot\"]\n" + tail);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":7:20: upstreams.app.retry_on[1]: is not a retry condition"));
        r = load(head + "retry_budget = { ratio = 2 }\n" + tail);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":7:26: upstreams.app.retry_budget.ratio: must be a number"));
        r = load(head + "retry_budget = { ratio = nan }\n" + tail); // compares false with both bounds
        CHECK_FALSE(r.config);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":7:26: upstreams.app.retry_budget.ratio: must be a number"));
        r = load(head + "outlier = { consecutive_5xx = 3, base = \"1s\" }\n" + tail);
        CHECK_THAT(r.all(), Catch::Contains(r.path + ":7:34: upstreams.app.outlier.base: unknown key"));
        r = load(head + "outlier = { max_ejection_percent = 101 }\n" + tail);
        CHECK_THAT(r.all(),
                   Catch::Contains(":7:") && Catch::Contains("upstreams.app.outlier.max_ejection_percent: "
                                                             "must be between 0 and 100"));
        r = load(head + "queue_size = 5\n" + tail);
        CHECK_THAT(r.all(),
                   Catch::Contains(r.path + ":7:14: upstreams.app.queue_size: needs max_connections"));
        r = load(head + "max_connections = 1\nqueue_timeout = \"soon\"\n" + tail);
        CHECK_THAT(r.all(), Catch::Contains(
                                r.path + ":8:17: upstreams.app.queue_timeout: \"soon\" is not a duration"));
    }
}
