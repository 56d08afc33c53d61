#include "config/config_assembly.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using proxyd::assemble_config;

namespace {

// A fresh folder of config files, removed at the end of the test.
struct Folder {
    fs::path root;
    Folder() {
        root = fs::temp_directory_path() / ("proxyd-assembly-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(reinterpret_cast<uintptr_t>(this)));
        fs::create_directories(root);
    }
    ~Folder() { fs::remove_all(root); }
    std::string write(const std::string &name, const std::string &text) {
        fs::path p = root / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string path(const std::string &name) const { return (root / name).string(); }
};

std::string joined(const std::vector<std::string> &errors) {
    std::string out;
    for (const auto &e : errors)
        out += e + "\n";
    return out;
}

} // namespace

TEST_CASE("include merges tables, appends listeners in order and keeps each node's file",
          "[config][include]") {
    Folder f;
    f.write("sites/b.toml", "[upstreams.api]\npeers = [\"127.0.0.1:2\"]\n[[listeners]]\nname = \"b\"\n");
    f.write("sites/a.toml", "[[listeners]]\nname = \"a\"\n");
    f.write("sites/readme.txt", "not toml, not matched by the glob");
    f.write("up.toml", "[upstreams.web]\npeers = [\"127.0.0.1:1\"]\n[log]\nlevel = \"warn\"\n");
    std::string main = f.write("main.toml", "include = [\"up.toml\", \"sites/*.toml\", \"none/*.toml\"]\n"
                                            "[log]\naccess = \"off\"\n[[listeners]]\nname = \"main\"\n");
    std::vector<std::string> errors;
    auto doc = assemble_config(main, errors);
    INFO(joined(errors));
    REQUIRE(doc);
    CHECK_FALSE(doc->contains("include"));
    CHECK((*doc)["upstreams"]["web"].is_table());
    CHECK((*doc)["upstreams"]["api"].is_table());
    CHECK((*doc)["log"]["level"].value_or(std::string()) == "warn");
    CHECK((*doc)["log"]["access"].value_or(std::string()) == "off");
    auto *listeners = (*doc)["listeners"].as_array();
    REQUIRE(listeners);
    REQUIRE(listeners->size() == 3);
    CHECK((*listeners)[0].as_table()->get("name")->value_or(std::string()) == "main");
    CHECK((*listeners)[1].as_table()->get("name")->value_or(std::string()) == "a"); // glob order
    CHECK((*listeners)[2].as_table()->get("name")->value_or(std::string()) == "b");
    const toml::node *api_peers = (*doc)["upstreams"]["api"]["peers"].node();
    REQUIRE(api_peers);
    REQUIRE(api_peers->source().path);
    CHECK(*api_peers->source().path == f.path("sites/b.toml"));
    CHECK(api_peers->source().begin.line == 2);
}

TEST_CASE("include errors name the file, line and column", "[config][include]") {
    Folder f;
    std::vector<std::string> errors;
    SECTION("a missing plain file") {
        std::string main = f.write("main.toml", "\ninclude = \"gone.toml\"\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors), Catch::Contains(main + ":2:11: include: \"gone.toml\": no such file"));
    }
    SECTION("a folder included, and a config file that is a folder or is not there") {
        std::string main = f.write("main.toml", "include = \".\"\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors), Catch::Contains(main + ":1:11: include: \".\": a folder"));
        errors.clear();
        CHECK_FALSE(assemble_config(f.root.string(), errors));
        CHECK(joined(errors) == f.root.string() + ": a folder, not a file\n");
        errors.clear();
        CHECK_FALSE(assemble_config(f.path("gone.toml"), errors));
        CHECK(joined(errors) == f.path("gone.toml") + ": cannot read it (No such file or directory)\n");
    }
    SECTION("a cycle") {
        f.write("b.toml", "include = \"main.toml\"\n");
        std::string main = f.write("main.toml", "include = \"b.toml\"\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors), Catch::Contains(f.path("b.toml") + ":1:11: include: ") &&
                                       Catch::Contains("includes itself"));
    }
    SECTION("a file included twice, by name and again by a glob or another fragment") {
        f.write("common.toml", "[upstreams.web]\npeers = []\n");
        f.write("sites/a.toml", "include = \"../common.toml\"\n");
        std::string main = f.write("main.toml", "include = [\n  \"common.toml\",\n  \"sites/*.toml\",\n]\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors),
                   Catch::Contains(f.path("sites/a.toml") + ":1:11: include: \"" + f.path("common.toml") +
                                   "\" is already included at " + main + ":2:3"));
        CHECK_THAT(joined(errors), !Catch::Contains("defined again"));
    }
    SECTION("the same named table in two files, and the same key twice") {
        f.write("a.toml", "[upstreams.web]\npeers = [\"127.0.0.1:1\"]\n[log]\nlevel = \"warn\"\n");
        std::string main =
            f.write("main.toml", "include = \"a.toml\"\n[upstreams.web]\npeers = [\"127.0.0.1:2\"]\n"
                                 "[log]\nlevel = \"info\"\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors), Catch::Contains(f.path("a.toml") +
                                                   ":1:1: upstreams.web: defined again; it is "
                                                   "already defined at " +
                                                   main + ":2:1"));
        CHECK_THAT(joined(errors), Catch::Contains(f.path("a.toml") + ":4:9: log.level: defined again"));
    }
    SECTION("a syntax error in an included file") {
        f.write("bad.toml", "[upstreams\n");
        std::string main = f.write("main.toml", "include = \"bad.toml\"\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors), Catch::StartsWith(f.path("bad.toml") + ":1:"));
    }
    SECTION("too deep") {
        for (int i = 0; i < 10; ++i)
            f.write("d" + std::to_string(i) + ".toml", "include = \"d" + std::to_string(i + 1) + ".toml\"\n");
        f.write("d10.toml", "");
        CHECK_FALSE(assemble_config(f.path("d0.toml"), errors));
        CHECK_THAT(joined(errors), Catch::Contains("includes nest deeper than 8 files"));
    }
}

TEST_CASE("defaults fill in what an entry does not set", "[config][defaults]") {
    Folder f;
    std::vector<std::string> errors;
    SECTION("per kind, overridden where set") {
        std::string main = f.write(
            "main.toml", "[defaults.upstream]\nread_timeout = \"7s\"\n"
                         "[defaults.handler]\nplugin = \"static\"\nheaders = { X-A = \"1\" }\n"
                         "[defaults.listener]\naccess_log = false\n"
                         "[upstreams.a]\npeers = []\n[upstreams.b]\npeers = []\nread_timeout = \"1s\"\n"
                         "[handlers.h]\nroot = \"/tmp\"\nheaders = { X-B = \"2\" }\n"
                         "[[listeners]]\nname = \"l\"\n");
        auto doc = assemble_config(main, errors);
        INFO(joined(errors));
        REQUIRE(doc);
        CHECK_FALSE(doc->contains("defaults"));
        CHECK((*doc)["upstreams"]["a"]["read_timeout"].value_or(std::string()) == "7s");
        CHECK((*doc)["upstreams"]["b"]["read_timeout"].value_or(std::string()) == "1s");
        CHECK((*doc)["handlers"]["h"]["plugin"].value_or(std::string()) == "static");
        // Replaced whole, not merged.
        CHECK((*doc)["handlers"]["h"]["headers"]["X-B"].value_or(std::string()) == "2");
        CHECK_FALSE((*doc)["handlers"]["h"]["headers"]["X-A"]);
        CHECK((*doc)["listeners"][0]["access_log"].value_or(true) == false);
        // A filled-in value keeps its place in [defaults], so errors about it point there.
        CHECK((*doc)["upstreams"]["a"]["read_timeout"].node()->source().begin.line == 2);
    }
    SECTION("any value keeps its file, line and column, however it is written") {
        f.write("d.toml",
                "[defaults.upstream]\nname = \"\u00e9\u00e9\"\ntags = [\n  \"a\",\n  \"b\",\n]  # c\n"
                "x = { \"\u00e9\" = \"\u00e9\", b = [1, 2] }\nt = '''\nab\n'''\n");
        std::string main = f.write("main.toml", "include = \"d.toml\"\n[upstreams.a]\n[upstreams.b]\n");
        auto doc = assemble_config(main, errors);
        INFO(joined(errors));
        REQUIRE(doc);
        for (const char *u : {"a", "b"}) {
            auto entry = (*doc)["upstreams"][u];
            CHECK(entry["name"].value_or(std::string()) == "\u00e9\u00e9");
            CHECK(entry["tags"][1].value_or(std::string()) == "b");
            CHECK(entry["x"]["b"][1].value_or(0) == 2);
            CHECK(entry["t"].value_or(std::string()) == "ab\n");
            const toml::node *b = entry["x"]["b"].node();
            REQUIRE(b);
            REQUIRE(b->source().path);
            CHECK(*b->source().path == f.path("d.toml"));
            CHECK(b->source().begin.line == 7);
            CHECK(b->source().begin.column == 22); // code points, as toml++ counts
            CHECK(entry["tags"][1].node()->source().begin.line == 5);
        }
    }
    SECTION("an unknown kind") {
        std::string main = f.write("main.toml", "[defaults.server]\nx = 1\n");
        CHECK_FALSE(assemble_config(main, errors));
        CHECK_THAT(joined(errors), Catch::Contains(main + ":1:11: defaults.server: unknown kind"));
    }
}
