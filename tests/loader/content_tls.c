/* GOOD, ABI 1.2: answers 200 with what request_tls says about the request's connection, one
 * "key=value" line each, or "tls=none" over cleartext, so the integration tests can compare it
 * with what the client negotiated and the certificate it showed. */
#include <proxyd/plugin.h>
#include <stdio.h>
#include <string.h>

static const proxyd_host *host;
static int instance_token;

static int create(const proxyd_host *h, proxyd_load_context *ctx, const proxyd_config_node *config,
                  void **instance) {
    (void)ctx;
    (void)config;
    host = h;
    *instance = &instance_token;
    return PROXYD_OK;
}
static void destroy(void *instance) { (void)instance; }

static const char *verify_name(proxyd_tls_verify v) {
    return v == PROXYD_TLS_VERIFY_SUCCESS ? "SUCCESS" : v == PROXYD_TLS_VERIFY_FAILED ? "FAILED" : "NONE";
}

static int handle(void *instance, void *worker, const proxyd_request *request,
                  proxyd_response_handle *response) {
    char body[2048];
    int len;
    proxyd_tls_info info;
    (void)instance;
    (void)worker;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (host->request_tls(request->handle, &info) != PROXYD_OK) {
        len = snprintf(body, sizeof body, "tls=none\n");
    } else {
        len = snprintf(body, sizeof body,
                       "version=%.*s\ncipher=%.*s\nserver_name=%.*s\nalpn=%.*s\nreused=%d\nverify=%s\n"
                       "subject=%.*s\nfingerprint=%.*s\nverify_error=%.*s\n",
                       (int)info.version.len, info.version.ptr, (int)info.cipher.len, info.cipher.ptr,
                       (int)info.server_name.len, info.server_name.ptr, (int)info.alpn.len, info.alpn.ptr,
                       info.session_reused ? 1 : 0, verify_name(info.client_verify),
                       (int)info.client_subject.len, info.client_subject.ptr,
                       (int)info.client_fingerprint.len, info.client_fingerprint.ptr,
                       (int)info.client_verify_error.len, info.client_verify_error.ptr);
    }
    if (len < 0 || (size_t)len >= sizeof body) len = 0;
    host->response_status(response, 200);
    host->response_header(response, (proxyd_str){"Content-Type", 12}, (proxyd_str){"text/plain", 10});
    host->response_body(response, body, (size_t)len);
    return host->response_finish(response);
}

static const proxyd_content_hooks hooks = {sizeof(proxyd_content_hooks), handle, NULL, 0};
static const proxyd_plugin_descriptor descriptor = {PROXYD_ABI_MAJOR,
                                                    PROXYD_ABI_MINOR,
                                                    sizeof(proxyd_plugin_descriptor),
                                                    PROXYD_KIND_CONTENT,
                                                    "content_tls",
                                                    "0.0.1",
                                                    create,
                                                    destroy,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    NULL,
                                                    &hooks,
                                                    NULL};

PROXYD_EXPORT const proxyd_plugin_descriptor *proxyd_plugin_entry(void) { return &descriptor; }
