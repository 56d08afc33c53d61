#include "server/host_table.hpp"

#include "config/config_host_calls.hpp"

namespace proxyd {

void init_plugin_host(PluginHost &host, const Logger &logger) {
    host = PluginHost{};
    host.api.struct_size = sizeof(proxyd_host);
    fill_config_host_calls(host.api);
    fill_request_host_calls(host.api);
    fill_filter_host_calls(host.api);
    fill_subrequest_host_calls(host.api);
    fill_balancer_host_calls(host.api);
    fill_log_host_call(host, logger);
}

} // namespace proxyd
