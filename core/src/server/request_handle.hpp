// The definition of the ABI's opaque proxyd_request_handle: what host calls about a request
// reach. Lives in the client connection, valid while its request is.
#pragma once

#include "http/message_head.hpp"
#include "server/exchange.hpp"

struct proxyd_request_handle {
    const proxyd::MessageHead *head;
    proxyd::RequestArena *arena;
};
