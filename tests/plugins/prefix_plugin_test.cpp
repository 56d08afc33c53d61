// routing_prefix.so through the ABI: config validation and the route hook.
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::test;

namespace {

struct Router {
    PluginModule module{"routing_prefix.so"};
    FakeHost host;
    void *instance = nullptr;

    Router() {
        host.upstreams = {{"web", 1}, {"images", 2}, {"pdf", 3}};
        host.handlers = {{"default_site", 10}, {"fallback", 11}};
    }
    bool load(std::string_view toml) {
        instance = host.create(module, toml);
        return instance != nullptr;
    }
    struct Outcome {
        proxyd_route_result result;
        uint32_t target;
        std::string path; // rewritten path, "" when kept
        bool in_request_memory;
        std::string location; // a redirect's
    };
    Outcome route(std::string target) const { return route_host("localhost", std::move(target)); }
    // The same with the request's host as the core hands it over (Host field or absolute-form
    // authority, as sent). The fake request's host is fixed, so the hook gets a copy with another.
    Outcome route_host(const std::string &request_host, std::string target) const {
        FakeRequest request("GET", std::move(target));
        proxyd_request raw = *request.raw();
        raw.host = proxyd_str{request_host.data(), request_host.size()};
        proxyd_route out{};
        out.target = 9999;
        proxyd_route_result result = module.descriptor().routing->route(instance, nullptr, &raw, &out);
        std::string path =
            out.rewritten_path.ptr ? std::string(out.rewritten_path.ptr, out.rewritten_path.len) : "";
        std::string location = out.location.ptr ? std::string(out.location.ptr, out.location.len) : "";
        if (out.location.ptr) CHECK(request.owns(out.location.ptr)); // it must outlive the hook
        return {result, out.target, path, out.rewritten_path.ptr && request.owns(out.rewritten_path.ptr),
                location};
    }
};

constexpr const char *kReverse = R"(
plugin = "prefix"
routes = [
  { prefix = "/images/", upstream = "images", strip_prefix = true },
  { prefix = "/pdf/", upstream = "pdf", strip_prefix = true },
  { prefix = "/", upstream = "web" },
]
)";

} // namespace

TEST_CASE("the reverse profile's routes map and strip as documented", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(kReverse));
    INFO(r.host.error_text());

    auto images = r.route("/images/cat.jpg?size=2");
    CHECK(images.result == PROXYD_ROUTE_MATCH);
    CHECK(images.target == 2);
    CHECK(images.path == "/cat.jpg");
    CHECK_FALSE(images.in_request_memory); // a view into the request's own path

    auto pdf_root = r.route("/pdf/");
    CHECK(pdf_root.target == 3);
    CHECK(pdf_root.path == "/");

    auto web = r.route("/about.html");
    CHECK(web.result == PROXYD_ROUTE_MATCH);
    CHECK(web.target == 1);
    CHECK(web.path.empty()); // no strip: the path is kept

    // "/images" (no slash) is not under "/images/": it is redirected there, as nginx does, with
    // the query kept. (The core picks 301 or 308 by method.)
    auto bare = r.route("/images");
    CHECK(bare.result == PROXYD_ROUTE_REDIRECT);
    CHECK(bare.location == "/images/");
    CHECK(r.route("/pdf?page=2&x=%20").location == "/pdf/?page=2&x=%20");
    CHECK(r.route("/pdf?").location == "/pdf/");
    CHECK(r.route("/imagesx").target == 1);
    CHECK(r.route("/imagesx").location.empty());
}

TEST_CASE("a route whose prefix is the slash-less path keeps it from the redirect", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(R"(
plugin = "prefix"
routes = [
  { prefix = "/images/", upstream = "images" },
  { prefix = "/images", upstream = "pdf" },
]
default = { upstream = "web" }
)"));
    auto bare = r.route("/images");
    CHECK(bare.result == PROXYD_ROUTE_MATCH);
    CHECK(bare.target == 3);
    CHECK(bare.location.empty());
}

TEST_CASE("a remainder without its own slash gets one, in request memory", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(R"(routes = [ { prefix = "/api", upstream = "web", strip_prefix = true } ])"));
    CHECK(r.route("/api/v1").path == "/v1");
    CHECK(r.route("/api").path == "/");
    auto glued = r.route("/apix");
    CHECK(glued.path == "/x");
    CHECK(glued.in_request_memory);
}

TEST_CASE("without a match the router declines, or uses 'default'", "[prefix_plugin]") {
    Router declines;
    REQUIRE(declines.load(R"(routes = [ { prefix = "/images/", upstream = "images" } ])"));
    CHECK(declines.route("/other").result == PROXYD_ROUTE_DECLINE);

    Router defaults;
    REQUIRE(defaults.load(R"(
routes = [ { prefix = "/images/", upstream = "images" } ]
default = { handler = "fallback" }
)"));
    auto other = defaults.route("/other");
    CHECK(other.result == PROXYD_ROUTE_MATCH);
    CHECK(other.target == 11);
    CHECK(other.path.empty());
    CHECK(defaults.route("/images/x").target == 2);
}

constexpr const char *kVirtualHosts = R"(
routes = [
  { host = "app.example.com", prefix = "/", upstream = "web" },
  { host = "api.example.com", prefix = "/v1/", upstream = "images", strip_prefix = true },
  { host = "*.example.com", prefix = "/", handler = "default_site" },
  { host = "*.eu.example.com", prefix = "/pdf/", upstream = "pdf" },
  { host = "[::1]", prefix = "/", handler = "fallback" },
  { prefix = "/", upstream = "pdf" },
]
)";

TEST_CASE("virtual hosts: the most specific host, then the longest prefix", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(kVirtualHosts));
    INFO(r.host.error_text());

    CHECK(r.route_host("app.example.com", "/a").target == 1);
    CHECK(r.route_host("APP.Example.COM:18000", "/a").target == 1);
    CHECK(r.route_host("app.example.com.", "/a").target == 1);

    auto api = r.route_host("api.example.com", "/v1/users?id=2");
    CHECK(api.result == PROXYD_ROUTE_MATCH);
    CHECK(api.target == 2);
    CHECK(api.path == "/users");

    CHECK(r.route_host("x.example.com", "/a").target == 10);
    CHECK(r.route_host("a.b.example.com", "/a").target == 10);
    CHECK(r.route_host("x.eu.example.com", "/pdf/a.pdf").target == 3);
    CHECK(r.route_host("x.eu.example.com", "/a").target == 10);
    CHECK(r.route_host("example.com", "/a").target == 3); // not under *.example.com
    CHECK(r.route_host("unknown.test", "/a").target == 3);
    CHECK(r.route_host("[::1]:8080", "/a").target == 11);
    CHECK(r.route_host("", "/a").target == 3);
}

TEST_CASE("virtual hosts: a path the host does not define falls back to less specific routes",
          "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(kVirtualHosts));
    // api.example.com has only /v1/: the wildcard answers the rest, and keeps the path.
    auto v2 = r.route_host("api.example.com", "/v2/users");
    CHECK(v2.target == 10);
    CHECK(v2.path.empty());

    Router declines;
    REQUIRE(declines.load(R"(routes = [ { host = "api.example.com", prefix = "/v1/", upstream = "web" } ])"));
    CHECK(declines.route_host("api.example.com", "/v1/x").result == PROXYD_ROUTE_MATCH);
    CHECK(declines.route_host("api.example.com", "/v2/x").result == PROXYD_ROUTE_DECLINE);
    CHECK(declines.route_host("app.example.com", "/v1/x").result == PROXYD_ROUTE_DECLINE);

    Router defaults;
    REQUIRE(defaults.load(R"(
routes = [ { host = "api.example.com", prefix = "/v1/", upstream = "web" } ]
default = { handler = "fallback" }
)"));
    CHECK(defaults.route_host("app.example.com", "/v1/x").target == 11);
}

TEST_CASE("routes without a host route as before, whatever the host", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(kReverse));
    for (const char *host : {"localhost", "app.example.com:80", "", "[::1]", "weird..host"}) {
        CAPTURE(host);
        CHECK(r.route_host(host, "/images/a.png").target == 2);
        CHECK(r.route_host(host, "/images/a.png").path == "/a.png");
        CHECK(r.route_host(host, "/x").target == 1);
    }
}

TEST_CASE("a route may name a content handler", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(R"(routes = [ { prefix = "/", handler = "default_site" } ])"));
    CHECK(r.route("/x").target == 10);
}

TEST_CASE("route config errors are precise and located", "[prefix_plugin]") {
    struct Case {
        const char *toml;
        const char *message;
        int line;
        int column;
    };
    const Case cases[] = {
        {"routes = [ { prefix = \"/a/\", upstream = \"web\" } ]\nfoo = 1", "unknown key 'foo'", 2, 1},
        {"default = { upstream = \"web\" }", "'routes' is required", 1, 1},
        {"routes = \"/\"", "'routes' must be an array of tables", 1, 10},
        {"routes = []", "'routes' is empty", 1, 10},
        {"routes = [ \"/a/\" ]", "each route must be a table", 1, 12},
        {"routes = [ { upstream = \"web\" } ]", "route needs a 'prefix'", 1, 12},
        {"routes = [ { prefix = 5, upstream = \"web\" } ]", "'prefix' must be a string", 1, 23},
        {"routes = [ { prefix = \"a/\", upstream = \"web\" } ]", "prefix 'a/' must start with '/'", 1, 23},
        {"routes = [ { prefix = \"/a/\" } ]", "route '/a/' needs a target", 1, 12},
        {"routes = [ { prefix = \"/a/\", upstream = \"web\", handler = \"fallback\" } ]",
         "route '/a/' names both 'upstream' and 'handler'", 1, 58},
        {"routes = [ { prefix = \"/a/\", upstream = \"nope\" } ]", "unknown upstream 'nope'", 1, 41},
        {"routes = [ { prefix = \"/a/\", handler = \"nope\" } ]", "unknown handler 'nope'", 1, 40},
        {"routes = [ { prefix = \"/a/\", upstream = 1 } ]", "'upstream' must be a string", 1, 41},
        {"routes = [ { prefix = \"/a/\", upstream = \"web\", strip_prefix = \"yes\" } ]",
         "'strip_prefix' must be a boolean", 1, 63},
        {"routes = [ { prefix = \"/a/\", upstream = \"web\", strip = true } ]", "unknown key 'strip'", 1, 48},
        {"routes = [\n { prefix = \"/a/\", upstream = \"web\" },\n { prefix = \"/a/\", upstream = \"images\" "
         "},\n]",
         "duplicate prefix '/a/'", 3, 13},
        {"routes = [ { host = \"a.example:80\", prefix = \"/\", upstream = \"web\" } ]",
         "host 'a.example:80': give the host name without a port", 1, 21},
        {"routes = [ { host = 5, prefix = \"/\", upstream = \"web\" } ]", "'host' must be a string", 1, 21},
        {"routes = [ { host = \"http://a.example\", prefix = \"/\", upstream = \"web\" } ]",
         "host 'http://a.example': give the host name alone, without a scheme", 1, 21},
        {"routes = [ { host = \"a.example/x\", prefix = \"/\", upstream = \"web\" } ]",
         "host 'a.example/x': give the host name alone, without a path", 1, 21},
        {"routes = [ { host = \"a .example\", prefix = \"/\", upstream = \"web\" } ]",
         "host 'a .example' contains a space or control character", 1, 21},
        {"routes = [ { host = \"a..example\", prefix = \"/\", upstream = \"web\" } ]",
         "host 'a..example' has an empty label", 1, 21},
        {"routes = [ { host = \"\", prefix = \"/\", upstream = \"web\" } ]", "host '' is empty", 1, 21},
        {"routes = [ { host = \"a.*.example\", prefix = \"/\", upstream = \"web\" } ]",
         "'*' may only be the whole first label", 1, 21},
        {"routes = [ { host = \"[::1]:80\", prefix = \"/\", upstream = \"web\" } ]",
         "give the IPv6 address in brackets without a port", 1, 21},
        {"routes = [ { host = \"API.example.com\", prefix = \"/v1/\" } ]",
         "route 'api.example.com/v1/' needs a target", 1, 12},
        {"routes = [ { host = \"api.example.com\", prefix = \"/v1/\", upstream = \"nope\" } ]",
         "unknown upstream 'nope'", 1, 68},
        {"routes = [ { hosts = \"a.example\", prefix = \"/\", upstream = \"web\" } ]", "unknown key 'hosts'",
         1, 14},
        {"routes = [\n"
         " { host = \"*.Example\", prefix = \"/\", upstream = \"web\" },\n"
         " { host = \"*.example\", prefix = \"/\", upstream = \"pdf\" },\n]",
         "duplicate prefix '/' for host '*.example'", 3, 33},
        {"routes = [\n"
         " { host = \"A.example\", prefix = \"/\", upstream = \"web\" },\n"
         " { host = \"a.example.\", prefix = \"/\", upstream = \"pdf\" },\n]",
         "duplicate prefix '/' for host 'a.example'", 3, 34},
        {"routes = [ { prefix = \"/\", upstream = \"web\" } ]\ndefault = \"web\"",
         "'default' must be a table", 2, 11},
        {"routes = [ { prefix = \"/\", upstream = \"web\" } ]\ndefault = {}", "'default' needs a target", 2,
         11},
        {"routes = [ { prefix = \"/\", upstream = \"web\" } ]\ndefault = { upstream = \"web\", path = \"/\" "
         "}",
         "unknown key 'path'", 2, 31},
        {"routes = [ { prefix = \"/\", upstream = \"web\" } ]\ndefault = { upstream = \"gone\" }",
         "unknown upstream 'gone'", 2, 24},
    };
    for (const Case &c : cases) {
        Router r;
        CAPTURE(c.toml);
        CHECK_FALSE(r.load(c.toml));
        INFO(r.host.error_text());
        REQUIRE(r.host.errors().size() == 1);
        const ConfigError &e = r.host.errors()[0];
        CHECK_THAT(e.message, Catch::Contains(c.message));
        CHECK(e.line == c.line);
        CHECK(e.column == c.column);
    }
}

TEST_CASE("one prefix may appear once per host", "[prefix_plugin]") {
    Router r;
    REQUIRE(r.load(R"(
routes = [
  { host = "a.example", prefix = "/", upstream = "web" },
  { host = "b.example", prefix = "/", upstream = "images" },
  { host = "*.example", prefix = "/", upstream = "pdf" },
  { prefix = "/", handler = "fallback" },
]
)"));
    INFO(r.host.error_text());
    CHECK(r.host.errors().empty());
}

TEST_CASE("every problem in a routes table is reported in one run", "[prefix_plugin]") {
    Router r;
    CHECK_FALSE(r.load(R"(
routes = [
  { prefix = "/a/", upstream = "nope" },
  { prefix = "b", upstream = "web" },
  { prefix = "/a/", upstream = "web" },
]
)"));
    INFO(r.host.error_text());
    CHECK(r.host.errors().size() == 3);

    Router hosts;
    CHECK_FALSE(hosts.load(R"(
routes = [
  { host = "a.example:80", prefix = "b" },
  { host = "a.example", prefix = "/", upstream = "web" },
  { host = "A.example.", prefix = "/", upstream = "web" },
]
)"));
    INFO(hosts.host.error_text());
    CHECK(hosts.host.errors().size() == 4); // port, prefix, target, duplicate
}
