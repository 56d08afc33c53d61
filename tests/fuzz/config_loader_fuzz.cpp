// libFuzzer target: the config loader on arbitrary bytes, written to a file and loaded with the
// real plugins, as `proxyd -t` would. Every input must end in a Config or in errors, and a
// refusal must say what is wrong.
//
// Includes: the input's folder holds a few fixed fragments (kFragments) it may include by name or
// glob, among them one that includes another, one that includes itself and one that does not
// parse. An include that could reach beyond that folder (a '/' in a name) skips the input.
#include "config/config_loader.hpp"
#include "log/logger.hpp"
#include "server/host_table.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <unistd.h>

namespace {

struct Fragment {
    const char *name;
    const char *text;
};

// The files beside the input, for its includes to name.
constexpr Fragment kFragments[] = {
    {"upstream.toml", "[upstreams.fragment]\npeers = [\"127.0.0.1:9201\"]\n"},
    {"nested.toml", "include = \"upstream.toml\"\n[[listeners]]\nname = \"fragment\"\n"
                    "listen = \"127.0.0.1:19201\"\nupstream = \"fragment\"\n"},
    {"self.toml", "include = [\"self.toml\"]\nworkers = 1\n"},
    {"broken.toml", "[upstreams.fragment\npeers = 1\n"},
};

struct Setup {
    proxyd::LogFile log_file;
    proxyd::Logger logger{log_file};
    proxyd::PluginHost host{};
    std::string dir;
    std::string path;

    Setup() {
        std::string ignored;
        log_file.open("off", ignored);
        proxyd::init_plugin_host(host, logger);
        char folder[] = "/tmp/proxyd-fuzz-config-XXXXXX";
        if (!mkdtemp(folder)) std::abort();
        dir = folder;
        path = dir + "/fuzz.toml";
        for (const Fragment &fragment : kFragments) {
            std::string file = dir + "/" + fragment.name;
            std::FILE *f = std::fopen(file.c_str(), "wb");
            if (!f) std::abort();
            std::fputs(fragment.text, f);
            std::fclose(f);
        }
    }
    ~Setup() {
        for (const Fragment &fragment : kFragments)
            unlink((dir + "/" + fragment.name).c_str());
        unlink(path.c_str());
        rmdir(dir.c_str());
    }
};

// A plugin named by a path could be any shared library on the machine, and dlopen runs its
// constructors; the fuzzer must only ever load the plugins built beside it.
bool names_a_library_by_path(std::string_view text) {
    size_t line_start = 0;
    while (line_start < text.size()) {
        size_t end = text.find('\n', line_start);
        std::string_view line =
            text.substr(line_start, end == std::string_view::npos ? end : end - line_start);
        if (line.find(".so") != std::string_view::npos && line.find('/') != std::string_view::npos)
            return true;
        if (end == std::string_view::npos) break;
        line_start = end + 1;
    }
    return false;
}

// The loader resolves an include's names (and globs, without tilde or braces) against the
// including file's folder: a name without '/' stays in it. Only the input's own top-level
// `include` is the input's to choose; the fragments' are fixed above. An input that does not
// parse names nothing: the loader stops at the same error.
bool includes_beyond_its_folder(std::string_view text) {
    toml::table document;
    try {
        document = toml::parse(text);
    } catch (const toml::parse_error &) {
        return false;
    }
    const toml::node *include = document.get("include");
    if (!include) return false;
    auto reaches_out = [](const toml::node &entry) {
        const std::string *name = entry.is_string() ? &entry.as_string()->get() : nullptr;
        return name && name->find('/') != std::string::npos;
    };
    if (const toml::array *entries = include->as_array()) {
        for (const toml::node &entry : *entries)
            if (reaches_out(entry)) return true;
        return false;
    }
    return reaches_out(*include);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Setup setup;
    std::string_view text(reinterpret_cast<const char *>(data), size);
    // An include may name any file or glob on the machine (/proc/*/...): the fuzzer reads only its
    // input and the fragments beside it.
    if (names_a_library_by_path(text) || text.find("plugin_dir") != std::string_view::npos ||
        includes_beyond_its_folder(text))
        return 0;
    std::FILE *f = std::fopen(setup.path.c_str(), "wb");
    if (!f) std::abort();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);

    proxyd::LoadOptions options;
    options.plugin_search_path = {PROXYD_FUZZ_PLUGIN_DIR};
    options.host = &setup.host.api;
    std::vector<std::string> errors;
    std::unique_ptr<proxyd::Config> config = proxyd::load_config(setup.path, options, errors);
    if (!config && errors.empty()) {
        std::fprintf(stderr, "load_config refused a config without saying why\n");
        std::abort();
    }
    for (const std::string &error : errors)
        if (error.empty()) std::abort();
    return 0;
}
