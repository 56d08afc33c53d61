// load_plugin_module() against the deliberately broken plugins of this folder: each refusal
// names the file and, for version problems, both versions.
#include "plugin/plugin_registry.hpp"

#include <catch2/catch.hpp>

using proxyd::load_plugin_module;

namespace {

const std::string kOurs = "ABI 1." + std::to_string(PROXYD_ABI_MINOR);

std::string path_of(const char *name) { return std::string(PROXYD_LOADER_TEST_DIR) + "/" + name + ".so"; }

// The refusal text for a plugin that must be refused.
std::string refusal(const char *name) {
    std::string error;
    auto module = load_plugin_module(name, path_of(name), error);
    INFO(name);
    CHECK(module == nullptr);
    CHECK_THAT(error, Catch::StartsWith(path_of(name) + ": "));
    return error;
}

} // namespace

TEST_CASE("a plugin of another ABI major is refused, naming both versions", "[loader]") {
    std::string error = refusal("broken_major");
    CHECK_THAT(error, Catch::Contains("ABI 2.0") && Catch::Contains(kOurs) && Catch::Contains("major"));
}

TEST_CASE("a plugin of a newer ABI minor is refused, naming both versions", "[loader]") {
    CHECK_THAT(refusal("newer_minor"), Catch::Contains("ABI 1.9") && Catch::Contains(kOurs));
}

TEST_CASE("a shared object without the entry symbol is not a plugin", "[loader]") {
    CHECK_THAT(refusal("broken_no_entry"), Catch::Contains("proxyd_plugin_entry"));
}

TEST_CASE("descriptor and hook tables smaller than the ABI needs are refused", "[loader]") {
    CHECK_THAT(refusal("broken_struct_size"), Catch::Contains("bytes") && Catch::Contains("needs"));
    CHECK_THAT(refusal("broken_hooks_size"), Catch::Contains("hook table is too small"));
}

TEST_CASE("a kind must come with exactly its own hook table", "[loader]") {
    CHECK_THAT(refusal("broken_kind_tables"), Catch::Contains("no routing hook table"));
    CHECK_THAT(refusal("broken_two_tables"), Catch::Contains("more than one kind"));
    CHECK_THAT(refusal("broken_kind_value"), Catch::Contains("unknown kind 7"));
}

TEST_CASE("a descriptor must exist and carry a name and create_instance", "[loader]") {
    CHECK_THAT(refusal("broken_null_descriptor"), Catch::Contains("no descriptor"));
    CHECK_THAT(refusal("broken_null_name"), Catch::Contains("name"));
    CHECK_THAT(refusal("broken_no_create"), Catch::Contains("create_instance"));
}

TEST_CASE("a file that is not a shared object says why dlopen failed", "[loader]") {
    CHECK_THAT(refusal("bad"), Catch::Contains("cannot load plugin"));
    std::string error;
    CHECK_FALSE(load_plugin_module("gone", path_of("does_not_exist"), error));
    CHECK_THAT(error, Catch::Contains("does_not_exist.so"));
}

TEST_CASE("a plugin built against an older or equal minor loads, with its kind", "[loader]") {
    std::string error;
    auto module = load_plugin_module("good", path_of("good_minor0"), error);
    REQUIRE(module);
    CHECK(error.empty());
    CHECK(module->kind() == PROXYD_KIND_ROUTING);
    CHECK(module->path() == path_of("good_minor0"));
    auto content = load_plugin_module("content", path_of("content_ok"), error);
    REQUIRE(content);
    CHECK(content->kind() == PROXYD_KIND_CONTENT);
}

TEST_CASE("plugins built against the frozen 1.1 and 1.2 headers load", "[loader]") {
    std::string error;
    auto async = load_plugin_module("async", path_of("content_async"), error);
    REQUIRE(async);
    CHECK(async->descriptor().abi_minor == 1);
    auto tls = load_plugin_module("tls", path_of("content_tls"), error);
    REQUIRE(tls);
    CHECK(tls->descriptor().abi_minor == 2);
    CHECK(tls->kind() == PROXYD_KIND_CONTENT);
}

TEST_CASE("a 1.3 filter loads, the filter kind under an older minor is refused", "[loader]") {
    std::string error;
    auto filter = load_plugin_module("probe", path_of("filter_probe"), error);
    REQUIRE(filter);
    CHECK(filter->kind() == PROXYD_KIND_FILTER);
    CHECK(filter->descriptor().abi_minor == 3); // built against the frozen 1.3 header
    CHECK_THAT(refusal("broken_filter_minor2"),
               Catch::Contains("declares kind filter, which ABI 1.3 introduced"));
}

TEST_CASE("a balancer built against the frozen 1.4 header loads", "[loader]") {
    std::string error;
    auto balancer = load_plugin_module("balancer", path_of("balancer_subrequest"), error);
    REQUIRE(balancer);
    CHECK(balancer->kind() == PROXYD_KIND_BALANCING);
    CHECK(balancer->descriptor().abi_minor == 4);
}

TEST_CASE("a content plugin built against the frozen 1.5 header loads", "[loader]") {
    std::string error;
    auto content = load_plugin_module("subrequest", path_of("content_subrequest"), error);
    REQUIRE(content);
    CHECK(content->kind() == PROXYD_KIND_CONTENT);
    CHECK(content->descriptor().abi_minor == 5);
}
