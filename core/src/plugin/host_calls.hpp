// The host table handed to plugins (proxyd_host), with the process's logger beside it so that
// host calls without a context argument can reach it. Each layer fills in its own part (the
// plugin loader the log, config/ the configuration view, server/ the request, response, filter,
// subrequest and balancer calls); server/host_table.cpp composes the table from them.
#pragma once

#include "log/logger.hpp"

#include <proxyd/plugin.h>

namespace proxyd {

struct PluginHost {
    proxyd_host api; // first member: a proxyd_host* handed to a plugin converts back
    const Logger *logger;
};

// The loader's own part: log, through logger.
void fill_log_host_call(PluginHost &host, const Logger &logger);

} // namespace proxyd
