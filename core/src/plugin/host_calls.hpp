// The host table handed to plugins (proxyd_host), with the process's logger beside it so that
// host calls without a context argument can reach it. One per process, built by the entry point.
#pragma once

#include "log/logger.hpp"

#include <proxyd/plugin.h>

namespace proxyd {

struct PluginHost {
    proxyd_host api; // first member: a proxyd_host* handed to a plugin converts back
    const Logger *logger;
};

void fill_config_host_calls(proxyd_host &host);  // config/config_host_calls.cpp
void fill_request_host_calls(proxyd_host &host); // server/request_host_calls.cpp
void fill_filter_host_calls(proxyd_host &host);  // server/filter_host_calls.cpp (1.3)
void fill_subrequest_host_calls(proxyd_host &host); // server/subrequest_host_calls.cpp (1.4)
void fill_balancer_host_calls(proxyd_host &host); // server/balancer_host_calls.cpp (1.4)

// Builds the complete table.
void init_plugin_host(PluginHost &host, const Logger &logger);

} // namespace proxyd
