/* BROKEN: a routing plugin without create_instance, which every plugin needs. */
#include <proxyd/plugin.h>

static proxyd_route_result route(void *i, void *w, const proxyd_request *q, proxyd_route *r) {
    (void)i; (void)w; (void)q; (void)r;
    return PROXYD_ROUTE_DECLINE;
}

static const proxyd_routing_hooks hooks = {sizeof(proxyd_routing_hooks), route};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_ROUTING,
    "broken_no_create", "0.0.1", NULL, NULL, NULL, NULL, &hooks, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
