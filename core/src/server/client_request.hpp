// The state of one request on a client connection: its parser (llhttp, the head scanner, the
// head's storage), the request view plugins see and the handle host calls reach it by, its
// arena, its access record, the id proxyd made for it and its filter state.
//
// A connection takes one when it has bytes of a request to parse and gives it back when it goes
// idle, so an idle keep-alive connection holds none of it: the connection is small, and a
// request's state exists only while a request is in progress, as with nginx's
// ngx_http_request_t. The worker keeps what was given back for the next requests
// (ClientRequestPool), so a busy keep-alive connection does not allocate per request and its
// head lands in storage already grown.
//
// Lifetime: taken and given back on the worker's thread. While taken, it belongs to one
// ClientConnection, also past the connection's close while an orphaned content exchange holds the
// connection (ClientConnection::hold_request).
#pragma once

#include "exchange/exchange.hpp"
#include "exchange/request_filters.hpp"
#include "exchange/request_handle.hpp"
#include "http/request_parser.hpp"

#include <array>
#include <memory>
#include <proxyd/plugin.h>

namespace proxyd {

struct ClientRequest {
    ClientRequest(const RequestLimits &limits, RequestParser::Events &events) : parser(limits, events) {
        handle.head = &parser.head();
        handle.arena = &arena;
    }
    ClientRequest(const ClientRequest &) = delete;
    ClientRequest &operator=(const ClientRequest &) = delete;

    RequestParser parser;
    RequestArena arena;
    proxyd_request_handle handle{}; // head and arena point into this object
    proxyd_request view{};          // what plugins see, filled once the head is valid
    AccessRecord record;
    std::unique_ptr<RequestFilters> filters; // only for a request that needs one
    // A previous request's, built afresh in its memory: the next request that needs one takes it
    // without an allocation (ClientConnection::filters, release_request).
    std::unique_ptr<RequestFilters> spare_filters;
    char made_id[16];                        // an id proxyd made (view.request_id), when the client sent none
    bool path_rewritten = false;             // a routing plugin or a filter replaced view.path
};

// A worker's requests given back, for the next ones. Worker thread only.
class ClientRequestPool {
  public:
    ClientRequestPool() = default;
    ClientRequestPool(const ClientRequestPool &) = delete;
    ClientRequestPool &operator=(const ClientRequestPool &) = delete;

    // A request as new, its parser set to limits and events; the taker fills in the handle's
    // worker and connection. Inline, as give_back: both run once per request.
    std::unique_ptr<ClientRequest> take(const RequestLimits &limits, RequestParser::Events &events) {
        if (spare_count_ == 0) return std::make_unique<ClientRequest>(limits, events);
        std::unique_ptr<ClientRequest> request = std::move(spare_[--spare_count_]);
        request->parser.rebind(limits, events);
        return request;
    }
    // Kept for a next request, cleared, unless the pool is full or the request grew past what a
    // usual one needs (a huge head should not pin its memory for the worker's lifetime): then
    // freed. The caller frees the filter state first, while the request is still its
    // connection's, and leaves the parser between requests (RequestParser::reset or restart).
    void give_back(std::unique_ptr<ClientRequest> &&request) {
        if (spare_count_ == kMaxSpare || request->parser.head().capacity() > kMaxKeptBytes) {
            request.reset();
            return;
        }
        request->arena.clear();
        request->record = AccessRecord{};
        request->view = proxyd_request{};
        request->path_rewritten = false;
        // A plugin that kept the handle past its request reaches no connection through it (the
        // worker stays: the pool is that worker's).
        request->handle.connection = nullptr;
        request->handle.body = nullptr;
        spare_[spare_count_++] = std::move(request);
    }
    size_t spare() const { return spare_count_; }

    // Enough for the requests in progress at once on a busy worker; beyond it they are freed, so
    // a burst does not stay pinned. HTTP/2 sets the scale: each connection may have 100 streams
    // in progress, and the streams a loop turn finishes give theirs back before the next turn's
    // take them, so at 64 a worker serving 50 such connections freed and made again most of them
    // (about 0.9 per proxied request).
    //
    // The pool is never trimmed, and need not be. Measured (x86-64, glibc 2.36): a spare holds
    // 1.0 KiB after a 27-byte head (wrk's), 1.9 KiB after a 580-byte browser head, 2.4 KiB with
    // its spare filter state, 9 KiB after a head near kMaxKeptBytes; a full pool is 0.5, 1.0,
    // 1.2 and at most 4.5 MiB per worker: what the burst's requests held while in progress
    // anyway. Freeing idle spares would give the system nothing back: they are small blocks of
    // the worker thread's malloc arena, which keeps them once anything later lies above them.
    // One worker served 512 concurrent browser-like requests: RSS +1.2 MiB while they were in
    // progress, still +1.2 MiB after every connection closed (+4.3 MiB with 6 KB heads), the
    // connections' own freed memory included; a unit-test replay that freed the whole pool
    // after the burst kept the same RSS. Kept, the spares serve the next burst without an
    // allocation; a trim would also need a timer waking every idle worker.
    static constexpr size_t kMaxSpare = 512;
    static constexpr size_t kMaxKeptBytes = 8 * 1024;

  private:
    std::array<std::unique_ptr<ClientRequest>, kMaxSpare> spare_;
    size_t spare_count_ = 0;
};

} // namespace proxyd
