#include "plugin/host_calls.hpp"

#include <string>

namespace proxyd {
namespace {

void host_log(const proxyd_host *host, proxyd_log_level level, proxyd_str plugin_name, proxyd_str message) {
    if (!host) return;
    const auto *self = reinterpret_cast<const PluginHost *>(host);
    if (!self->logger->enabled(level)) return;
    std::string line = "plugin ";
    line.append(plugin_name.ptr ? plugin_name.ptr : "", plugin_name.len).append(": ");
    line.append(message.ptr ? message.ptr : "", message.len);
    self->logger->log(level, line);
}

} // namespace

void fill_log_host_call(PluginHost &host, const Logger &logger) {
    host.api.log = host_log;
    host.logger = &logger;
}

} // namespace proxyd
