// The plugin blocks of the shipped profiles in conf.d/ load with the built plugins.
#include "config/config_assembly.hpp"
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace proxyd::test;

namespace {

const std::string kConfDir = std::string(PROXYD_SOURCE_DIR) + "/conf.d";

} // namespace

TEST_CASE("reverse.toml's router loads and routes the three sites", "[profiles]") {
    PluginModule module("routing_prefix.so");
    FakeHost host;
    host.upstreams = {{"web", 1}, {"images", 2}, {"pdf", 3}};
    void *router = host.create_from_file(module, kConfDir + "/reverse.toml", "routers.reverse");
    INFO(host.error_text());
    REQUIRE(router);
    auto route = [&](const char *target) {
        FakeRequest request("GET", target);
        proxyd_route out{};
        module.descriptor().routing->route(router, nullptr, request.raw(), &out);
        std::string path = out.rewritten_path.ptr
                               ? std::string(out.rewritten_path.ptr, out.rewritten_path.len)
                               : std::string(request.raw()->path.ptr, request.raw()->path.len);
        return std::to_string(out.target) + " " + path;
    };
    CHECK(route("/") == "1 /");
    CHECK(route("/images/photo.jpg") == "2 /photo.jpg");
    CHECK(route("/pdf/report.pdf") == "3 /report.pdf");
}

TEST_CASE("the demo sites' static handlers load and serve www/", "[profiles]") {
    PluginModule module("content_static.so");
    for (const char *file : {"/reverse.toml", "/backends.toml", "/lb.toml"}) {
        for (const char *handler : {"handlers.default_site", "handlers.image_site", "handlers.pdf_site",
                                    "handlers.web1", "handlers.web5"}) {
            FakeHost host;
            // As the core reads it: includes merged, [defaults] filled in.
            std::vector<std::string> errors;
            std::shared_ptr<toml::table> config = proxyd::assemble_config(kConfDir + file, errors);
            REQUIRE(config);
            if (!config->at_path(handler).is_table()) continue; // not in this profile
            CAPTURE(file, handler);
            CHECK(config->at_path(std::string(handler) + ".precompressed").value_or(false));
            void *instance = host.create_from_document(module, std::move(*config), kConfDir, handler);
            INFO(host.error_text());
            REQUIRE(instance);
            FakeRequest request("GET", "/");
            FakeResponse response;
            CHECK(handle(module, instance, request, response) == PROXYD_OK);
            CHECK(response.status == 200);
            CHECK(response.header("Content-Type") == "text/html; charset=utf-8");
            if (std::string(handler).starts_with("handlers.web"))
                CHECK(response.header("X-Backend") == std::string(handler).substr(9));
        }
    }
}
