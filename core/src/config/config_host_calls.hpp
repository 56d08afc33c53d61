// The configuration part of the host table (plugin/host_calls.hpp): a read-only view of a
// plugin's TOML nodes.
#pragma once

#include <proxyd/plugin.h>

namespace proxyd {

void fill_config_host_calls(proxyd_host &host);

} // namespace proxyd
