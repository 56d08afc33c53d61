/* An ABI 1.6 content plugin in plain C, built against the frozen 1.6 header, for
 * test_request_view.py: it answers 200 with the request view's 1.6 members as a plain C plugin
 * reads them (declaring 1.6, it loads only on a core that fills them):
 *   protocol=HTTP/1.1
 *   age_ns=N        (CLOCK_MONOTONIC now minus received_ns; "age_ns=none" when received_ns is 0
 *                    or lies in the future, which would be a core bug)
 * A test that sends the head slowly sees age_ns count from the request's first byte. */
#define _POSIX_C_SOURCE 200809L
#include <proxyd/plugin.h>
#include <stdio.h>
#include <time.h>

static const proxyd_host *host;
static int instance_token;

static uint64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int answer(proxyd_response_handle *response, proxyd_str protocol, uint64_t received_ns) {
    char body[160];
    uint64_t now = now_ns();
    int n;
    if (received_ns == 0 || received_ns > now)
        n = snprintf(body, sizeof body, "protocol=%.*s\nage_ns=none\n", (int)protocol.len, protocol.ptr);
    else
        n = snprintf(body, sizeof body, "protocol=%.*s\nage_ns=%llu\n", (int)protocol.len, protocol.ptr,
                     (unsigned long long)(now - received_ns));
    host->response_status(response, 200);
    host->response_header(response, (proxyd_str){"Content-Type", 12}, (proxyd_str){"text/plain", 10});
    host->response_body(response, body, (size_t)n);
    return host->response_finish(response);
}

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)ctx;
    (void)config;
    host = h;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static int handle(void *instance, void *worker, const proxyd_request *request,
                  proxyd_response_handle *response) {
    (void)instance;
    (void)worker;
    return answer(response, request->protocol, request->received_ns);
}

static const proxyd_content_hooks hooks = {.struct_size = sizeof(proxyd_content_hooks), .handle = handle};
static const proxyd_plugin_descriptor descriptor = {.abi_major = PROXYD_ABI_MAJOR,
                                                    .abi_minor = PROXYD_ABI_MINOR,
                                                    .struct_size = sizeof(proxyd_plugin_descriptor),
                                                    .kind = PROXYD_KIND_CONTENT,
                                                    .name = "content_request_view",
                                                    .version = "0.0.1",
                                                    .create_instance = create,
                                                    .destroy_instance = destroy,
                                                    .content = &hooks};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
