// The exchange that answers a request routed to target: a content handler's or an upstream
// group's. The connection only holds and drives it (exchange.hpp), whatever its type.
#pragma once

#include "config/config.hpp"
#include "exchange/exchange.hpp"
#include "exchange/exchange_client.hpp"

#include <memory>

namespace proxyd {

// Null when target names no handler or group of the client's config (the caller answers 500).
// The exchange is not started: the caller holds it first, then calls start().
std::unique_ptr<Exchange> make_exchange(ExchangeClient &client, Target target);

} // namespace proxyd
