// The filter phases of a client connection (plugin.h, the filter kind): request_head hooks of the
// listener's chain before routing and of the target's after it, a filter's own answer, pending
// filters resumed or cancelled, response_head hooks on every final head the connection writes
// itself or an exchange hands it, and log hooks once the exchange is over. A request that
// reaches no filter takes none of these steps (client_connection.cpp calls in only when a chain
// is configured or a plugin made state).
#include "http/request_id.hpp"
#include "http/response_head_writer.hpp"
#include "server/client_connection.hpp"
#include "server/worker.hpp"

#include <sys/socket.h>
#include <unistd.h>

namespace proxyd {

namespace {

const proxyd_filter_hooks &hooks_of(const PluginInstance &filter) { return *filter.descriptor().filter; }

std::string filter_name(const PluginInstance &filter) {
    return "plugin " + filter.module().name() + " (" + filter.label() + ")";
}

} // namespace

// A uv_poll on a dup of the client socket (libuv owns the socket's own epoll registration),
// asking for no event but the ones epoll always reports: an error (a reset) and a hang-up, plus
// the peer's FIN (UV_DISCONNECT). Freed in its close callback, which may run after the
// connection is gone.
struct HangupWatch {
    uv_poll_t poll;
    int fd;
    ClientConnection *owner;
};

void close_hangup_watch(HangupWatch *watch) {
    watch->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(&watch->poll), [](uv_handle_t *h) {
        auto *self = static_cast<HangupWatch *>(h->data);
        ::close(self->fd);
        delete self;
    });
}

void ClientConnection::watch_hangup() {
    RequestFilters *f = filters_if_any();
    if (!f || !f->pending() || reading_ || f->hangup_watch || closing()) return;
    int dup_fd = ::dup(fd());
    if (dup_fd < 0) return; // no watch: the reset is seen once reading resumes, as before
    auto *watch = new HangupWatch{{}, dup_fd, this};
    if (uv_poll_init(worker_.loop(), &watch->poll, dup_fd) != 0) {
        ::close(dup_fd);
        delete watch;
        return;
    }
    watch->poll.data = watch;
    f->hangup_watch = watch;
    uv_poll_start(&watch->poll, UV_DISCONNECT, [](uv_poll_t *p, int status, int) {
        auto *self = static_cast<HangupWatch *>(p->data);
        ClientConnection *c = self->owner;
        if (!c) return;
        int error = 0;
        socklen_t len = sizeof error;
        bool reset =
            status < 0 || (::getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error != 0);
        // A FIN alone is left to the reads (after the bytes before it, as without a filter).
        c->stop_hangup_watch();
        if (reset) c->close_now();
    });
}

void ClientConnection::stop_hangup_watch() {
    RequestFilters *f = filters_if_any();
    if (!f || !f->hangup_watch) return;
    close_hangup_watch(std::exchange(f->hangup_watch, nullptr));
}

struct PendingDeadline {
    uv_timer_t timer;
    ClientConnection *owner;
};

void close_pending_deadline(PendingDeadline *deadline) {
    deadline->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(&deadline->timer),
             [](uv_handle_t *h) { delete static_cast<PendingDeadline *>(h->data); });
}

void ClientConnection::start_pending_deadline() {
    RequestFilters &f = *request_->filters;
    if (f.pending_deadline) return;
    auto *deadline = new PendingDeadline{{}, this};
    uv_timer_init(worker_.loop(), &deadline->timer);
    deadline->timer.data = deadline;
    f.pending_deadline = deadline;
    uv_timer_start(
        &deadline->timer,
        [](uv_timer_t *t) {
            if (ClientConnection *c = static_cast<PendingDeadline *>(t->data)->owner)
                c->pending_filter_timed_out();
        },
        static_cast<uint64_t>(listener_.limits.filter_timeout.count()), 0);
}

void ClientConnection::stop_pending_deadline() {
    RequestFilters *f = filters_if_any();
    if (!f || !f->pending_deadline) return;
    close_pending_deadline(std::exchange(f->pending_deadline, nullptr));
}

void ClientConnection::pending_filter_timed_out() {
    stop_pending_deadline();
    RequestFilters *f = filters_if_any();
    if (!f || !f->pending()) return;
    worker_.logger().error(
        filter_name(*f->pending()) + ": request_head still pending after filter_timeout (" +
        std::to_string(listener_.limits.filter_timeout.count()) + " ms) for " + std::string(method()) + " " +
        std::string(head().target()) + ", answering 500 (the filter hears cancelled)");
    // send_own_response tells the pending filter, through its cancelled hook, before answering.
    send_error(500, false);
}

RequestFilters &ClientConnection::filters() {
    if (!request_->filters)
        request_->filters =
            request_->spare_filters ? std::move(request_->spare_filters) : std::make_unique<RequestFilters>();
    return *request_->filters;
}

void ClientConnection::run_request_filters() {
    RequestFilters &f = *request_->filters;
    while (const PluginInstance *filter = f.next()) {
        const proxyd_filter_hooks &hooks = hooks_of(*filter);
        if (!hooks.request_head) continue;
        f.set_in_request_head(true);
        int status = hooks.request_head(filter->raw(), worker_.plugin_worker(filter), &request_->view);
        f.set_in_request_head(false);
        if (status == PROXYD_FILTER_CONTINUE) continue;
        if (status == PROXYD_FILTER_PENDING) {
            f.set_pending(filter);
            start_pending_deadline();
            return watch_hangup();
        }
        return finish_filters(*filter, status);
    }
    if (!f.routed()) return route_request();
    start_exchange(request_->record.target);
}

void ClientConnection::finish_filters(const PluginInstance &filter, int status) {
    if (status == PROXYD_FILTER_RESPONDED && request_->filters->answer) return send_filter_answer();
    worker_.logger().error(
        filter_name(filter) + ": request_head " +
        (status == PROXYD_FILTER_RESPONDED ? std::string("said RESPONDED without request_respond")
                                           : "failed (code " + std::to_string(status) + ")") +
        " for " + std::string(method()) + " " + std::string(head().target()) + ", answering 500");
    send_error(500, false);
}

int ClientConnection::resume_filters(int status) {
    RequestFilters *f = filters_if_any();
    if (!f || !f->pending()) return PROXYD_ESTATE;
    const PluginInstance *filter = f->pending();
    f->set_pending(nullptr);
    stop_hangup_watch();
    stop_pending_deadline();
    if (status == PROXYD_FILTER_CONTINUE)
        run_request_filters();
    else
        finish_filters(*filter, status);
    return PROXYD_OK;
}

void ClientConnection::send_filter_answer() {
    FilterAnswer answer = std::move(*request_->filters->answer);
    request_->filters->answer.reset();
    HeaderList fields;
    fields.add("Server", "proxyd");
    for (size_t i = 0; i < answer.fields.header_count(); ++i)
        fields.add(answer.fields.header_name(i), answer.fields.header_value(i));
    // A body still on its way is read and dropped after the answer, the connection kept, as
    // nginx does (up to discard_limit(); a client waiting for 100 Continue never sends it). Past
    // that the answer says Connection: close: what follows could not be told from a next request.
    start_discarding_body();
    bool close = request_->parser.has_body() && request_phase_ != RequestPhase::kComplete &&
                 !request_->parser.body_in_input() && !discarding_body_;
    send_filtered_response(answer.status, std::move(fields), std::move(answer.body), close);
}

void ClientConnection::send_filtered_response(int status, HeaderList fields, std::string body, bool close) {
    FilteredResponseHead head{status, false, std::move(fields)};
    filter_response_head(head);
    bool keep = !close && wants_keep_alive();
    std::string out;
    ResponseHeadWriter writer = start_head(out, head.status, {});
    writer.strict_transport_security(listener_.strict_transport_security);
    writer.fields(head.fields);
    bool bodyless = head.status == 204 || head.status == 304;
    HeadEnding ending{
        .content_length = body.size(), .keep_alive = keep, .client_minor = request_->view.http_minor};
    end_head(writer, worker_.dates().http_date(), ending);
    AccessRecord &record = request_->record;
    record.status = head.status;
    bool head_only = method() == "HEAD" || bodyless;
    record.body_bytes = head_only ? 0 : body.size();
    if (!head_only) out += body;
    send(std::move(out));
    if (record.start_ns == 0) record.start_ns = request_began_ns();
    finish_exchange(keep);
}

void ClientConnection::filter_response_head(FilteredResponseHead &head) {
    RequestFilters &f = *request_->filters;
    f.response_head = &head;
    for (size_t i = f.reached_count(); i-- > 0;) {
        const PluginInstance &filter = *f.reached_at(i);
        if (auto hook = hooks_of(filter).response_head)
            hook(filter.raw(), worker_.plugin_worker(&filter), &request_->view);
    }
    f.response_head = nullptr;
}

void ClientConnection::hold_request_body(std::string_view data) {
    RequestFilters &f = *request_->filters;
    f.held_body.append(data);
    if (f.held_body.size() > kHighWater && !f.body_held_paused) {
        f.body_held_paused = true;
        pause_body();
    }
}

void ClientConnection::cancel_pending_filter() {
    const PluginInstance &filter = *request_->filters->pending();
    request_->filters->set_pending(nullptr);
    stop_hangup_watch();
    stop_pending_deadline();
    if (auto hook = hooks_of(filter).cancelled)
        hook(filter.raw(), worker_.plugin_worker(&filter), &request_->view);
}

void ClientConnection::run_log_filters(int sent_status, bool completed) {
    RequestFilters &f = *request_->filters;
    const AccessRecord &record = request_->record;
    // The request is over: what it still asked of upstreams is not wanted (done is not called).
    f.subrequests.cancel_all();
    if (f.logs()) {
        // The last peer tried: the access record lists every try, "a,b".
        std::string_view upstream = record.upstream;
        if (upstream == "-") upstream = {};
        if (size_t comma = upstream.rfind(','); comma != std::string_view::npos)
            upstream.remove_prefix(comma + 1);
        proxyd_exchange_summary summary{};
        summary.struct_size = sizeof summary;
        summary.status = sent_status;
        summary.body_bytes = record.body_bytes;
        summary.upstream = {upstream.data(), upstream.size()};
        summary.upstream_status = record.upstream_status;
        summary.duration_ns = record.start_ns ? uv_hrtime() - record.start_ns : 0;
        summary.completed = completed;
        for (size_t i = f.reached_count(); i-- > 0;) {
            const PluginInstance &filter = *f.reached_at(i);
            if (auto hook = hooks_of(filter).log)
                hook(filter.raw(), worker_.plugin_worker(&filter), &request_->view, &summary);
        }
    }
    f.free_states();
}

void ClientConnection::refresh_request_view() {
    RequestFilters &f = *request_->filters;
    proxyd_request &view = request_->view;
    if (f.method_edited) view.method = {f.method.data(), f.method.size()};
    if (f.path_edited) {
        std::string_view pq = f.path_and_query;
        size_t q = pq.find('?');
        std::string_view path = pq.substr(0, q);
        view.path = {path.data(), path.size()};
        if (q != std::string_view::npos) {
            std::string_view query = pq.substr(q + 1);
            view.query = {query.data(), query.size()};
        }
        request_->path_rewritten = true;
    }
    if (const HeaderList *fields = f.headers()) {
        // Host cannot be removed, only replaced. An absolute-form target's authority stands in
        // for the client's Host (RFC 9112 §3.2.2), but not for one a filter set, even to the
        // value the client sent: the upstream gets view.host as its Host (build_request_head).
        if (auto host = fields->find("host"); host && (!is_absolute_form(head().target()) || f.host_set))
            view.host = {host->data(), host->size()};
        // The id follows X-Request-ID as the filters left it: a filter's own value wins over the
        // client's (the host calls accept only valid ids); once it is gone, proxyd makes one.
        if (auto id = fields->find("x-request-id"); id && is_valid_request_id(*id)) {
            view.request_id = {id->data(), id->size()};
        } else if (view.request_id.ptr != request_->made_id) {
            worker_.make_request_id(request_->made_id);
            view.request_id = {request_->made_id, sizeof request_->made_id};
        }
    }
}

} // namespace proxyd
