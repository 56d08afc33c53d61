/* An ABI 1.0 content plugin (built against the frozen 1.0 header) that keeps responses past its
 * handle hook, as 1.0 allowed: GET /park... is parked with its request, unanswered; GET /release
 * finishes every response parked on this worker, reading each one's path and X-Tag field first,
 * and answers "released N: path|tag;..." itself. Anything else gets 204. Since 1.0 has no
 * cancelled hook, a parked response whose client left stays the plugin's: test_content_orphans.py
 * proves the core keeps its request readable until the plugin finishes it, and frees the ones
 * never finished when the worker ends. */
#include <proxyd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parked {
    struct parked *next;
    const proxyd_request *request;
    proxyd_response_handle *response;
} parked;

typedef struct {
    parked *first; /* this worker's parked responses, worker thread only */
} park_worker;

static const proxyd_host *host;
static int instance_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)ctx;
    (void)config;
    host = h;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static int create_worker(void *instance, void **worker) {
    (void)instance;
    *worker = calloc(1, sizeof(park_worker));
    return *worker ? PROXYD_OK : PROXYD_ENOMEM;
}
/* What is still parked is left to the core, as a 1.0 plugin would: the list goes, not the responses. */
static void destroy_worker(void *instance, void *worker) {
    park_worker *self = worker;
    (void)instance;
    while (self->first) {
        parked *p = self->first;
        self->first = p->next;
        free(p);
    }
    free(self);
}

static int starts_with(proxyd_str s, const char *prefix) {
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

static int release_all(park_worker *self, proxyd_response_handle *response) {
    char text[4096];
    size_t used = 0;
    unsigned count = 0;
    char list[3800] = "";
    while (self->first) {
        parked *p = self->first;
        proxyd_str tag = {NULL, 0};
        self->first = p->next;
        host->request_header(p->request->handle, (proxyd_str){"X-Tag", 5}, &tag);
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%.*s|%.*s;",
                                 (int)p->request->path.len, p->request->path.ptr, (int)tag.len,
                                 tag.ptr ? tag.ptr : "");
        host->response_status(p->response, 200);
        host->response_body(p->response, "late\n", 5);
        host->response_finish(p->response);
        free(p);
        ++count;
    }
    int n = snprintf(text, sizeof text, "released %u: %s\n", count, list);
    host->response_status(response, 200);
    host->response_body(response, text, (size_t)n);
    return host->response_finish(response);
}

static int handle(void *instance, void *worker, const proxyd_request *request, proxyd_response_handle *response) {
    park_worker *self = worker;
    (void)instance;
    if (starts_with(request->path, "/park")) {
        parked *p = calloc(1, sizeof *p);
        if (!p) return PROXYD_ENOMEM;
        p->request = request;
        p->response = response;
        p->next = self->first;
        self->first = p;
        return PROXYD_OK;
    }
    if (starts_with(request->path, "/release")) return release_all(self, response);
    host->response_status(response, 204);
    return host->response_finish(response);
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_CONTENT,
    "content_park10", "0.0.1", create, destroy, create_worker, destroy_worker, NULL, NULL, &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
