/* A content plugin whose create_instance fails on its config, in four ways chosen by its table:
 *   greeting = "..."        reports at the greeting value and fails
 *   report_but_ok = true    reports at that value but returns PROXYD_OK (the load must still fail)
 *   silent = true           fails without reporting anything
 *   (none of those)         reports at the block itself (node NULL) and fails */
#include <proxyd/plugin.h>

static int instance_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    const proxyd_config_node *greeting = h->config_get(config, "greeting");
    const proxyd_config_node *report_but_ok = h->config_get(config, "report_but_ok");
    *instance = &instance_token;
    if (greeting) {
        h->config_error(ctx, greeting, "greeting is rejected by config_reject");
        return PROXYD_EINVAL;
    }
    if (report_but_ok) {
        h->config_error(ctx, report_but_ok, "report_but_ok is reported by config_reject");
        return PROXYD_OK;
    }
    if (h->config_get(config, "silent"))
        return PROXYD_EPLUGIN;
    h->config_error(ctx, NULL, "config_reject needs a greeting");
    return PROXYD_EINVAL;
}
static void destroy(void *instance) { (void)instance; }
static int handle(void *i, void *w, const proxyd_request *q, proxyd_response_handle *r) {
    (void)i; (void)w; (void)q; (void)r;
    return PROXYD_EPLUGIN;
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_CONTENT,
    "config_reject", "0.0.1", create, destroy, NULL, NULL, NULL, NULL, &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
