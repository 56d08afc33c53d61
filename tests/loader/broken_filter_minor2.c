/* BROKEN: declares the filter kind, which ABI 1.3 introduced, but says it was built for 1.2. */
#include <proxyd/plugin.h>
#include <stddef.h>

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)h;
    (void)ctx;
    (void)config;
    *instance = NULL;
    return PROXYD_OK;
}

static const proxyd_filter_hooks hooks = {sizeof(proxyd_filter_hooks), NULL, NULL, NULL, NULL};

static const proxyd_plugin_descriptor descriptor = {PROXYD_ABI_MAJOR,
                                                    2,
                                                    sizeof(proxyd_plugin_descriptor),
                                                    PROXYD_KIND_FILTER,
                                                    "filter_minor2",
                                                    "1.0",
                                                    create,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) { return &descriptor; }
