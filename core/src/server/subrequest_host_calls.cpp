// The host calls ABI 1.4 added (plugin.h): subrequest_start and subrequest_cancel. A request's
// subrequests live in its RequestFilters (made on first use, as for per-request state), so they
// end with the request: ClientConnection cancels them when the request is over, before the
// plugins' states are freed. Worker thread only, like every request host call.
#include "exchange/request_handle.hpp"
#include "exchange/subrequest.hpp"
#include "http/header_list.hpp"
#include "http/header_rules.hpp"
#include "server/client_connection.hpp"
#include "server/host_call_args.hpp"
#include "server/host_table.hpp"
#include "server/worker.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>

namespace proxyd {
namespace {

using host_call::connection_of;
using host_call::sv;

// Fields the core decides for a bodiless request on a connection of its own.
bool is_refused_field(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
           iequals(name, "connection") || iequals(name, "upgrade") || iequals(name, "te");
}

// The spec as the core keeps it; nullopt when some part is not acceptable.
std::optional<Subrequest::Spec> copy_spec(const proxyd_subrequest_spec &spec) {
    Subrequest::Spec out;
    std::string_view method = sv(spec.method);
    out.method = method.empty() ? "GET" : std::string(method);
    if (!is_field_name(out.method)) return std::nullopt; // a token, as a field name
    std::string_view path = sv(spec.path);
    bool path_ok = !path.empty() && path.front() == '/' &&
                   std::all_of(path.begin(), path.end(), [](char ch) { return ch > ' ' && ch != 0x7f; });
    if (!path_ok || (spec.header_count && !spec.headers)) return std::nullopt;
    out.path = path;
    for (size_t i = 0; i < spec.header_count; ++i) {
        std::string_view name = sv(spec.headers[i].name), value = sv(spec.headers[i].value);
        if (!is_field_name(name) || !is_field_value(value) || is_refused_field(name)) return std::nullopt;
        out.fields.add(name, value);
    }
    return out;
}

int subrequest_start(const proxyd_request_handle *request, const proxyd_subrequest_spec *spec,
                     void (*done)(void *, const proxyd_subrequest_response *), void *arg,
                     proxyd_subrequest **subrequest) {
    ClientConnection *c = connection_of(request, "subrequest_start");
    if (!c) return PROXYD_ESTATE;
    if (!spec || !done || !subrequest) return PROXYD_EINVAL;
    if (spec->struct_size < offsetof(proxyd_subrequest_spec, header_count) + sizeof(spec->header_count))
        return PROXYD_EINVAL;
    if (c->closing() || !c->worker().accepts_plugin_waits()) return PROXYD_ESTATE;
    // A pick, a route, a response_head or log hook has no phase that a done could resume: what
    // it started would run with nothing waiting for it (and a pick would pick again for it).
    bool in_pick = request->worker->picking() != nullptr;
    if (in_pick || !c->in_plugin_phase()) {
        c->worker().logger().error("subrequest_start refused for " + std::string(c->method()) + " " +
                                   std::string(c->head().target()) + " of client " +
                                   std::string(c->client_ip()) +
                                   (in_pick ? ": called inside a balancer's pick"
                                            : ": called outside a filter's request_head and a content "
                                              "plugin's answer") +
                                   " (PROXYD_ESTATE)");
        return PROXYD_ESTATE;
    }
    Target target = Target::from_id(spec->upstream);
    if (target.kind != Target::Kind::Upstream || target.index >= c->worker().config().upstreams.size())
        return PROXYD_EINVAL;
    std::optional<Subrequest::Spec> copied = copy_spec(*spec);
    if (!copied) return PROXYD_EINVAL;
    SubrequestSet &set = c->filters().subrequests;
    if (set.closed()) return PROXYD_ESTATE; // the request is over
    auto made = std::make_unique<Subrequest>(set, c->worker().upstream(target.index), c->request(),
                                             std::move(*copied), done, arg);
    Subrequest *started = set.start(std::move(made));
    if (!started) return PROXYD_EIO;
    *subrequest = started;
    return PROXYD_OK;
}

int subrequest_cancel(const proxyd_request_handle *request, proxyd_subrequest *subrequest) {
    ClientConnection *c = connection_of(request, "subrequest_cancel");
    if (!c) return PROXYD_ESTATE;
    RequestFilters *f = c->filters_if_any();
    return f && f->subrequests.cancel(subrequest) ? PROXYD_OK : PROXYD_ENOENT;
}

} // namespace

void fill_subrequest_host_calls(proxyd_host &host) {
    host.subrequest_start = subrequest_start;
    host.subrequest_cancel = subrequest_cancel;
}

} // namespace proxyd
