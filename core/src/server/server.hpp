// The running server: opens the listening sockets, starts one Worker per configured worker,
// and stops them gracefully on SIGINT/SIGTERM. Main thread.
#pragma once

#include "config/config.hpp"
#include "log/logger.hpp"
#include "plugin/host_calls.hpp"

namespace proxyd {

// Serves config until a stop signal; returns the process exit status.
int run_server(const Config &config, const PluginHost &host, const Logger &logger, const LogFile &access_log);

} // namespace proxyd
