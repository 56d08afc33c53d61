/* BROKEN: exports a descriptor function, but not under the name proxyd_plugin_entry. */
#include <proxyd/plugin.h>

static const proxyd_routing_hooks hooks = {sizeof(proxyd_routing_hooks), NULL};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), PROXYD_KIND_ROUTING,
    "broken_no_entry", "0.0.1", NULL, NULL, NULL, NULL, &hooks, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry_v1(void) { return &descriptor; }
