/* BROKEN: the routing hook table really is just its struct_size member, without route(); the
 * core must refuse it without reading the missing pointer. */
#include <proxyd/plugin.h>

static int instance_token;
static int create(const proxyd_host *h, proxyd_load_context *c, const proxyd_config_node *n, void **out) {
    (void)h; (void)c; (void)n;
    *out = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static const struct { uint32_t struct_size; } hooks = {sizeof(hooks)};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_ROUTING,
    "broken_hooks_size", "0.0.1", create, destroy, NULL, NULL,
    (const proxyd_routing_hooks *)(const void *)&hooks, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
