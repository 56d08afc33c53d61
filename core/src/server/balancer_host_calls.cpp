// The host calls ABI 1.4 added for balancers: pick_in_flight, the requests in flight on each peer
// of the group being picked for, over every worker (the process-wide counts max_connections
// keeps, connection_limits.hpp). Only inside a pick, on the request's worker thread.
#include "exchange/request_handle.hpp"
#include "server/host_table.hpp"
#include "server/worker.hpp"
#include "server/worker_thread_check.hpp"
#include "upstream/connection_limits.hpp"

namespace proxyd {
namespace {

int pick_in_flight(const proxyd_request_handle *request, uint32_t *in_flight, size_t peer_count) {
    if (!request || !request->worker) return PROXYD_EINVAL;
    if (!on_worker_thread(request->worker, "pick_in_flight")) return PROXYD_ESTATE;
    const ConnectionLimits *limits = request->worker->picking();
    if (!limits) return PROXYD_ESTATE;
    if (!in_flight || peer_count != limits->peers()) return PROXYD_EINVAL;
    for (size_t i = 0; i < peer_count; ++i)
        in_flight[i] = limits->in_use(i);
    return PROXYD_OK;
}

} // namespace

void fill_balancer_host_calls(proxyd_host &host) { host.pick_in_flight = pick_in_flight; }

} // namespace proxyd
