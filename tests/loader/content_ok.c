/* GOOD: a minimal content plugin answering 204. The loader tests also offer it where a routing
 * plugin is expected (kind mismatch), and the config tests serve with it. */
#include <proxyd/plugin.h>

static const proxyd_host *host;
static int instance_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)ctx; (void)config;
    host = h;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }
static int handle(void *instance, void *worker, const proxyd_request *request, proxyd_response_handle *response) {
    (void)instance; (void)worker; (void)request;
    host->response_status(response, 204);
    return host->response_finish(response);
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_CONTENT,
    "content_ok", "0.0.1", create, destroy, NULL, NULL, NULL, NULL, &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
