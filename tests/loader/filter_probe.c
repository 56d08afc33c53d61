/* An ABI 1.3 filter for the filter pipeline's tests (tests/integration/test_filters*.py), built
 * against the public header only. Its block chooses what it does; every key is optional:
 *   label = "a"                       the name in its log lines (default "probe")
 *   request_set = ["X-A: 1"]          request_set_header, in request_head
 *   request_add = ["X-A: 2"]          request_add_header
 *   request_remove = ["X-Secret"]     request_remove_header
 *   set_method = "PUT"                request_set_method
 *   set_path = "/other?q=1"           request_set_path
 *   route_to_upstream = "name"        request_route_to an upstream group
 *   route_to_handler = "name"         ... or a handler
 *   respond = 403                     request_respond with this status ...
 *   respond_body = "no\n"             ... this body, and a field "X-Filter-Answer: <label>"
 *   only_if_header = "X-Deny"         do any of the above only when the request has this field
 *   pend_ms = 100                     return PENDING, then resume after this many ms ...
 *   pend_on = "timer"                 ... on a timer (default) or "work" (queue_work sleeps)
 *   response_set = ["X-Served: a"]    response_head_set_header, in response_head
 *   response_remove = ["Server"]      response_head_remove_header
 *   response_status = 299             response_head_set_status
 *   check_refusals = 1                make calls the core must refuse, in each hook, and log
 *                                     "refusals ok" or what was not refused as it should be
 * It logs (warn level, "plugin filter_probe: LABEL ...") each hook it runs with the request id:
 * "request_head", "response_head status=N", "log status=N completed=B upstream=U", "cancelled",
 * "resumed", so tests can assert the order and that each runs once. */
#define _POSIX_C_SOURCE 200809L
#include <proxyd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FIELDS 8

typedef struct {
    char name[64];
    char value[128];
} field;

typedef struct {
    const proxyd_host *host;
    char label[32];
    field request_set[MAX_FIELDS], request_add[MAX_FIELDS], response_set[MAX_FIELDS];
    size_t request_set_n, request_add_n, response_set_n;
    char request_remove[MAX_FIELDS][64], response_remove[MAX_FIELDS][64];
    size_t request_remove_n, response_remove_n;
    char set_method[16], set_path[256], only_if_header[64], respond_body[256];
    int respond, response_status, has_route;
    uint32_t route;
    int64_t pend_ms;
    int pend_on_work;
    int check_refusals;
} probe;

/* One pending request_head. The plugin owns it: freed when the timer or the work is done, or in
 * cancelled (a timer's), so nothing of it outlives what may call back. */
typedef struct {
    probe *self;
    const proxyd_request_handle *request; /* NULL once cancelled */
    proxyd_timer *timer;
    char id[64];
} waiting;

static void say(const probe *p, const char *what, proxyd_str id) {
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s id=%.*s", p->label, what, (int)id.len, id.ptr ? id.ptr : "");
    p->host->log(p->host, PROXYD_LOG_WARN, (proxyd_str){"filter_probe", 12}, (proxyd_str){line, (size_t)n});
}

static int get_string(const proxyd_host *h, const proxyd_config_node *t, const char *key, char *out,
                      size_t size) {
    proxyd_str s;
    const proxyd_config_node *n = h->config_get(t, key);
    if (!n || h->config_string(n, &s) != PROXYD_OK || s.len >= size) return 0;
    memcpy(out, s.ptr, s.len);
    out[s.len] = 0;
    return 1;
}

static int64_t get_int(const proxyd_host *h, const proxyd_config_node *t, const char *key) {
    int64_t v = 0;
    const proxyd_config_node *n = h->config_get(t, key);
    if (n) h->config_integer(n, &v);
    return v;
}

static size_t get_fields(const proxyd_host *h, const proxyd_config_node *t, const char *key, field *out) {
    const proxyd_config_node *a = h->config_get(t, key);
    size_t n = 0, i;
    for (i = 0; a && i < h->config_size(a) && n < MAX_FIELDS; ++i) {
        proxyd_str s;
        const char *colon;
        if (h->config_string(h->config_at(a, i), &s) != PROXYD_OK) continue;
        colon = memchr(s.ptr, ':', s.len);
        if (!colon || (size_t)(colon - s.ptr) >= sizeof out[n].name) continue;
        memcpy(out[n].name, s.ptr, (size_t)(colon - s.ptr));
        out[n].name[colon - s.ptr] = 0;
        colon += *(colon + 1) == ' ' ? 2 : 1;
        snprintf(out[n].value, sizeof out[n].value, "%.*s", (int)(s.len - (size_t)(colon - s.ptr)), colon);
        ++n;
    }
    return n;
}

static size_t get_names(const proxyd_host *h, const proxyd_config_node *t, const char *key, char (*out)[64]) {
    const proxyd_config_node *a = h->config_get(t, key);
    size_t n = 0, i;
    for (i = 0; a && i < h->config_size(a) && n < MAX_FIELDS; ++i) {
        proxyd_str s;
        if (h->config_string(h->config_at(a, i), &s) == PROXYD_OK && s.len < 64) {
            memcpy(out[n], s.ptr, s.len);
            out[n++][s.len] = 0;
        }
    }
    return n;
}

static proxyd_str str(const char *s) { return (proxyd_str){s, strlen(s)}; }

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    probe *p = calloc(1, sizeof *p);
    char target[64];
    if (!p) return PROXYD_ENOMEM;
    p->host = h;
    if (!get_string(h, config, "label", p->label, sizeof p->label)) strcpy(p->label, "probe");
    p->request_set_n = get_fields(h, config, "request_set", p->request_set);
    p->request_add_n = get_fields(h, config, "request_add", p->request_add);
    p->response_set_n = get_fields(h, config, "response_set", p->response_set);
    p->request_remove_n = get_names(h, config, "request_remove", p->request_remove);
    p->response_remove_n = get_names(h, config, "response_remove", p->response_remove);
    get_string(h, config, "set_method", p->set_method, sizeof p->set_method);
    get_string(h, config, "set_path", p->set_path, sizeof p->set_path);
    get_string(h, config, "only_if_header", p->only_if_header, sizeof p->only_if_header);
    get_string(h, config, "respond_body", p->respond_body, sizeof p->respond_body);
    p->respond = (int)get_int(h, config, "respond");
    p->response_status = (int)get_int(h, config, "response_status");
    p->pend_ms = get_int(h, config, "pend_ms");
    p->check_refusals = (int)get_int(h, config, "check_refusals");
    if (get_string(h, config, "pend_on", target, sizeof target))
        p->pend_on_work = strcmp(target, "work") == 0;
    if (get_string(h, config, "route_to_upstream", target, sizeof target))
        p->has_route = h->resolve_target(ctx, PROXYD_TARGET_UPSTREAM, str(target),
                                         h->config_get(config, "route_to_upstream"), &p->route) == PROXYD_OK;
    else if (get_string(h, config, "route_to_handler", target, sizeof target))
        p->has_route = h->resolve_target(ctx, PROXYD_TARGET_HANDLER, str(target),
                                         h->config_get(config, "route_to_handler"), &p->route) == PROXYD_OK;
    *instance = p;
    return PROXYD_OK;
}

static void destroy(void *instance) { free(instance); }

/* The answer, when one is configured: request_respond. 1 when the filter answered. */
static int answer(probe *p, const proxyd_request_handle *request) {
    proxyd_header fields[1];
    if (!p->respond) return 0;
    fields[0].name = str("X-Filter-Answer");
    fields[0].value = str(p->label);
    return p->host->request_respond(request, p->respond, fields, 1, str(p->respond_body)) == PROXYD_OK;
}

static void edit_request(probe *p, const proxyd_request *request) {
    const proxyd_host *h = p->host;
    size_t i;
    for (i = 0; i < p->request_remove_n; ++i)
        h->request_remove_header(request->handle, str(p->request_remove[i]));
    for (i = 0; i < p->request_set_n; ++i)
        h->request_set_header(request->handle, str(p->request_set[i].name), str(p->request_set[i].value));
    for (i = 0; i < p->request_add_n; ++i)
        h->request_add_header(request->handle, str(p->request_add[i].name), str(p->request_add[i].value));
    if (p->set_method[0]) h->request_set_method(request->handle, str(p->set_method));
    if (p->set_path[0]) h->request_set_path(request->handle, str(p->set_path));
    if (p->has_route) h->request_route_to(request->handle, p->route);
}

/* Each call the core must refuse, with the code plugin.h gives; "refusals ok" or the first
 * surprise goes to the log. phase: 0 request_head, 1 response_head, 2 log. */
static void check_refusals(probe *p, const proxyd_request *request, int phase) {
    const proxyd_host *h = p->host;
    const proxyd_request_handle *r = request->handle;
    proxyd_str v;
    char what[160] = "refusals ok";
#define EXPECT(call, code)                                                                                   \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        if (rc_ != (code) && strcmp(what, "refusals ok") == 0)                                               \
            snprintf(what, sizeof what, "refusal missed: %s gave %d, not %d", #call, rc_, (int)(code));      \
    } while (0)
    if (phase == 0) {
        EXPECT(h->request_set_header(r, str("Bad Name"), str("x")), PROXYD_EINVAL);
        EXPECT(h->request_set_header(r, str("X-Ok"), (proxyd_str){"a\r\nb", 4}), PROXYD_EINVAL);
        EXPECT(h->request_set_header(r, str("Content-Length"), str("5")), PROXYD_EINVAL);
        /* X-Request-ID becomes the request's id: only a valid id (the log line names the id kept). */
        EXPECT(h->request_set_header(r, str("X-Request-ID"), str("has space")), PROXYD_EINVAL);
        EXPECT(h->request_add_header(r, str("x-request-id"), str("")), PROXYD_EINVAL);
        EXPECT(h->request_remove_header(r, str("Host")), PROXYD_EINVAL);
        /* The upstream's Host: what a client's Host may hold, no path, userinfo or space. */
        EXPECT(h->request_set_header(r, str("Host"), str("a.test/evil")), PROXYD_EINVAL);
        EXPECT(h->request_set_header(r, str("Host"), str("user@a.test")), PROXYD_EINVAL);
        EXPECT(h->request_set_header(r, str("Host"), str("a.test b")), PROXYD_EINVAL);
        EXPECT(h->request_set_header(r, str("Host"), str("a\",for=x")), PROXYD_EINVAL);
        EXPECT(h->request_set_header(r, str("Host"), str("")), PROXYD_EINVAL);
        EXPECT(h->request_remove_header(r, str("Transfer-Encoding")), PROXYD_EINVAL);
        EXPECT(h->request_remove_header(r, str("X-Not-There")), PROXYD_ENOENT);
        EXPECT(h->request_set_method(r, str("G T")), PROXYD_EINVAL);
        EXPECT(h->request_set_path(r, str("no-slash")), PROXYD_EINVAL);
        /* An unknown target (EINVAL), or any target from a target's own chain (ESTATE). */
        EXPECT(h->request_route_to(r, 0x7ffffff0u) == PROXYD_EINVAL ||
                   h->request_route_to(r, 0) == PROXYD_ESTATE,
               1);
        EXPECT(h->request_respond(r, 99, NULL, 0, str("")), PROXYD_EINVAL);
        EXPECT(h->response_head_status(r), PROXYD_ESTATE);
        EXPECT(h->response_head_set_header(r, str("X-A"), str("1")), PROXYD_ESTATE);
        EXPECT(h->filter_resume(r, PROXYD_FILTER_CONTINUE), PROXYD_ESTATE);
        EXPECT(h->request_state_set(r, NULL, NULL, NULL), PROXYD_EINVAL);
    } else {
        EXPECT(h->request_set_header(r, str("X-A"), str("1")), PROXYD_ESTATE);
        EXPECT(h->request_respond(r, 200, NULL, 0, str("")), PROXYD_ESTATE);
        EXPECT(h->request_route_to(r, 0), PROXYD_ESTATE);
        EXPECT(h->request_header(r, str("Host"), &v), PROXYD_OK);
    }
    if (phase == 1) {
        EXPECT(h->response_head_set_header(r, str("Date"), str("x")), PROXYD_EINVAL);
        EXPECT(h->response_head_remove_header(r, str("Connection")), PROXYD_EINVAL);
        EXPECT(h->response_head_add_header(r, str("Content-Length"), str("1")), PROXYD_EINVAL);
        EXPECT(h->response_head_set_status(r, 304), PROXYD_EINVAL);
        EXPECT(h->response_head_set_status(r, 600), PROXYD_EINVAL);
        EXPECT(h->response_head_remove_header(r, str("X-Not-There")), PROXYD_ENOENT);
        EXPECT(h->response_head_header(r, str("X-Not-There"), &v), PROXYD_ENOENT);
    }
    if (phase == 2) EXPECT(h->response_head_status(r), PROXYD_ESTATE);
#undef EXPECT
    say(p, what, request->request_id);
}

static void resume(waiting *w) {
    probe *p = w->self;
    const proxyd_request_handle *request = w->request;
    int responded = answer(p, request);
    say(p, "resumed", str(w->id));
    free(w);
    /* The request may be over when this returns: nothing of it is touched after. */
    p->host->filter_resume(request, responded ? PROXYD_FILTER_RESPONDED : PROXYD_FILTER_CONTINUE);
}

static void on_timer(void *arg) { resume(arg); }

static void sleep_work(void *arg) {
    waiting *w = arg;
    struct timespec ts;
    ts.tv_sec = (time_t)(w->self->pend_ms / 1000);
    ts.tv_nsec = (long)(w->self->pend_ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static void work_done(void *arg) {
    waiting *w = arg;
    if (!w->request) { /* cancelled while the work ran: only the memory is left */
        free(w);
        return;
    }
    resume(w);
}

static int request_head(void *instance, void *worker, const proxyd_request *request) {
    probe *p = instance;
    proxyd_str value;
    (void)worker;
    say(p, "request_head", request->request_id);
    if (p->check_refusals) check_refusals(p, request, 0);
    if (p->only_if_header[0] &&
        p->host->request_header(request->handle, str(p->only_if_header), &value) != PROXYD_OK)
        return PROXYD_FILTER_CONTINUE;
    edit_request(p, request);
    if (p->pend_ms > 0) {
        waiting *w = calloc(1, sizeof *w);
        int rc;
        if (!w) return PROXYD_ENOMEM;
        w->self = p;
        w->request = request->handle;
        snprintf(w->id, sizeof w->id, "%.*s", (int)request->request_id.len, request->request_id.ptr);
        rc = p->pend_on_work
                 ? p->host->queue_work(p->host->request_worker(request->handle), sleep_work, work_done, w)
                 : p->host->timer_start(p->host->request_worker(request->handle), (uint64_t)p->pend_ms,
                                        on_timer, w, &w->timer);
        if (rc != PROXYD_OK) {
            free(w);
            return rc;
        }
        p->host->request_state_set(request->handle, p, w, NULL);
        return PROXYD_FILTER_PENDING;
    }
    return answer(p, request->handle) ? PROXYD_FILTER_RESPONDED : PROXYD_FILTER_CONTINUE;
}

static void response_head(void *instance, void *worker, const proxyd_request *request) {
    probe *p = instance;
    const proxyd_host *h = p->host;
    char what[64];
    size_t i;
    (void)worker;
    snprintf(what, sizeof what, "response_head status=%d", h->response_head_status(request->handle));
    say(p, what, request->request_id);
    if (p->check_refusals) check_refusals(p, request, 1);
    for (i = 0; i < p->response_remove_n; ++i)
        h->response_head_remove_header(request->handle, str(p->response_remove[i]));
    for (i = 0; i < p->response_set_n; ++i)
        h->response_head_set_header(request->handle, str(p->response_set[i].name),
                                    str(p->response_set[i].value));
    if (p->response_status) h->response_head_set_status(request->handle, p->response_status);
}

static void log_hook(void *instance, void *worker, const proxyd_request *request,
                     const proxyd_exchange_summary *summary) {
    char what[256];
    (void)worker;
    snprintf(what, sizeof what, "log status=%d completed=%d upstream=%.*s", summary->status,
             summary->completed, (int)summary->upstream.len,
             summary->upstream.ptr ? summary->upstream.ptr : "");
    say(instance, what, request->request_id);
    if (((probe *)instance)->check_refusals) check_refusals(instance, request, 2);
}

static void cancelled(void *instance, void *worker, const proxyd_request *request) {
    probe *p = instance;
    waiting *w = p->host->request_state_get(request->handle, p);
    (void)worker;
    say(p, "cancelled", request->request_id);
    if (!w) return;
    w->request = NULL;
    if (!p->pend_on_work) {
        p->host->timer_cancel(w->timer);
        free(w);
    } /* else work_done frees it */
}

static const proxyd_filter_hooks hooks = {sizeof(proxyd_filter_hooks), request_head, response_head, log_hook,
                                          cancelled};

static const proxyd_plugin_descriptor descriptor = {PROXYD_ABI_MAJOR,
                                                    PROXYD_ABI_MINOR,
                                                    sizeof(proxyd_plugin_descriptor),
                                                    PROXYD_KIND_FILTER,
                                                    "filter_probe",
                                                    "1.0",
                                                    create,
                                                    destroy,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) { return &descriptor; }
