// balancing/least_conn: weighted least-connections over the requests each worker has in flight per
// peer, ties broken round-robin; peers that are down or already tried by the request are skipped
// (down ones are offered when nothing else is left). Needs ABI 1.1: pick counts a request in flight,
// attempt_done takes it off, and the core calls it once for every pick however the attempt ends
// (client gone, stop and reload included), so the counts cannot drift. State is per worker: picks
// take no lock, and each worker balances what it forwards. With scope = "process" (ABI 1.4, the
// core's pick_in_flight) the choice weighs each peer's requests in flight from every worker instead,
// read once per pick from the core's relaxed counters: approximate, but what a peer carries.
//
// Written on the plain C ABI (plugin.h), to show a balancer needs nothing else.
//
//   [upstreams.app]
//   peers = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 2 }]
//   balancer = { plugin = "least_conn", scope = "worker", log_attempts = false }
#include "least_conn.hpp"

#include <cstddef>
#include <cstring>
#include <exception>
#include <new>
#include <proxyd/plugin.h>
#include <string>
#include <vector>

namespace proxyd::least_conn {
namespace {

#define LEAST_CONN_HOST_HAS(host, member)                                                                  \
    ((host)->struct_size >= offsetof(proxyd_host, member) + sizeof((host)->member) && (host)->member)

struct Instance {
    const proxyd_host *host;
    std::string name = "least_conn"; // as declared in [plugins], for log lines
    size_t peer_count = 0;           // known at creation from a 1.1 core; else at the first pick
    bool log_attempts = false;       // each pick and end at debug level, with the counts
    bool process_scope = false;      // scope = "process": weigh every worker's requests in flight
};

struct Worker {
    LeastConn counts;
    uint32_t index = 0;
    std::vector<uint32_t> loads; // scope = "process": the counts pick_in_flight fills in
};

const char *outcome_name(proxyd_outcome outcome) {
    switch (outcome) {
    case PROXYD_OUTCOME_SUCCESS: return "SUCCESS";
    case PROXYD_OUTCOME_CONNECT_FAILED: return "CONNECT_FAILED";
    case PROXYD_OUTCOME_TIMEOUT: return "TIMEOUT";
    case PROXYD_OUTCOME_BROKEN: return "BROKEN";
    case PROXYD_OUTCOME_ABORTED: return "ABORTED";
    }
    return "UNKNOWN";
}

void debug(const Instance &self, const std::string &message) {
    self.host->log(self.host, PROXYD_LOG_DEBUG, proxyd_str{self.name.data(), self.name.size()},
                   proxyd_str{message.data(), message.size()});
}

int create_instance(const proxyd_host *host, proxyd_load_context *ctx, const proxyd_config_node *config,
                    void **out) {
    Instance *self = new (std::nothrow) Instance{host};
    if (!self) return PROXYD_ENOMEM;
    bool ok = true;
    if (config && host->config_type(config) != PROXYD_CONFIG_TABLE) {
        host->config_error(ctx, config, "must be a table");
        ok = false;
    }
    for (size_t i = 0, n = config ? host->config_size(config) : 0; ok && i < n; ++i) {
        proxyd_str key{};
        const proxyd_config_node *value = host->config_entry(config, i, &key);
        std::string name(key.ptr, key.len);
        if (name == "plugin") continue;
        if (name == "log_attempts") {
            if (host->config_boolean(value, &self->log_attempts) != PROXYD_OK) {
                host->config_error(ctx, value, "log_attempts must be true or false");
                ok = false;
            }
            continue;
        }
        if (name == "scope") {
            proxyd_str scope{};
            std::string text;
            if (host->config_string(value, &scope) == PROXYD_OK) text.assign(scope.ptr, scope.len);
            if (text == "process" && !LEAST_CONN_HOST_HAS(host, pick_in_flight)) {
                host->config_error(ctx, value,
                                   "scope = \"process\" needs a proxyd with ABI 1.4 (pick_in_flight)");
                ok = false;
            } else if (text == "process" || text == "worker") {
                self->process_scope = text == "process";
            } else {
                host->config_error(ctx, value, "scope must be \"worker\" or \"process\"");
                ok = false;
            }
            continue;
        }
        host->config_error(ctx, value, ("unknown key '" + name + "'").c_str());
        ok = false;
    }
    proxyd_str name{};
    if (LEAST_CONN_HOST_HAS(host, config_plugin_name) && host->config_plugin_name(ctx, &name) == PROXYD_OK)
        self->name.assign(name.ptr, name.len);
    if (LEAST_CONN_HOST_HAS(host, config_peer_count)) self->peer_count = host->config_peer_count(ctx);
    if (!ok) {
        delete self;
        return PROXYD_EINVAL;
    }
    *out = self;
    return PROXYD_OK;
}

void destroy_instance(void *instance) { delete static_cast<Instance *>(instance); }

int create_worker_ex(void *instance, const proxyd_worker_info *info, void **out) {
    Worker *worker =
        new (std::nothrow) Worker{LeastConn(static_cast<Instance *>(instance)->peer_count), 0, {}};
    if (!worker) return PROXYD_ENOMEM;
    worker->index = info ? info->index : 0;
    *out = worker;
    return PROXYD_OK;
}

// A 1.0-style core calls this one.
int create_worker(void *instance, void **out) {
    proxyd_worker_info info{};
    info.struct_size = sizeof info;
    return create_worker_ex(instance, &info, out);
}

void destroy_worker(void *, void *worker) { delete static_cast<Worker *>(worker); }

// scope = "process": every worker's requests in flight per peer, or null (this worker's own
// counts then) when the core cannot tell.
const uint32_t *process_loads(const Instance &self, Worker &worker, size_t peer_count,
                              const proxyd_request *request) {
    if (!self.process_scope || !request) return nullptr;
    if (worker.loads.size() != peer_count) worker.loads.resize(peer_count);
    return self.host->pick_in_flight(request->handle, worker.loads.data(), peer_count) == PROXYD_OK
               ? worker.loads.data()
               : nullptr;
}

int pick(void *instance, void *worker_state, const proxyd_peer *peers, size_t peer_count, const bool *tried,
         const proxyd_request *request) {
    auto &self = *static_cast<Instance *>(instance);
    auto &worker = *static_cast<Worker *>(worker_state);
    try {
        const uint32_t *loads = process_loads(self, worker, peer_count, request);
        int chosen = worker.counts.pick({peers, peer_count}, tried, loads);
        if (self.log_attempts)
            debug(self, "worker " + std::to_string(worker.index) + " picked peer " + std::to_string(chosen) +
                            " inflight=" + worker.counts.in_flight_text());
        return chosen;
    } catch (const std::exception &) {
        return -1; // out of memory sizing the counts: nothing is picked, nothing counted
    }
}

void attempt_done(void *instance, void *worker_state, size_t peer, const proxyd_attempt *attempt) {
    auto &self = *static_cast<Instance *>(instance);
    auto &worker = *static_cast<Worker *>(worker_state);
    worker.counts.done(peer);
    if (!self.log_attempts) return;
    try {
        debug(self, "worker " + std::to_string(worker.index) + " done peer " + std::to_string(peer) + " outcome=" +
                        outcome_name(attempt->outcome) + " status=" + std::to_string(attempt->status) +
                        " inflight=" + worker.counts.in_flight_text());
    } catch (const std::exception &) {
        // A log line that cannot be built is not worth failing for.
    }
}

const proxyd_balancing_hooks kHooks = {
    sizeof(proxyd_balancing_hooks), pick, nullptr, attempt_done, nullptr,
};

const proxyd_plugin_descriptor kDescriptor = {
    PROXYD_ABI_MAJOR,
    PROXYD_ABI_MINOR,
    sizeof(proxyd_plugin_descriptor),
    PROXYD_KIND_BALANCING,
    "least_conn",
    "0.1.0",
    create_instance,
    destroy_instance,
    create_worker,
    destroy_worker,
    nullptr,
    &kHooks,
    nullptr,
    create_worker_ex,
    nullptr, // filter (1.3)
};

} // namespace
} // namespace proxyd::least_conn

extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {
    return &proxyd::least_conn::kDescriptor;
}
