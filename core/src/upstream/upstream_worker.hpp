// What the upstream layer needs of the worker whose loop it runs on: the loop, the log, the
// buffers its connections share, and where the group's peers come from. server/'s UpstreamWorker
// implements it, so a pool or an upstream connection never includes the worker itself (core/README.md,
// the layers). Worker thread only, like the pools and connections that use it.
#pragma once

#include "log/logger.hpp"
#include "net/write_blocks.hpp"
#include "tls/tls_buffers.hpp"

#include <cstddef>
#include <uv.h>

namespace proxyd {

class DiscoveryService;
class ConnectionLimits;
struct UpstreamConfig;

class UpstreamWorker {
  public:
    virtual ~UpstreamWorker() = default;

    virtual uv_loop_t *loop() = 0;
    virtual const Logger &logger() const = 0;
    // The worker is draining or stopping: connections that come back are not kept.
    virtual bool stopping() const = 0;
    // The generation's DNS discovery (null when no group follows DNS).
    virtual const DiscoveryService *discovery() const = 0;
    // A group's index in the config's upstreams (its discovery table's key).
    virtual size_t upstream_index(const UpstreamConfig &group) const = 0;
    // The counts of the group whose balancer picks on this thread right now (set by the pool
    // around its pick hook): what pick_in_flight (ABI 1.4) reads; null outside a pick.
    virtual const ConnectionLimits *picking() const = 0;
    virtual void set_picking(const ConnectionLimits *limits) = 0;

    // A read buffer shared by every stream of this loop: libuv calls alloc then read for one
    // stream at a time, and readers copy what they keep.
    virtual char *read_buffer() = 0;
    static constexpr size_t kReadBufferSize = 64 * 1024;
    // Blocks for the bytes a socket did not take at once, shared by this loop's streams.
    virtual WriteBlocks &write_blocks() = 0;
    virtual TlsBuffers &tls_buffers() = 0;
};

} // namespace proxyd
