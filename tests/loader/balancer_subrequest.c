/* A balancer that calls subrequest_start inside pick, which the core must refuse (a pick has no
 * request phase to resume: test_subrequest_outside_phase.py). Its block names the group to ask:
 *   subrequest_to = "name"
 * Each pick logs (warn level, "plugin balancer_subrequest: ...") what subrequest_start returned,
 * then picks the first untried peer. A done that runs anyway logs "done ran". Built against the
 * frozen 1.4 header (tests/abi/1.4), so it also proves 1.4 plugins keep loading. */
#include <proxyd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const proxyd_host *host;
    uint32_t subrequest_to;
} instance_t;

static proxyd_str str(const char *s) { return (proxyd_str){s, strlen(s)}; }

static void say(const proxyd_host *host, const char *text) {
    host->log(host, PROXYD_LOG_WARN, str("balancer_subrequest"), str(text));
}

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    instance_t *self = calloc(1, sizeof *self);
    const proxyd_config_node *node = h->config_get(config, "subrequest_to");
    proxyd_str name;
    if (!self) return PROXYD_ENOMEM;
    self->host = h;
    if (!node || h->config_string(node, &name) != PROXYD_OK ||
        h->resolve_target(ctx, PROXYD_TARGET_UPSTREAM, name, node, &self->subrequest_to) != PROXYD_OK) {
        free(self);
        return PROXYD_EINVAL;
    }
    *instance = self;
    return PROXYD_OK;
}
static void destroy(void *instance) { free(instance); }

static int create_worker(void *instance, void **worker) {
    *worker = instance;
    return PROXYD_OK;
}
static void destroy_worker(void *instance, void *worker) {
    (void)instance;
    (void)worker;
}

static void done(void *arg, const proxyd_subrequest_response *response) {
    (void)response;
    say(arg, "done ran");
}

static int pick(void *instance, void *worker, const proxyd_peer *peers, size_t count, const bool *tried,
                const proxyd_request *request) {
    instance_t *self = instance;
    proxyd_subrequest_spec spec = {sizeof spec, self->subrequest_to, str("GET"), str("/from-pick"), NULL, 0};
    proxyd_subrequest *subrequest = NULL;
    char text[80];
    size_t i;
    (void)worker;
    (void)peers;
    snprintf(text, sizeof text, "subrequest_start in pick returned %d",
             self->host->subrequest_start(request->handle, &spec, done, (void *)self->host, &subrequest));
    say(self->host, text);
    for (i = 0; i < count; i++)
        if (!tried[i]) return (int)i;
    return -1;
}

static const proxyd_balancing_hooks hooks = {sizeof(proxyd_balancing_hooks), pick, NULL, NULL, NULL};
static const proxyd_plugin_descriptor descriptor = {PROXYD_ABI_MAJOR,
                                                    PROXYD_ABI_MINOR,
                                                    sizeof(proxyd_plugin_descriptor),
                                                    PROXYD_KIND_BALANCING,
                                                    "balancer_subrequest",
                                                    "0.0.1",
                                                    create,
                                                    destroy,
                                                    create_worker,
                                                    destroy_worker,
                                                    NULL,
                                                    &hooks,
                                                    NULL,
                                                    NULL,
                                                    NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
