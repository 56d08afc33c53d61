// One request/response exchange on a client connection: either a content handler answering or a
// proxied request. The connection feeds it the request body and tells it when its writes drain.
#pragma once

#include "config/config.hpp"
#include "exchange/request_arena.hpp" // the request handle (request_handle.hpp) finds it here

#include <cstdint>
#include <string>
#include <string_view>

namespace proxyd {

class Exchange {
  public:
    virtual ~Exchange() = default;
    // Begins answering, once the connection holds the exchange (it may finish at once).
    virtual void start() = 0;
    virtual void on_request_body(std::string_view data) = 0;
    virtual void on_request_complete() = 0;
    // The client's write queue fell to or below the low-water mark (possibly to zero).
    virtual void on_client_drained() {}
    // The client connection is closing. Return true when the exchange must outlive it (a plugin
    // still holds it); the connection then releases ownership and the exchange deletes itself.
    virtual bool on_client_gone() { return false; }
    // A plugin is answering it (a content plugin between handle and finish): host calls that
    // wait on a plugin's behalf, such as subrequest_start, belong to this phase.
    virtual bool plugin_answering() const { return false; }
    // After ExchangeClient::start_tunnel(): the client's raw bytes, and its end of sending.
    virtual void on_tunnel_bytes(std::string_view) {}
    virtual void on_tunnel_client_ended() {}
};

// What the access log says of one request.
struct AccessRecord {
    int status = 0;
    uint64_t body_bytes = 0;
    std::string upstream = "-";
    int upstream_status = 0;
    std::string earlier_upstream_statuses; // AccessEntry's: an entry per retried attempt
    uint64_t start_ns = 0; // uv_hrtime() when the request's first byte arrived
    Target target;         // where routing sent it; none for a refused head or a 404
};

} // namespace proxyd
