/* A routing plugin in plain C for test_route_redirect.py: it answers PROXYD_ROUTE_REDIRECT (ABI
 * 1.7) by path, each location chosen to test what the core does with it:
 *   /moved  -> "/moved/?from=fixture"
 *   /empty  -> an empty location
 *   /split  -> "/a\r\nSet-Cookie: injected=1" (a field of its own if the core sent it as it is)
 *   /blank  -> "/a b"
 *   /utf8   -> "/caf\xc3\xa9" (UTF-8, not percent-encoded)
 * and declines every other path (the listener's own target answers). Built against the current
 * header; routing_redirect_1_6.c builds this same file against the frozen 1.6 header, which has
 * neither the result nor proxyd_route's location: that build returns the value 2 for /moved, which
 * no 1.6 plugin meant as a redirect, so the core must take it as a decline. */
#include <proxyd/plugin.h>
#include <string.h>

#ifndef FIXTURE_NAME
#define FIXTURE_NAME "routing_redirect"
#endif

static int instance_token;

static int path_is(const proxyd_request *request, const char *path) {
    size_t len = strlen(path);
    return request->path.len == len && memcmp(request->path.ptr, path, len) == 0;
}

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)h;
    (void)ctx;
    (void)config;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

#if PROXYD_ABI_MINOR >= 7
static proxyd_route_result redirect(proxyd_route *route, const char *location, size_t len) {
    route->location.ptr = location;
    route->location.len = len;
    return PROXYD_ROUTE_REDIRECT;
}

static proxyd_route_result route(void *instance, void *worker, const proxyd_request *request,
                                 proxyd_route *out) {
    static const char moved[] = "/moved/?from=fixture";
    static const char split[] = "/a\r\nSet-Cookie: injected=1";
    static const char blank[] = "/a b";
    static const char utf8[] = "/caf\xc3\xa9";
    (void)instance;
    (void)worker;
    if (path_is(request, "/moved")) return redirect(out, moved, sizeof moved - 1);
    if (path_is(request, "/empty")) return redirect(out, NULL, 0);
    if (path_is(request, "/split")) return redirect(out, split, sizeof split - 1);
    if (path_is(request, "/blank")) return redirect(out, blank, sizeof blank - 1);
    if (path_is(request, "/utf8")) return redirect(out, utf8, sizeof utf8 - 1);
    return PROXYD_ROUTE_DECLINE;
}
#else
static proxyd_route_result route(void *instance, void *worker, const proxyd_request *request,
                                 proxyd_route *out) {
    (void)instance;
    (void)worker;
    (void)out;
    return path_is(request, "/moved") ? (proxyd_route_result)2 : PROXYD_ROUTE_DECLINE;
}
#endif

static const proxyd_routing_hooks hooks = {.struct_size = sizeof(proxyd_routing_hooks), .route = route};
static const proxyd_plugin_descriptor descriptor = {.abi_major = PROXYD_ABI_MAJOR,
                                                    .abi_minor = PROXYD_ABI_MINOR,
                                                    .struct_size = sizeof(proxyd_plugin_descriptor),
                                                    .kind = PROXYD_KIND_ROUTING,
                                                    .name = FIXTURE_NAME,
                                                    .version = "0.0.1",
                                                    .create_instance = create,
                                                    .destroy_instance = destroy,
                                                    .routing = &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
