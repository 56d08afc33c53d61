// The definition of the ABI's opaque proxyd_request_handle: what host calls about a request
// reach. Lives in the client connection, valid while its request is; a content exchange hands
// its plugin a copy that also carries the request body it read.
#pragma once

#include "exchange/exchange.hpp"
#include "http/message_head.hpp"

#include <string>

namespace proxyd {
class ExchangeClient;
class ExchangeWorker;
}

struct proxyd_request_handle {
    const proxyd::MessageHead *head;
    proxyd::RequestArena *arena;
    const proxyd::ExchangeWorker *worker; // whose thread alone may make host calls about the request
    const std::string *body;      // the body read for a content plugin (max_body); null: none
    proxyd::ExchangeClient *connection; // its TLS, for request_tls; outlives the request
};
