/* GOOD: an ABI 1.0 balancing plugin (built against the frozen 1.0 header, so its hook table ends
 * before attempt_done): round robin over the untried peers that are up, else over any untried
 * one, with an outcome hook that counts what it hears. test_abi_minor0.py proves such a plugin
 * still balances under a 1.1 core, including when a client leaves mid-request (the core must not
 * read the attempt_done its table does not have). */
#include <proxyd/plugin.h>
#include <stdlib.h>

typedef struct {
    size_t next;      /* the peer to start the next search from */
    size_t outcomes;  /* outcome() calls heard */
} rr_worker;

static int instance_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)h;
    (void)ctx;
    (void)config;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static int create_worker(void *instance, void **worker) {
    (void)instance;
    *worker = calloc(1, sizeof(rr_worker));
    return *worker ? PROXYD_OK : PROXYD_ENOMEM;
}
static void destroy_worker(void *instance, void *worker) {
    (void)instance;
    free(worker);
}

static int pick(void *instance, void *worker, const proxyd_peer *peers, size_t count, const bool *tried,
                const proxyd_request *request) {
    rr_worker *w = worker;
    int pass;
    size_t i;
    (void)instance;
    (void)request;
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < count; i++) {
            size_t peer = (w->next + i) % count;
            if (tried[peer] || (pass == 0 && peers[peer].down)) continue;
            w->next = peer + 1;
            return (int)peer;
        }
    }
    return -1;
}

static void outcome(void *instance, void *worker, size_t peer, proxyd_outcome result) {
    (void)instance;
    (void)peer;
    (void)result;
    ((rr_worker *)worker)->outcomes++;
}

static const proxyd_balancing_hooks hooks = {sizeof(proxyd_balancing_hooks), pick, outcome};
static const proxyd_plugin_descriptor descriptor = {
    1, 0, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_BALANCING, "balancer_minor0", "0.0.1",
    create, destroy, create_worker, destroy_worker, NULL, &hooks, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
