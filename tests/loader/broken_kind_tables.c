/* BROKEN: says kind routing but has no routing table (it fills the content table instead). */
#include <proxyd/plugin.h>

static int instance_token;
static int create(const proxyd_host *h, proxyd_load_context *c, const proxyd_config_node *n, void **out) {
    (void)h; (void)c; (void)n;
    *out = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }
static int handle(void *i, void *w, const proxyd_request *q, proxyd_response_handle *r) {
    (void)i; (void)w; (void)q; (void)r;
    return PROXYD_EPLUGIN;
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_ROUTING,
    "broken_kind_tables", "0.0.1", create, destroy, NULL, NULL, NULL, NULL, &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
