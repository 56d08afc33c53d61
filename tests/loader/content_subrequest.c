/* An ABI 1.4 content plugin in plain C, built against the frozen 1.5 header (tests/abi/1.5), for the
 * integration test of subrequests started by a content plugin (test_content_subrequest.py).
 * Config: upstream = "NAME" (required), path = "/..." (default "/"), field = "X-..." (the one
 * response field it copies, default "X-Answer"). By request path:
 *   /one...          parks its response, sends one subrequest and answers with what came back:
 *                    its status, "X-Sub-Field" (the configured field), "X-Sub-Truncated: yes|no"
 *                    and the body it got; 502 with "X-Sub-Result: failed|timeout" on a failure
 *   /two...          two subrequests at once ("X-Sub-Index: 1" and "2"); answers 200 with
 *                    "N: STATUS BODY\n" for each, in index order, once both are back
 *   /cancel...       one subrequest, cancelled after ms=N of the query (default 100) by a timer
 *                    that answers 200 "cancel RC then RC2" (the second cancel must say ENOENT);
 *                    a subrequest back earlier is answered as /one and the timer cancelled
 * The subrequest's path is the query when it starts with '/' (after "ms=N&" for /cancel), else the
 * configured path. Each step is logged ("start T", "done T result=R status=S", "cancelled T",
 * "timer T"), T being the request target, so the test can count them. Every parked exchange is in
 * its worker's list until it is answered or cancelled. */
#define _POSIX_C_SOURCE 200809L
#include <proxyd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TEXT 256

typedef struct {
    const proxyd_host *host;
    proxyd_str name;
    uint32_t upstream;
    char path[MAX_TEXT];
    char field[64];
} instance_t;

typedef struct parked parked;

typedef struct {
    instance_t *instance;
    parked *first; /* worker thread only */
} worker_t;

typedef struct {
    parked *owner;
    proxyd_subrequest *handle; /* NULL once done ran or it was cancelled */
    int index;                 /* 1 or 2 */
    int status;                /* the status, or -1 failed, -2 timed out */
    char body[PROXYD_SUBREQUEST_MAX_BODY];
    size_t body_len;
} sub_t;

struct parked {
    parked *next;
    worker_t *worker;
    const proxyd_request_handle *request;
    proxyd_response_handle *response;
    char target[MAX_TEXT];
    int running; /* subrequests whose done has not run */
    sub_t subs[2];
    proxyd_timer *timer; /* /cancel's, until it fires */
};

static void say(const instance_t *self, proxyd_log_level level, const char *text) {
    self->host->log(self->host, level, self->name, (proxyd_str){text, strlen(text)});
}

static proxyd_str str(const char *text) { return (proxyd_str){text, strlen(text)}; }

static int starts_with(proxyd_str s, const char *prefix) {
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

/* A string key of the config into buf; 0 when absent, -1 when not a string or too long. */
static int config_text(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                       const char *key, char *buf, size_t size) {
    const proxyd_config_node *node = h->config_get(config, key);
    proxyd_str s;
    if (!node) return 0;
    if (h->config_string(node, &s) != PROXYD_OK || s.len >= size) {
        h->config_error(ctx, node, "must be a short string");
        return -1;
    }
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return 1;
}

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    char upstream[MAX_TEXT];
    instance_t *self = calloc(1, sizeof *self);
    if (!self) return PROXYD_ENOMEM;
    self->host = h;
    if (h->config_plugin_name(ctx, &self->name) != PROXYD_OK) self->name = str("content_subrequest");
    strcpy(self->path, "/");
    strcpy(self->field, "X-Answer");
    int got = config_text(h, ctx, config, "upstream", upstream, sizeof upstream);
    if (got == 0) h->config_error(ctx, NULL, "upstream: missing: name the group to ask");
    if (got <= 0 || config_text(h, ctx, config, "path", self->path, sizeof self->path) < 0 ||
        config_text(h, ctx, config, "field", self->field, sizeof self->field) < 0 ||
        h->resolve_target(ctx, PROXYD_TARGET_UPSTREAM, str(upstream), h->config_get(config, "upstream"),
                          &self->upstream) != PROXYD_OK) {
        free(self);
        return PROXYD_EINVAL;
    }
    *instance = self;
    return PROXYD_OK;
}

static void destroy(void *instance) { free(instance); }

static int create_worker(void *instance, void **worker) {
    worker_t *self = calloc(1, sizeof *self);
    if (!self) return PROXYD_ENOMEM;
    self->instance = instance;
    *worker = self;
    return PROXYD_OK;
}

static void unpark(parked *p) {
    parked **at = &p->worker->first;
    while (*at && *at != p)
        at = &(*at)->next;
    if (*at) *at = p->next;
    free(p);
}

/* Responses still parked when a worker ends were cancelled by the core first; nothing is left
 * unless a hook was skipped, which the log then shows. */
static void destroy_worker(void *instance, void *worker) {
    worker_t *self = worker;
    if (self->first) say(instance, PROXYD_LOG_ERROR, "a parked response outlived its worker");
    while (self->first)
        unpark(self->first);
    free(self);
}

static void logf_target(parked *p, const char *what) {
    char text[MAX_TEXT + 96];
    snprintf(text, sizeof text, "%s %s", what, p->target);
    say(p->worker->instance, PROXYD_LOG_INFO, text);
}

/* Sends the answer and forgets the exchange: the request may be gone once finish returns. */
static void answer(parked *p, int status, const proxyd_header *fields, size_t count, const char *body,
                   size_t len) {
    const proxyd_host *h = p->worker->instance->host;
    h->response_status(p->response, status);
    for (size_t i = 0; i < count; ++i)
        h->response_header(p->response, fields[i].name, fields[i].value);
    h->response_body(p->response, body, len);
    if (h->response_finish(p->response) != PROXYD_OK) logf_target(p, "response_finish failed for");
    unpark(p);
}

static void answer_one(parked *p) {
    sub_t *s = &p->subs[0];
    if (s->status < 0) {
        const char *what = s->status == -2 ? "timeout" : "failed";
        proxyd_header field = {str("X-Sub-Result"), str(what)};
        char body[64];
        int n = snprintf(body, sizeof body, "subrequest %s\n", what);
        answer(p, 502, &field, 1, body, (size_t)n);
        return;
    }
    answer(p, s->status, NULL, 0, s->body, s->body_len);
}

/* The done callback: everything in response lives until it returns, so /one answers from here. */
static void subrequest_done(void *arg, const proxyd_subrequest_response *response) {
    sub_t *s = arg;
    parked *p = s->owner;
    char text[MAX_TEXT + 64];
    snprintf(text, sizeof text, "done %s result=%d status=%d", p->target, (int)response->result,
             response->status);
    say(p->worker->instance, PROXYD_LOG_INFO, text);
    if (!p->response || !s->handle) say(p->worker->instance, PROXYD_LOG_ERROR, "done after cancel");
    s->handle = NULL;
    --p->running;
    if (p->timer) { /* /cancel's subrequest came back first: the exchange ends here */
        p->worker->instance->host->timer_cancel(p->timer);
        p->timer = NULL;
    }
    s->status = response->result == PROXYD_SUBREQUEST_RESPONSE  ? response->status
                : response->result == PROXYD_SUBREQUEST_TIMEOUT ? -2
                                                                : -1;
    s->body_len = response->body.len < sizeof s->body ? response->body.len : sizeof s->body;
    if (s->body_len) memcpy(s->body, response->body.ptr, s->body_len);
    if (p->subs[1].index == 0) { /* /one: copy the one field while the response lives */
        proxyd_header fields[2] = {{str("X-Sub-Truncated"), str(response->body_truncated ? "yes" : "no")},
                                   {str("X-Sub-Field"), {"", 0}}};
        size_t count = 1;
        for (size_t i = 0; s->status > 0 && i < response->header_count; ++i) {
            proxyd_str name = response->headers[i].name;
            if (name.len == strlen(p->worker->instance->field) &&
                strncasecmp(name.ptr, p->worker->instance->field, name.len) == 0) {
                fields[1].value = response->headers[i].value;
                count = 2;
                break;
            }
        }
        if (s->status < 0)
            answer_one(p);
        else
            answer(p, s->status, fields, count, s->body, s->body_len);
        return;
    }
    if (p->running > 0) return; /* /two: wait for the other */
    char body[2 * (PROXYD_SUBREQUEST_MAX_BODY + 32)];
    size_t len = 0;
    for (int i = 0; i < 2; ++i)
        len += (size_t)snprintf(body + len, sizeof body - len, "%d: %d %.*s\n", p->subs[i].index,
                                p->subs[i].status, (int)p->subs[i].body_len, p->subs[i].body);
    answer(p, 200, NULL, 0, body, len);
}

static int start_subrequest(parked *p, sub_t *s, const char *path) {
    const instance_t *self = p->worker->instance;
    char index[2] = {(char)('0' + s->index), '\0'};
    proxyd_header field = {str("X-Sub-Index"), str(index)};
    proxyd_subrequest_spec spec = {sizeof spec, self->upstream, str("GET"), str(path), &field, 1};
    s->owner = p;
    int rc = self->host->subrequest_start(p->request, &spec, subrequest_done, s, &s->handle);
    if (rc == PROXYD_OK) ++p->running;
    return rc;
}

/* /cancel's timer: the subrequest is still running (the test's backend is slow), so the first
 * cancel succeeds and the second finds nothing. */
static void cancel_now(void *arg) {
    parked *p = arg;
    const proxyd_host *h = p->worker->instance->host;
    p->timer = NULL;
    logf_target(p, "timer");
    int first = h->subrequest_cancel(p->request, p->subs[0].handle);
    int second = h->subrequest_cancel(p->request, p->subs[0].handle);
    if (first == PROXYD_OK) {
        p->subs[0].handle = NULL;
        --p->running;
    }
    char body[64];
    int n = snprintf(body, sizeof body, "cancel %d then %d\n", first, second);
    answer(p, 200, NULL, 0, body, (size_t)n);
}

static int handle(void *instance, void *worker, const proxyd_request *request,
                  proxyd_response_handle *response) {
    instance_t *self = instance;
    worker_t *w = worker;
    int two = starts_with(request->path, "/two"), cancel = starts_with(request->path, "/cancel");
    if (!two && !cancel && !starts_with(request->path, "/one")) return PROXYD_ENOENT; /* the core's 500 */
    parked *p = calloc(1, sizeof *p);
    if (!p) return PROXYD_ENOMEM;
    p->worker = w;
    p->request = request->handle;
    p->response = response;
    snprintf(p->target, sizeof p->target, "%.*s", (int)request->target.len, request->target.ptr);
    p->next = w->first;
    w->first = p;

    unsigned delay_ms = 100;
    proxyd_str query = request->query;
    if (cancel && starts_with(query, "ms=")) {
        delay_ms = (unsigned)strtoul(query.ptr + 3, NULL, 10) % 10000;
        const char *amp = memchr(query.ptr, '&', query.len);
        query = amp ? (proxyd_str){amp + 1, query.len - (size_t)(amp + 1 - query.ptr)} : (proxyd_str){"", 0};
    }
    char path[MAX_TEXT];
    if (starts_with(query, "/"))
        snprintf(path, sizeof path, "%.*s", (int)query.len, query.ptr);
    else
        snprintf(path, sizeof path, "%s", self->path);

    logf_target(p, "start");
    p->subs[0].index = 1;
    if (two) p->subs[1].index = 2;
    int rc = start_subrequest(p, &p->subs[0], path);
    if (rc == PROXYD_OK && two) rc = start_subrequest(p, &p->subs[1], path);
    if (rc == PROXYD_OK && cancel)
        rc = self->host->timer_start(self->host->request_worker(request->handle), delay_ms, cancel_now, p,
                                     &p->timer);
    if (rc != PROXYD_OK) {
        /* Answered at once; a subrequest already started is cancelled with the request. */
        char body[64];
        int n = snprintf(body, sizeof body, "subrequest_start: %d\n", rc);
        answer(p, 502, NULL, 0, body, (size_t)n);
    }
    return PROXYD_OK;
}

/* The client left, or a stop cut it: the core has cancelled the subrequests already (their done
 * is never called), so subrequest_cancel finds nothing; the timer is the plugin's to cancel. */
static void cancelled(void *instance, void *worker, proxyd_response_handle *response) {
    worker_t *w = worker;
    for (parked *p = w->first; p; p = p->next) {
        if (p->response != response) continue;
        const proxyd_host *h = p->worker->instance->host;
        char what[96];
        int late = 0;
        for (int i = 0; i < 2; ++i)
            if (p->subs[i].handle && h->subrequest_cancel(p->request, p->subs[i].handle) == PROXYD_OK) ++late;
        if (p->timer) h->timer_cancel(p->timer);
        snprintf(what, sizeof what, "cancelled (unanswered %d, left for the plugin to cancel %d)", p->running,
                 late);
        logf_target(p, what);
        p->response = NULL;
        unpark(p);
        return;
    }
    say(instance, PROXYD_LOG_ERROR, "cancelled for a response this worker never parked");
}

static const proxyd_content_hooks hooks = {
    .struct_size = sizeof(proxyd_content_hooks), .handle = handle, .cancelled = cancelled, .max_body = 0};
static const proxyd_plugin_descriptor descriptor = {.abi_major = PROXYD_ABI_MAJOR,
                                                    .abi_minor = PROXYD_ABI_MINOR,
                                                    .struct_size = sizeof(proxyd_plugin_descriptor),
                                                    .kind = PROXYD_KIND_CONTENT,
                                                    .name = "content_subrequest",
                                                    .version = "0.0.1",
                                                    .create_instance = create,
                                                    .destroy_instance = destroy,
                                                    .create_worker = create_worker,
                                                    .destroy_worker = destroy_worker,
                                                    .content = &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
