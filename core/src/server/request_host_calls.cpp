// The request and response half of the host table (plugin.h): what plugins may ask about a
// request and how content plugins answer.
#include "http/header_rules.hpp"
#include "plugin/host_calls.hpp"
#include "server/content_exchange.hpp"
#include "server/request_handle.hpp"
#include "server/worker_post.hpp"

namespace proxyd {
namespace {

std::string_view sv(proxyd_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }
proxyd_str ps(std::string_view s) { return proxyd_str{s.data(), s.size()}; }

int request_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str *value) {
    if (!request || !value) return PROXYD_EINVAL;
    auto found = request->head->find(sv(name));
    if (!found) return PROXYD_ENOENT;
    *value = ps(*found);
    return PROXYD_OK;
}

size_t request_header_count(const proxyd_request_handle *request) {
    return request ? request->head->header_count() : 0;
}

int request_header_at(const proxyd_request_handle *request, size_t index, proxyd_str *name, proxyd_str *value) {
    if (!request || index >= request->head->header_count()) return PROXYD_ENOENT;
    if (name) *name = ps(request->head->header_name(index));
    if (value) *value = ps(request->head->header_value(index));
    return PROXYD_OK;
}

void *request_alloc(const proxyd_request_handle *request, size_t size) {
    if (!request) return nullptr;
    try {
        return request->arena->allocate(size);
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
}

int response_status(proxyd_response_handle *r, int status) {
    return r ? ContentExchange::from(r)->set_status(status) : PROXYD_EINVAL;
}
int response_header(proxyd_response_handle *r, proxyd_str name, proxyd_str value) {
    return r ? ContentExchange::from(r)->add_header(sv(name), sv(value)) : PROXYD_EINVAL;
}
int response_body(proxyd_response_handle *r, const void *data, size_t len) {
    if (!r || (!data && len)) return PROXYD_EINVAL;
    return ContentExchange::from(r)->set_body(std::string_view(static_cast<const char *>(data), len));
}
int response_file(proxyd_response_handle *r, int fd, uint64_t offset, uint64_t length) {
    return r ? ContentExchange::from(r)->set_file(fd, offset, length) : PROXYD_EINVAL;
}
int response_finish(proxyd_response_handle *r) { return r ? ContentExchange::from(r)->finish() : PROXYD_EINVAL; }

} // namespace

void fill_request_host_calls(proxyd_host &host) {
    host.request_header = request_header;
    host.request_header_count = request_header_count;
    host.request_header_at = request_header_at;
    host.request_alloc = request_alloc;
    host.response_status = response_status;
    host.response_header = response_header;
    host.response_body = response_body;
    host.response_file = response_file;
    host.response_finish = response_finish;
    host.worker_post = worker_post;
}

} // namespace proxyd
