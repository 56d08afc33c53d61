// Each built plugin .so loads with dlopen and describes itself as the core expects.
#include "fake_host.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <dlfcn.h>
#include <string>

using proxyd::test::PluginModule;

namespace {

void check_descriptor(const char *file, proxyd_kind kind, const char *name) {
    PluginModule module(file);
    const proxyd_plugin_descriptor &d = module.descriptor();
    CHECK(d.abi_major == PROXYD_ABI_MAJOR);
    CHECK(d.abi_minor == PROXYD_ABI_MINOR);
    CHECK(d.struct_size == sizeof(proxyd_plugin_descriptor));
    CHECK(d.kind == kind);
    REQUIRE(d.name != nullptr);
    CHECK(std::strcmp(d.name, name) == 0);
    REQUIRE(d.version != nullptr);
    CHECK(std::strlen(d.version) > 0);
    CHECK(d.create_instance != nullptr);
    CHECK(d.destroy_instance != nullptr);
    // Exactly the hook table of its kind.
    CHECK((d.routing != nullptr) == (kind == PROXYD_KIND_ROUTING));
    CHECK((d.balancing != nullptr) == (kind == PROXYD_KIND_BALANCING));
    CHECK((d.content != nullptr) == (kind == PROXYD_KIND_CONTENT));
}

} // namespace

TEST_CASE("routing_prefix.so describes a routing plugin", "[abi]") {
    check_descriptor("routing_prefix.so", PROXYD_KIND_ROUTING, "prefix");
    PluginModule module("routing_prefix.so");
    REQUIRE(module.descriptor().routing);
    CHECK(module.descriptor().routing->struct_size == sizeof(proxyd_routing_hooks));
    CHECK(module.descriptor().routing->route != nullptr);
}

TEST_CASE("balancing_round_robin.so describes a balancing plugin", "[abi]") {
    check_descriptor("balancing_round_robin.so", PROXYD_KIND_BALANCING, "round_robin");
    PluginModule module("balancing_round_robin.so");
    REQUIRE(module.descriptor().balancing);
    CHECK(module.descriptor().balancing->struct_size == sizeof(proxyd_balancing_hooks));
    CHECK(module.descriptor().balancing->pick != nullptr);
    CHECK(module.descriptor().create_worker != nullptr);
}

TEST_CASE("content_static.so describes a content plugin", "[abi]") {
    check_descriptor("content_static.so", PROXYD_KIND_CONTENT, "static");
    PluginModule module("content_static.so");
    REQUIRE(module.descriptor().content);
    CHECK(module.descriptor().content->struct_size == sizeof(proxyd_content_hooks));
    CHECK(module.descriptor().content->handle != nullptr);
}

TEST_CASE("each plugin really unloads on dlclose, so a reload picks up a new build", "[abi]") {
    for (const char *file : {"routing_prefix.so", "balancing_round_robin.so", "content_static.so"}) {
        CAPTURE(file);
        std::string path = std::string(PROXYD_BUILD_PLUGIN_DIR) + "/" + file;
        {
            PluginModule module(file);
            void *loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
            CHECK(loaded != nullptr);
            if (loaded) dlclose(loaded); // NOLOAD still takes a reference
        }
        void *still_there = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
        CHECK(still_there == nullptr);
        if (still_there) dlclose(still_there);
    }
}
