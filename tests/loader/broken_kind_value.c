/* BROKEN: a kind no proxyd knows (7). */
#include <proxyd/plugin.h>

static const proxyd_routing_hooks hooks = {sizeof(proxyd_routing_hooks), NULL};
static const proxyd_plugin_descriptor descriptor = {
    PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR, sizeof(proxyd_plugin_descriptor), (proxyd_kind)7,
    "broken_kind_value", "0.0.1", NULL, NULL, NULL, NULL, &hooks, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
