/* GOOD: a minimal routing plugin built against ABI 1.0 (the oldest minor). It must load.
 * Config: routes = [{ handler = "NAME" } or { upstream = "NAME" }, ...], each resolved at load. */
#include <proxyd/plugin.h>

static int instance_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    const proxyd_config_node *routes = h->config_get(config, "routes");
    for (size_t i = 0; i < h->config_size(routes); i++) {
        const proxyd_config_node *route = h->config_at(routes, i);
        const proxyd_config_node *handler = h->config_get(route, "handler");
        const proxyd_config_node *name = handler ? handler : h->config_get(route, "upstream");
        proxyd_target_kind kind = handler ? PROXYD_TARGET_HANDLER : PROXYD_TARGET_UPSTREAM;
        proxyd_str s;
        uint32_t id;
        if (h->config_string(name, &s) != PROXYD_OK) {
            h->config_error(ctx, route, "a route needs handler = \"NAME\" or upstream = \"NAME\"");
            return PROXYD_EINVAL;
        }
        if (h->resolve_target(ctx, kind, s, name, &id) != PROXYD_OK)
            return PROXYD_EINVAL;
    }
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }
static proxyd_route_result route(void *instance, void *worker, const proxyd_request *request, proxyd_route *r) {
    (void)instance; (void)worker; (void)request; (void)r;
    return PROXYD_ROUTE_DECLINE;
}

static const proxyd_routing_hooks hooks = {sizeof(proxyd_routing_hooks), route};
static const proxyd_plugin_descriptor descriptor = {
    1, 0, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_ROUTING, "good_minor0", "0.0.1",
    create, destroy, NULL, NULL, &hooks, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
