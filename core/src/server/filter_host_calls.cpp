// The host calls ABI 1.3 added (plugin.h): editing the request head from a filter, a filter's own
// answer, the response head inside response_head hooks, per-request state, and the waits
// (timers, thread-pool work, filter_resume). Each belongs to the request's worker thread and is
// refused from any other (worker_thread_check.hpp); each refuses a call out of its phase with
// PROXYD_ESTATE and a bad argument with PROXYD_EINVAL, changing nothing.
#include "exchange/request_handle.hpp"
#include "http/byte_classes.hpp"
#include "http/header_list.hpp"
#include "http/header_rules.hpp"
#include "http/request_id.hpp"
#include "server/client_connection.hpp"
#include "server/host_call_args.hpp"
#include "server/host_table.hpp"
#include "server/worker.hpp"
#include "server/worker_handle.hpp"
#include "server/worker_thread_check.hpp"

#include <algorithm>

namespace proxyd {
namespace {

using host_call::connection_of;
using host_call::sv;

// Fields whose value is the core's to decide: the framing of the body and the connection.
bool is_core_request_field(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding");
}
bool is_core_response_field(std::string_view name) {
    return is_core_request_field(name) || iequals(name, "connection") || iequals(name, "date");
}

// The request's filter state when its head may be edited now (inside or pending request_head).
RequestFilters *editable(ClientConnection *c) {
    RequestFilters *f = c ? c->filters_if_any() : nullptr;
    return f && f->editable() ? f : nullptr;
}

int check_field(proxyd_str name, proxyd_str value) {
    if (!name.ptr || (!value.ptr && value.len)) return PROXYD_EINVAL;
    if (!is_field_name(sv(name)) || !is_field_value(sv(value))) return PROXYD_EINVAL;
    return PROXYD_OK;
}

// X-Request-ID a filter writes becomes the request's id (refresh_request_view), which goes into
// the access log and upstream heads: it must be an id a client could have sent.
bool is_request_id_field(std::string_view name) { return iequals(name, "x-request-id"); }

// ---- editing the request head ----

int request_set_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str value) {
    ClientConnection *c = connection_of(request, "request_set_header");
    RequestFilters *f = editable(c);
    if (!f) return PROXYD_ESTATE;
    if (int rc = check_field(name, value); rc != PROXYD_OK) return rc;
    if (is_core_request_field(sv(name))) return PROXYD_EINVAL;
    if (is_request_id_field(sv(name)) && !is_valid_request_id(sv(value))) return PROXYD_EINVAL;
    bool host = iequals(sv(name), "host");
    // The upstream gets it as its Host: held to what a client's Host must be, and not empty.
    if (host && (value.len == 0 || !is_plausible_host(sv(value)))) return PROXYD_EINVAL;
    f->edit_headers(c->head()).set(sv(name), sv(value));
    if (host) f->host_set = true;
    c->refresh_request_view();
    return PROXYD_OK;
}

int request_add_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str value) {
    ClientConnection *c = connection_of(request, "request_add_header");
    RequestFilters *f = editable(c);
    if (!f) return PROXYD_ESTATE;
    if (int rc = check_field(name, value); rc != PROXYD_OK) return rc;
    if (is_core_request_field(sv(name)) || iequals(sv(name), "host")) return PROXYD_EINVAL;
    HeaderList &fields = f->edit_headers(c->head());
    if (is_request_id_field(sv(name))) {
        // A request has one id: adding one replaces the client's, as setting it does.
        if (!is_valid_request_id(sv(value))) return PROXYD_EINVAL;
        fields.set(sv(name), sv(value));
    } else {
        fields.add(sv(name), sv(value));
    }
    c->refresh_request_view();
    return PROXYD_OK;
}

int request_remove_header(const proxyd_request_handle *request, proxyd_str name) {
    ClientConnection *c = connection_of(request, "request_remove_header");
    RequestFilters *f = editable(c);
    if (!f) return PROXYD_ESTATE;
    if (!name.ptr || !is_field_name(sv(name))) return PROXYD_EINVAL;
    if (is_core_request_field(sv(name)) || iequals(sv(name), "host")) return PROXYD_EINVAL;
    // Looked up first, so a name that is not there costs no copy of the head.
    const HeaderList *edited = f->headers();
    bool present = edited ? edited->find(sv(name)).has_value() : c->head().find(sv(name)).has_value();
    if (!present) return PROXYD_ENOENT;
    f->edit_headers(c->head()).remove(sv(name));
    c->refresh_request_view();
    return PROXYD_OK;
}

int request_set_method(const proxyd_request_handle *request, proxyd_str method) {
    ClientConnection *c = connection_of(request, "request_set_method");
    RequestFilters *f = editable(c);
    if (!f) return PROXYD_ESTATE;
    if (!method.ptr || !is_field_name(sv(method))) return PROXYD_EINVAL; // a token, as a field name
    f->method = sv(method);
    f->method_edited = true;
    c->refresh_request_view();
    return PROXYD_OK;
}

int request_set_path(const proxyd_request_handle *request, proxyd_str path) {
    ClientConnection *c = connection_of(request, "request_set_path");
    RequestFilters *f = editable(c);
    if (!f) return PROXYD_ESTATE;
    std::string_view p = sv(path);
    if (p.empty() || p.front() != '/' ||
        !std::all_of(p.begin(), p.end(), [](char ch) { return byte_is(ch, kTargetByte); }))
        return PROXYD_EINVAL;
    f->path_and_query = p;
    f->path_edited = true;
    c->refresh_request_view();
    return PROXYD_OK;
}

int request_route_to(const proxyd_request_handle *request, uint32_t target) {
    ClientConnection *c = connection_of(request, "request_route_to");
    RequestFilters *f = editable(c);
    if (!f || f->routed()) return PROXYD_ESTATE; // a target's own filters run after routing
    Target t = Target::from_id(target);
    const Config &config = c->worker().config();
    bool known = t.kind == Target::Kind::Upstream ? t.index < config.upstreams.size()
                                                  : t.index < config.handlers.size();
    if (!known) return PROXYD_EINVAL;
    f->route_to = t;
    return PROXYD_OK;
}

int request_respond(const proxyd_request_handle *request, int status, const proxyd_header *headers,
                    size_t header_count, proxyd_str body) {
    ClientConnection *c = connection_of(request, "request_respond");
    RequestFilters *f = editable(c);
    if (!f || f->answer) return PROXYD_ESTATE;
    if (status < 200 || status > 599 || (header_count && !headers) || (!body.ptr && body.len))
        return PROXYD_EINVAL;
    FilterAnswer answer;
    answer.status = status;
    for (size_t i = 0; i < header_count; ++i) {
        if (check_field(headers[i].name, headers[i].value) != PROXYD_OK) return PROXYD_EINVAL;
        if (is_core_response_field(sv(headers[i].name))) return PROXYD_EINVAL;
        answer.fields.add(sv(headers[i].name), sv(headers[i].value));
    }
    answer.body = sv(body);
    f->answer = std::move(answer);
    return PROXYD_OK;
}

// ---- the response head, inside response_head hooks ----

FilteredResponseHead *response_head_of(const proxyd_request_handle *request, const char *call) {
    ClientConnection *c = connection_of(request, call);
    RequestFilters *f = c ? c->filters_if_any() : nullptr;
    return f ? f->response_head : nullptr;
}

int response_head_status(const proxyd_request_handle *request) {
    FilteredResponseHead *head = response_head_of(request, "response_head_status");
    return head ? head->status : PROXYD_ESTATE;
}

int response_head_set_status(const proxyd_request_handle *request, int status) {
    FilteredResponseHead *head = response_head_of(request, "response_head_set_status");
    if (!head) return PROXYD_ESTATE;
    // 204 and 304 carry no body, so the framing already decided would not fit.
    auto bodyless = [](int s) { return s == 204 || s == 304; };
    if (status < 200 || status > 599 || bodyless(status) || bodyless(head->status)) return PROXYD_EINVAL;
    if (status != head->status) head->status_changed = true;
    head->status = status;
    return PROXYD_OK;
}

int response_head_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str *value) {
    FilteredResponseHead *head = response_head_of(request, "response_head_header");
    if (!head) return PROXYD_ESTATE;
    if (!value) return PROXYD_EINVAL;
    auto found = head->fields.find(sv(name));
    if (!found) return PROXYD_ENOENT;
    *value = proxyd_str{found->data(), found->size()};
    return PROXYD_OK;
}

size_t response_head_header_count(const proxyd_request_handle *request) {
    FilteredResponseHead *head = response_head_of(request, "response_head_header_count");
    return head ? head->fields.header_count() : 0;
}

int response_head_header_at(const proxyd_request_handle *request, size_t index, proxyd_str *name,
                            proxyd_str *value) {
    FilteredResponseHead *head = response_head_of(request, "response_head_header_at");
    if (!head) return PROXYD_ESTATE;
    if (index >= head->fields.header_count()) return PROXYD_ENOENT;
    if (name)
        *name = proxyd_str{head->fields.header_name(index).data(), head->fields.header_name(index).size()};
    if (value)
        *value = proxyd_str{head->fields.header_value(index).data(), head->fields.header_value(index).size()};
    return PROXYD_OK;
}

int response_head_set_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str value) {
    FilteredResponseHead *head = response_head_of(request, "response_head_set_header");
    if (!head) return PROXYD_ESTATE;
    if (check_field(name, value) != PROXYD_OK || is_core_response_field(sv(name))) return PROXYD_EINVAL;
    head->fields.set(sv(name), sv(value));
    return PROXYD_OK;
}

int response_head_add_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str value) {
    FilteredResponseHead *head = response_head_of(request, "response_head_add_header");
    if (!head) return PROXYD_ESTATE;
    if (check_field(name, value) != PROXYD_OK || is_core_response_field(sv(name))) return PROXYD_EINVAL;
    head->fields.add(sv(name), sv(value));
    return PROXYD_OK;
}

int response_head_remove_header(const proxyd_request_handle *request, proxyd_str name) {
    FilteredResponseHead *head = response_head_of(request, "response_head_remove_header");
    if (!head) return PROXYD_ESTATE;
    if (!name.ptr || !is_field_name(sv(name)) || is_core_response_field(sv(name))) return PROXYD_EINVAL;
    return head->fields.remove(sv(name)) ? PROXYD_OK : PROXYD_ENOENT;
}

// ---- per-request state ----

int request_state_set(const proxyd_request_handle *request, const void *key, void *state,
                      void (*free_state)(void *)) {
    ClientConnection *c = connection_of(request, "request_state_set");
    if (!c) return PROXYD_ESTATE;
    if (!key) return PROXYD_EINVAL;
    c->filters().set_state(key, state, free_state);
    return PROXYD_OK;
}

void *request_state_get(const proxyd_request_handle *request, const void *key) {
    ClientConnection *c = connection_of(request, "request_state_get");
    RequestFilters *f = c ? c->filters_if_any() : nullptr;
    return f ? f->state(key) : nullptr;
}

// ---- waiting ----

const proxyd_worker_handle *request_worker(const proxyd_request_handle *request) {
    ClientConnection *c = connection_of(request, "request_worker");
    return c ? c->worker().plugin_handle() : nullptr;
}

Worker *waiting_worker(const proxyd_worker_handle *handle, const char *call) {
    if (!handle || !handle->worker) return nullptr;
    return on_worker_thread(handle->worker, call) ? handle->worker : nullptr;
}

int timer_start(const proxyd_worker_handle *handle, uint64_t delay_ms, void (*fn)(void *), void *arg,
                proxyd_timer **timer) {
    if (!handle || !fn || !timer) return PROXYD_EINVAL;
    Worker *w = waiting_worker(handle, "timer_start");
    if (!w || !w->accepts_plugin_waits()) return PROXYD_ESTATE;
    return w->plugin_waits().start_timer(w->loop(), delay_ms, fn, arg, timer);
}

void timer_cancel(proxyd_timer *timer) {
    if (timer) timer->owner->cancel_timer(timer);
}

int queue_work(const proxyd_worker_handle *handle, void (*work)(void *), void (*done)(void *), void *arg) {
    if (!handle || !work || !done) return PROXYD_EINVAL;
    Worker *w = waiting_worker(handle, "queue_work");
    if (!w || !w->accepts_plugin_waits()) return PROXYD_ESTATE;
    return w->plugin_waits().queue_work(w->loop(), work, done, arg);
}

int filter_resume(const proxyd_request_handle *request, int status) {
    ClientConnection *c = connection_of(request, "filter_resume");
    return c ? c->resume_filters(status) : PROXYD_ESTATE;
}

} // namespace

void fill_filter_host_calls(proxyd_host &host) {
    host.request_set_header = request_set_header;
    host.request_add_header = request_add_header;
    host.request_remove_header = request_remove_header;
    host.request_set_method = request_set_method;
    host.request_set_path = request_set_path;
    host.request_route_to = request_route_to;
    host.request_respond = request_respond;
    host.response_head_status = response_head_status;
    host.response_head_set_status = response_head_set_status;
    host.response_head_header = response_head_header;
    host.response_head_header_count = response_head_header_count;
    host.response_head_header_at = response_head_header_at;
    host.response_head_set_header = response_head_set_header;
    host.response_head_add_header = response_head_add_header;
    host.response_head_remove_header = response_head_remove_header;
    host.request_state_set = request_state_set;
    host.request_state_get = request_state_get;
    host.request_worker = request_worker;
    host.timer_start = timer_start;
    host.timer_cancel = timer_cancel;
    host.queue_work = queue_work;
    host.filter_resume = filter_resume;
}

} // namespace proxyd
