// The request and response half of the host table (plugin.h): what plugins may ask about a
// request and how content plugins answer.
//
// Each of these calls belongs to the request's worker thread: the exchange it reaches is that
// loop's, unlocked. A call from any other thread would race the loop and corrupt it, so it is
// refused (PROXYD_ESTATE, or nothing) and logged, naming the call; a debug build aborts instead,
// so the plugin's author finds the bug at once. The check costs one thread-id comparison.
#include "exchange/content_exchange.hpp"
#include "exchange/request_handle.hpp"
#include "http/header_rules.hpp"
#include "plugin/abi_sizes.hpp"
#include "server/client_connection.hpp"
#include "server/host_call_args.hpp"
#include "server/host_table.hpp"
#include "server/worker.hpp"
#include "server/worker_post.hpp"
#include "server/worker_thread_check.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace proxyd {

bool on_worker_thread(const ExchangeWorker *worker, const char *call) {
    if (!worker || worker->on_own_thread()) return true;
    std::string text = std::string("a plugin called ") + call +
                       " from a thread other than its request's worker thread (plugin.h: only worker_post "
                       "may be called from any thread)";
#ifndef NDEBUG
    std::fprintf(stderr, "proxyd: %s: aborting (a debug build aborts on this bug)\n", text.c_str());
    std::abort();
#else
    worker->logger().error(text + ": refused");
    return false;
#endif
}

namespace {

using host_call::ps;
using host_call::sv;

// The request's fields as filters left them, or as parsed while none changed any.
const HeaderList *edited_fields(const proxyd_request_handle *request) {
    return request->connection ? request->connection->edited_headers() : nullptr;
}

bool on_thread(const proxyd_request_handle *request, const char *call) {
    return on_worker_thread(request->worker, call);
}
bool on_thread(proxyd_response_handle *response, const char *call) {
    return on_worker_thread(&ContentExchange::from(response)->worker(), call);
}

int request_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str *value) {
    if (!request || !value) return PROXYD_EINVAL;
    if (!on_thread(request, "request_header")) return PROXYD_ESTATE;
    const HeaderList *edited = edited_fields(request);
    auto found = edited ? edited->find(sv(name)) : request->head->find(sv(name));
    if (!found) return PROXYD_ENOENT;
    *value = ps(*found);
    return PROXYD_OK;
}

size_t request_header_count(const proxyd_request_handle *request) {
    if (!request || !on_thread(request, "request_header_count")) return 0;
    const HeaderList *edited = edited_fields(request);
    return edited ? edited->header_count() : request->head->header_count();
}

int request_header_at(const proxyd_request_handle *request, size_t index, proxyd_str *name, proxyd_str *value) {
    if (!request) return PROXYD_ENOENT;
    if (!on_thread(request, "request_header_at")) return PROXYD_ESTATE;
    if (const HeaderList *edited = edited_fields(request)) {
        if (index >= edited->header_count()) return PROXYD_ENOENT;
        if (name) *name = ps(edited->header_name(index));
        if (value) *value = ps(edited->header_value(index));
        return PROXYD_OK;
    }
    if (index >= request->head->header_count()) return PROXYD_ENOENT;
    if (name) *name = ps(request->head->header_name(index));
    if (value) *value = ps(request->head->header_value(index));
    return PROXYD_OK;
}

void *request_alloc(const proxyd_request_handle *request, size_t size) {
    if (!request || !on_thread(request, "request_alloc")) return nullptr;
    try {
        return request->arena->allocate(size);
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
}

int request_body(const proxyd_request_handle *request, proxyd_str *body) {
    if (!request || !body) return PROXYD_EINVAL;
    *body = proxyd_str{nullptr, 0};
    if (!on_thread(request, "request_body")) return PROXYD_ESTATE;
    if (!request->body) return PROXYD_ENOENT;
    *body = ps(*request->body);
    return PROXYD_OK;
}

int request_tls(const proxyd_request_handle *request, proxyd_tls_info *info) {
    if (!request || !info || info->struct_size < tls_info_size(2)) return PROXYD_EINVAL;
    if (!on_thread(request, "request_tls")) return PROXYD_ESTATE;
    const TlsSession *session = request->connection ? request->connection->tls_session() : nullptr;
    if (!session) return PROXYD_ENOENT;
    const TlsClientCertificate &cert = request->connection->tls_client_certificate();
    bool verified = cert.verify == TlsClientCertificate::Verify::kSuccess;
    info->version = ps(session->version());
    info->cipher = ps(session->cipher());
    info->server_name = ps(session->server_name());
    info->alpn = ps(session->alpn());
    info->session_reused = session->session_reused();
    info->client_verify = verified                                               ? PROXYD_TLS_VERIFY_SUCCESS
                          : cert.verify == TlsClientCertificate::Verify::kFailed ? PROXYD_TLS_VERIFY_FAILED
                                                                                 : PROXYD_TLS_VERIFY_NONE;
    info->client_subject = verified ? ps(cert.subject) : proxyd_str{"", 0};
    info->client_fingerprint = verified ? ps(cert.fingerprint) : proxyd_str{"", 0};
    info->client_verify_error = ps(cert.failure);
    return PROXYD_OK;
}

int response_status(proxyd_response_handle *r, int status) {
    if (!r) return PROXYD_EINVAL;
    if (!on_thread(r, "response_status")) return PROXYD_ESTATE;
    return ContentExchange::from(r)->set_status(status);
}
int response_header(proxyd_response_handle *r, proxyd_str name, proxyd_str value) {
    if (!r) return PROXYD_EINVAL;
    if (!on_thread(r, "response_header")) return PROXYD_ESTATE;
    return ContentExchange::from(r)->add_header(sv(name), sv(value));
}
int response_body(proxyd_response_handle *r, const void *data, size_t len) {
    if (!r || (!data && len)) return PROXYD_EINVAL;
    if (!on_thread(r, "response_body")) return PROXYD_ESTATE;
    return ContentExchange::from(r)->set_body(std::string_view(static_cast<const char *>(data), len));
}
int response_file(proxyd_response_handle *r, int fd, uint64_t offset, uint64_t length) {
    if (!r) return PROXYD_EINVAL;
    if (!on_thread(r, "response_file")) {
        ::close(fd); // plugin.h: the core owns fd from the call on, also when it refuses it
        return PROXYD_ESTATE;
    }
    return ContentExchange::from(r)->set_file(fd, offset, length);
}
int response_finish(proxyd_response_handle *r) {
    if (!r) return PROXYD_EINVAL;
    if (!on_thread(r, "response_finish")) return PROXYD_ESTATE;
    return ContentExchange::from(r)->finish();
}

} // namespace

void fill_request_host_calls(proxyd_host &host) {
    host.request_header = request_header;
    host.request_header_count = request_header_count;
    host.request_header_at = request_header_at;
    host.request_alloc = request_alloc;
    host.request_body = request_body;
    host.response_status = response_status;
    host.response_header = response_header;
    host.response_body = response_body;
    host.response_file = response_file;
    host.response_finish = response_finish;
    host.worker_post = worker_post;
    host.request_tls = request_tls;
}

} // namespace proxyd
