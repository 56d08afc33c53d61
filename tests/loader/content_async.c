/* An ABI 1.1 content plugin for the tests of parked responses (test_content_async.py), by path:
 *   /park...          parked until the client leaves (cancelled is logged: "cancelled /park...")
 *   /async?ms=N...    parked and handed to a thread of its own, which sleeps N ms (default 200)
 *                     and worker_post()s a call that finishes it with "async <path>\n"
 *   /wrong-thread...  a thread of its own calls response_finish, which the core must refuse (it
 *                     logs what the call returned); the response stays parked
 *   /echo...          answers "echo <bytes>: <body>" or "echo: no body" (max_body below)
 *   /finish-then-fail...  answers "finished <path>\n", then returns an error from handle (the core
 *                     must keep the finished answer and add nothing: no 500, no second answer)
 *   anything else     "hello <path>\n"
 * Every parked response is in its worker's list until it is finished or cancelled; a thread is
 * joined before its entry is freed, and destroy_worker joins what is left, so nothing of the
 * plugin posts after it returns. */
#define _POSIX_C_SOURCE 200809L
#include <proxyd/plugin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY 65536

typedef struct parked parked;

typedef struct {
    const proxyd_worker_handle *handle; /* NULL when the core did not call create_worker_ex */
    parked *first;                      /* worker thread only */
} async_worker;

struct parked {
    parked *next;
    async_worker *worker;
    proxyd_response_handle *response; /* NULL once cancelled */
    char path[256];
    unsigned delay_ms;
    int has_thread;
    pthread_t thread;
};

static const proxyd_host *host;
static int instance_token;

static void say(proxyd_log_level level, const char *text) {
    host->log(host, level, (proxyd_str){"async", 5}, (proxyd_str){text, strlen(text)});
}

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)ctx;
    (void)config;
    host = h;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static int create_worker_ex(void *instance, const proxyd_worker_info *info, void **worker) {
    async_worker *self = calloc(1, sizeof *self);
    (void)instance;
    if (!self) return PROXYD_ENOMEM;
    self->handle = info->handle;
    *worker = self;
    return PROXYD_OK;
}
static int create_worker(void *instance, void **worker) {
    proxyd_worker_info none = {sizeof none, 0, 0, NULL};
    return create_worker_ex(instance, &none, worker);
}

static void unlink_parked(parked *p) {
    parked **at = &p->worker->first;
    while (*at && *at != p)
        at = &(*at)->next;
    if (*at) *at = p->next;
}

static void free_parked(parked *p) {
    if (p->has_thread) pthread_join(p->thread, NULL);
    unlink_parked(p);
    free(p);
}

static void destroy_worker(void *instance, void *worker) {
    async_worker *self = worker;
    (void)instance;
    while (self->first)
        free_parked(self->first);
    free(self);
}

static void answer(proxyd_response_handle *response, const char *text) {
    host->response_status(response, 200);
    host->response_header(response, (proxyd_str){"Content-Type", 12}, (proxyd_str){"text/plain", 10});
    host->response_body(response, text, strlen(text));
}

/* On the worker thread, through worker_post. */
static void finish_posted(void *arg) {
    parked *p = arg;
    if (p->response) {
        char text[400];
        snprintf(text, sizeof text, "async %s\n", p->path);
        answer(p->response, text);
        int rc = host->response_finish(p->response);
        if (rc != PROXYD_OK) say(PROXYD_LOG_ERROR, "posted response_finish failed");
    }
    free_parked(p);
}

static void *wait_then_post(void *arg) {
    parked *p = arg;
    struct timespec pause = {(time_t)(p->delay_ms / 1000), (long)(p->delay_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    int rc = host->worker_post(p->worker->handle, finish_posted, p);
    if (rc != PROXYD_OK) {
        char text[400];
        snprintf(text, sizeof text, "worker_post refused (%d) for %s", rc, p->path);
        say(PROXYD_LOG_WARN, text); /* the entry stays listed; destroy_worker frees it */
    }
    return NULL;
}

static void *finish_from_here(void *arg) {
    parked *p = arg;
    int rc = host->response_finish(p->response);
    char text[400];
    snprintf(text, sizeof text, "response_finish from another thread returned %d for %s", rc, p->path);
    say(PROXYD_LOG_WARN, text);
    return NULL;
}

static int starts_with(proxyd_str s, const char *prefix) {
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

static parked *park(async_worker *self, const proxyd_request *request, proxyd_response_handle *response) {
    parked *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->worker = self;
    p->response = response;
    snprintf(p->path, sizeof p->path, "%.*s", (int)request->path.len, request->path.ptr);
    p->delay_ms = 200;
    if (request->query.len > 3 && memcmp(request->query.ptr, "ms=", 3) == 0)
        p->delay_ms = (unsigned)strtoul(request->query.ptr + 3, NULL, 10) % 10000;
    p->next = self->first;
    self->first = p;
    return p;
}

static int echo(const proxyd_request *request, proxyd_response_handle *response) {
    proxyd_str body = {NULL, 0};
    char head[64];
    if (host->request_body(request->handle, &body) != PROXYD_OK) {
        answer(response, "echo: no body");
        return host->response_finish(response);
    }
    int n = snprintf(head, sizeof head, "echo %zu: ", body.len);
    host->response_status(response, 200);
    host->response_body(response, head, (size_t)n);
    host->response_body(response, body.ptr, body.len);
    return host->response_finish(response);
}

static int handle(void *instance, void *worker, const proxyd_request *request, proxyd_response_handle *response) {
    async_worker *self = worker;
    (void)instance;
    if (starts_with(request->path, "/echo")) return echo(request, response);
    if (starts_with(request->path, "/park")) return park(self, request, response) ? PROXYD_OK : PROXYD_ENOMEM;
    if (starts_with(request->path, "/async") || starts_with(request->path, "/wrong-thread")) {
        if (starts_with(request->path, "/async") && (!self->handle || !host->worker_post)) return PROXYD_ESTATE;
        parked *p = park(self, request, response);
        if (!p) return PROXYD_ENOMEM;
        void *(*run)(void *) = starts_with(request->path, "/async") ? wait_then_post : finish_from_here;
        if (pthread_create(&p->thread, NULL, run, p) != 0) {
            free_parked(p);
            return PROXYD_ENOMEM;
        }
        p->has_thread = 1;
        return PROXYD_OK;
    }
    char text[400];
    if (starts_with(request->path, "/finish-then-fail")) {
        snprintf(text, sizeof text, "finished %.*s\n", (int)request->path.len, request->path.ptr);
        answer(response, text);
        host->response_finish(response); /* the response handle is gone from here on */
        return PROXYD_EPLUGIN;
    }
    snprintf(text, sizeof text, "hello %.*s\n", (int)request->path.len, request->path.ptr);
    answer(response, text);
    return host->response_finish(response);
}

static void cancelled(void *instance, void *worker, proxyd_response_handle *response) {
    async_worker *self = worker;
    (void)instance;
    for (parked *p = self->first; p; p = p->next) {
        if (p->response != response) continue;
        char text[400];
        snprintf(text, sizeof text, "cancelled %s", p->path);
        say(PROXYD_LOG_INFO, text);
        p->response = NULL;
        if (!p->has_thread) free_parked(p); /* else its posted call or destroy_worker frees it */
        return;
    }
    say(PROXYD_LOG_ERROR, "cancelled for a response this worker never parked");
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle, cancelled, MAX_BODY};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_CONTENT,
    "content_async", "0.0.1", create, destroy, create_worker, destroy_worker, NULL, NULL, &hooks,
    create_worker_ex};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
