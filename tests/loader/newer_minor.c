/* BROKEN for this proxyd: declares ABI 1.9, newer than proxyd's 1.2, so it may rely on host
 * calls this proxyd lacks; the refusal must name both versions. Otherwise valid. */
#include <proxyd/plugin.h>

static int instance_token;
static int create(const proxyd_host *h, proxyd_load_context *c, const proxyd_config_node *n, void **out) {
    (void)h; (void)c; (void)n;
    *out = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }
static proxyd_route_result route(void *i, void *w, const proxyd_request *q, proxyd_route *r) {
    (void)i; (void)w; (void)q; (void)r;
    return PROXYD_ROUTE_DECLINE;
}

static const proxyd_routing_hooks hooks = {sizeof(proxyd_routing_hooks), route};
static const proxyd_plugin_descriptor descriptor = {
    1, 9, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_ROUTING, "newer_minor", "0.0.1",
    create, destroy, NULL, NULL, &hooks, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
