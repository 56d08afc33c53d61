#include "h2/h2_request_render.hpp"

#include <cstdio>

namespace proxyd {

void H2RequestRender::head(const H2RequestHead &request, std::string &out) {
    bool has_length = false;
    size_t size = request.method.size() + request.path.size() + 32;
    for (const auto &[name, value] : request.fields) {
        size += name.size() + value.size() + 4;
        if (name == "content-length") has_length = true;
    }
    // HTTP/1.1 delimits a body by its length or by chunks; HTTP/2 by END_STREAM alone.
    chunked_ = request.has_body && !has_length;
    out.reserve(out.size() + size);
    out.append(request.method).append(" ").append(request.path).append(" HTTP/1.1\r\n");
    for (const auto &[name, value] : request.fields)
        out.append(name).append(": ").append(value).append("\r\n");
    if (chunked_) out.append("transfer-encoding: chunked\r\n");
    out.append("\r\n");
}

void H2RequestRender::body(std::string_view data, std::string &out) const {
    if (!chunked_) {
        out.append(data);
        return;
    }
    if (data.empty()) return; // a zero-size chunk would end the body
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    out.append(size, static_cast<size_t>(n)).append(data).append("\r\n");
}

void H2RequestRender::end(std::string &out) const {
    if (chunked_) out.append("0\r\n\r\n");
}

} // namespace proxyd
