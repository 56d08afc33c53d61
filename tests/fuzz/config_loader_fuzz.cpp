// libFuzzer target: the config loader on arbitrary bytes, written to a file and loaded with the
// real plugins, as `proxyd -t` would. Every input must end in a Config or in errors, and a
// refusal must say what is wrong.
#include "config/config_loader.hpp"
#include "log/logger.hpp"
#include "server/host_table.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

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
    }
    ~Setup() {
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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Setup setup;
    std::string_view text(reinterpret_cast<const char *>(data), size);
    // An include may name any file or glob on the machine (/proc/*/...): the fuzzer reads only its
    // own input. Includes are covered by tests/unit/config_assembly_test.cpp.
    if (names_a_library_by_path(text) || text.find("plugin_dir") != std::string_view::npos ||
        text.find("include") != std::string_view::npos)
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
