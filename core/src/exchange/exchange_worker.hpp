// What an exchange needs of its worker, beyond what its upstream pool does (UpstreamWorker): the
// config, the Date cache, recycled buffers, the content orphans, a plugin's worker state and
// the thread check of the host calls. server/'s Worker implements it, so no exchange includes the
// worker itself (core/README.md, the layers). Worker thread only, except on_own_thread().
#pragma once

#include "config/config.hpp"
#include "exchange/content_orphans.hpp"
#include "exchange/exchange_buffers.hpp"
#include "http/http_date.hpp"
#include "upstream/upstream_worker.hpp"

namespace proxyd {

class PluginInstance;
class UpstreamPool;

class ExchangeWorker : public UpstreamWorker {
  public:
    virtual const Config &config() const = 0;
    // This worker's pool of config().upstreams[index].
    virtual UpstreamPool &upstream(size_t index) = 0;
    virtual DateCache &dates() = 0;
    // Scratch buffers of proxied exchanges, recycled from one to the next.
    virtual ExchangeBufferPool &exchange_buffers() = 0;
    // Content responses an ABI 1.0 plugin still holds after their client left.
    virtual ContentOrphans &content_orphans() = 0;
    // The worker state instance made on this worker (null when it has none).
    virtual void *plugin_worker(const PluginInstance *instance) const = 0;
    // Any thread: the caller is this worker's own thread (host calls about its requests check it).
    virtual bool on_own_thread() const = 0;
};

} // namespace proxyd
