/* A content plugin whose create_worker succeeds for the first `start_workers` workers of an
 * instance and refuses every later one (start_workers = 0: all refuse; absent: all succeed),
 * each after sleeping `start_delay_ms` (default 0). The reload and start-up tests use it to make
 * some or all of a generation's workers fail to start, or to start slowly. Workers call
 * create_worker from their own threads, hence the atomic counter. */
#define _POSIX_C_SOURCE 199309L
#include <proxyd/plugin.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    int64_t start_workers; /* -1: no limit */
    int64_t start_delay_ms;
    int64_t created; /* create_worker calls so far, updated atomically */
} refusal_instance;

static const proxyd_host *host;
static int worker_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    const proxyd_config_node *limit = h->config_get(config, "start_workers");
    refusal_instance *self = calloc(1, sizeof *self);
    if (!self) return PROXYD_ENOMEM;
    self->start_workers = -1;
    if (limit && (h->config_integer(limit, &self->start_workers) != PROXYD_OK || self->start_workers < 0)) {
        h->config_error(ctx, limit, "start_workers must be an integer >= 0");
        free(self);
        return PROXYD_EINVAL;
    }
    const proxyd_config_node *delay = h->config_get(config, "start_delay_ms");
    if (delay && (h->config_integer(delay, &self->start_delay_ms) != PROXYD_OK || self->start_delay_ms < 0 ||
                  self->start_delay_ms > 10000)) {
        h->config_error(ctx, delay, "start_delay_ms must be an integer in 0..10000");
        free(self);
        return PROXYD_EINVAL;
    }
    host = h;
    *instance = self;
    return PROXYD_OK;
}
static void destroy(void *instance) { free(instance); }

static int create_worker(void *instance, void **worker) {
    refusal_instance *self = instance;
    int64_t index = __atomic_fetch_add(&self->created, 1, __ATOMIC_SEQ_CST);
    struct timespec pause = {(time_t)(self->start_delay_ms / 1000),
                             (long)(self->start_delay_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    *worker = &worker_token;
    if (self->start_workers >= 0 && index >= self->start_workers) return PROXYD_EPLUGIN;
    return PROXYD_OK;
}
static void destroy_worker(void *instance, void *worker) {
    (void)instance;
    (void)worker;
}

static int handle(void *instance, void *worker, const proxyd_request *request,
                  proxyd_response_handle *response) {
    (void)instance;
    (void)worker;
    (void)request;
    host->response_status(response, 204);
    return host->response_finish(response);
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle};
static const proxyd_plugin_descriptor descriptor = {PROXYD_ABI_MAJOR,
                                                    PROXYD_ABI_MINOR,
                                                    sizeof(proxyd_plugin_descriptor),
                                                    PROXYD_KIND_CONTENT,
                                                    "worker_refusal",
                                                    "0.0.1",
                                                    create,
                                                    destroy,
                                                    create_worker,
                                                    destroy_worker,
                                                    NULL,
                                                    NULL,
                                                    &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
