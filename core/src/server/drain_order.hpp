// Which listeners drain last when a generation retires. A listener that one of the config's own
// upstreams points at (the demo backends of conf.d/lb.toml, listeners of the same process) is
// still needed while the listeners proxying to it finish their requests: stopped together, a
// request in flight at the front would find its backend gone and get a 502.
#pragma once

#include "config/config.hpp"

#include <vector>

namespace proxyd {

// One flag per config.listeners entry: true when some upstream peer's address reaches it (the
// same address, or its port on the wildcard address of the same family).
std::vector<bool> listeners_serving_own_upstreams(const Config &config);

} // namespace proxyd
