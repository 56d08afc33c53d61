// The host table plugins call back through (proxyd_host), composed in one place from the part each
// layer provides (plugin/host_calls.hpp). One per config generation, built on the main thread.
#pragma once

#include "plugin/host_calls.hpp"

#include <proxyd/plugin.h>

namespace proxyd {

// server/'s parts.
void fill_request_host_calls(proxyd_host &host);    // request_host_calls.cpp
void fill_filter_host_calls(proxyd_host &host);     // filter_host_calls.cpp (1.3)
void fill_subrequest_host_calls(proxyd_host &host); // subrequest_host_calls.cpp (1.4)
void fill_balancer_host_calls(proxyd_host &host);   // balancer_host_calls.cpp (1.4)

// Builds the complete table.
void init_plugin_host(PluginHost &host, const Logger &logger);

} // namespace proxyd
