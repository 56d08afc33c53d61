/* BROKEN: claims ABI 1.0, but its descriptor really is shorter: it ends before the hook tables,
 * and struct_size says so. The core must refuse it without reading past the end (an ASan build
 * would catch a read of the missing members). */
#include <proxyd/plugin.h>

static int instance_token;
static int create(const proxyd_host *h, proxyd_load_context *c, const proxyd_config_node *n, void **out) {
    (void)h; (void)c; (void)n;
    *out = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static const struct short_descriptor {
    uint32_t abi_major, abi_minor, struct_size;
    proxyd_kind kind;
    const char *name, *version;
    int (*create_instance)(const proxyd_host *, proxyd_load_context *, const proxyd_config_node *, void **);
    void (*destroy_instance)(void *);
    int (*create_worker)(void *, void **);
    void (*destroy_worker)(void *, void *);
} descriptor = {1, 0, sizeof(struct short_descriptor), PROXYD_KIND_ROUTING, "broken_struct_size", "0.0.1",
                create, destroy, NULL, NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) {
    return (const proxyd_plugin_descriptor *)(const void *)&descriptor;
}
