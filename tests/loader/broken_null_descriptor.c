/* BROKEN: the entry symbol is there but returns no descriptor. */
#include <proxyd/plugin.h>

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return NULL; }
