// What the request host calls (request_, filter_ and subrequest_host_calls.cpp) do with their
// arguments: the ABI's proxyd_str to the core's string_view and back, and a request handle to its
// connection once the calling thread is checked.
#pragma once

#include "exchange/request_handle.hpp"
#include "server/client_connection.hpp"
#include "server/worker_thread_check.hpp"

#include <proxyd/plugin.h>
#include <string_view>

namespace proxyd::host_call {

// A null pointer is the empty string, as plugin.h lets a plugin pass {NULL, 0}.
inline std::string_view sv(proxyd_str s) {
    return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}
inline proxyd_str ps(std::string_view s) { return proxyd_str{s.data(), s.size()}; }

// The request's connection, or null when there is none or the caller is not its worker's thread.
inline ClientConnection *connection_of(const proxyd_request_handle *request, const char *call) {
    if (!request || !request->connection) return nullptr;
    if (!on_worker_thread(request->worker, call)) return nullptr;
    // A request handle's connection is a ClientConnection: the one ExchangeClient there is.
    return static_cast<ClientConnection *>(request->connection);
}

} // namespace proxyd::host_call
