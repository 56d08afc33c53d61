// proxyd's entry point: command line, logs, configuration, then the server.
#include "config/config_assembly.hpp"
#include "config/config_loader.hpp"
#include "log/logger.hpp"
#include "server/generation.hpp"
#include "server/host_table.hpp"
#include "server/server.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <getopt.h>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

constexpr const char *kUsage = R"(usage: proxyd [-c FILE] [-t | -T] [-p DIR] [-v | --version] [-h | --help]

  -c FILE   the configuration file (default: /etc/proxyd/proxyd.toml)
  -t        load the configuration and every plugin, validate, print "configuration OK" or the
            errors, and exit (0 when valid, 1 otherwise); warnings (a TLS certificate expiring
            within 14 days) are printed without failing
  -T        as -t, and print the effective configuration on stdout: the file with what it
            includes and its [defaults] filled in
  -p DIR    look for plugin files in DIR first
  -v, --version  print the version and exit
  -h, --help     print this help and exit

Signals:
  SIGTERM, SIGINT, SIGQUIT  stop accepting connections, let in-flight requests finish (up to
            limits.shutdown_timeout) and exit 0
  SIGHUP    reload: read the configuration file again and load its plugins; when it is valid, new
            workers take over the listening sockets and the old ones finish their in-flight
            requests; when it is not, the errors are logged and the old configuration keeps serving
  SIGUSR1   reopen the log files (after logrotate moved them)
)";

// Where plugins are looked for: -p, then plugins/ beside the binary (a build tree), then the
// installed plugin folder.
std::vector<std::string> plugin_search_path(const std::string &cli_dir) {
    std::vector<std::string> path;
    if (!cli_dir.empty()) path.push_back(cli_dir);
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto beside = exe.parent_path() / "plugins";
        if (std::filesystem::is_directory(beside, ec)) path.push_back(beside.string());
    }
    path.push_back(PROXYD_PLUGIN_DIR);
    return path;
}

} // namespace

int main(int argc, char **argv) {
    // A reload or log-reopen signal that arrives while the first configuration is still loading
    // (systemctl reload right after start) must not kill the process with the default action;
    // the server's own handlers replace these once it runs.
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGUSR1, SIG_IGN);
    std::string config_path = "/etc/proxyd/proxyd.toml";
    std::string plugin_dir;
    bool test_only = false;
    bool print_effective = false;
    int opt;
    // The long forms are the two every command-line user tries first.
    static const option long_options[] = {{"help", no_argument, nullptr, 'h'},
                                          {"version", no_argument, nullptr, 'v'},
                                          {nullptr, 0, nullptr, 0}};
    while ((opt = getopt_long(argc, argv, "c:tTp:vh", long_options, nullptr)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 't': test_only = true; break;
        case 'T': test_only = print_effective = true; break;
        case 'p': plugin_dir = optarg; break;
        case 'v': std::printf("proxyd %s (plugin ABI %d.%d)\n", PROXYD_VERSION, PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR); return 0;
        case 'h': std::fputs(kUsage, stdout); return 0;
        default: std::fputs(kUsage, stderr); return 2;
        }
    }
    if (optind < argc) {
        std::fprintf(stderr, "proxyd: unexpected argument '%s'\n%s", argv[optind], kUsage);
        return 2;
    }

    // Errors during loading go to stderr; the configured error log takes over once it is open.
    proxyd::LogFile startup_log;
    std::string ignored;
    startup_log.open("stderr", ignored);
    proxyd::Logger startup_logger(startup_log);
    proxyd::LoadOptions options;
    options.plugin_search_path = plugin_search_path(plugin_dir);
    std::vector<std::string> errors;
    auto report = [&] {
        for (const auto &e : errors)
            std::fprintf(stderr, "proxyd: %s\n", e.c_str());
        std::fprintf(stderr, "proxyd: configuration %s has %zu error(s)\n", config_path.c_str(), errors.size());
        return 1;
    };

    if (test_only) {
        proxyd::PluginHost host;
        proxyd::init_plugin_host(host, startup_logger);
        options.host = &host.api;
        auto config = proxyd::load_config(config_path, options, errors);
        if (!config) return report();
        for (const auto &w : config->warnings)
            std::fprintf(stderr, "proxyd: warning: %s\n", w.c_str());
        if (print_effective) {
            // Assembled again rather than kept by the loader: -T is rare, and the loader's
            // document belongs to the plugins that hold pointers into it.
            auto document = proxyd::assemble_config(config_path, errors);
            if (!document) return report();
            std::cout << "# proxyd: configuration " << config->path << " OK; effective configuration:\n"
                      << toml::toml_formatter{*document} << "\n";
            return 0;
        }
        std::printf("proxyd: configuration %s OK\nconfiguration OK\n", config->path.c_str());
        return 0;
    }

    proxyd::Server server(config_path, options, startup_logger);
    auto first = proxyd::Generation::load(1, config_path, server.load_options(), startup_logger,
                                          server.metrics(), errors);
    if (!first) return report();
    int status = server.run(std::move(first));
    return status;
}
