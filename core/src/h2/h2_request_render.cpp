#include "h2/h2_request_render.hpp"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace proxyd {

void H2RequestRender::head(const H2RequestHead &request, std::string &out) {
    bool has_length = false;
    size_t size = request.method.size() + 1 + request.path.size() + sizeof " HTTP/1.1\r\n" - 1 + 2;
    for (const auto &[name, value] : request.fields) {
        size += name.size() + 2 + value.size() + 2;
        if (name == "content-length") has_length = true;
    }
    // HTTP/1.1 delimits a body by its length or by chunks; HTTP/2 by END_STREAM alone.
    chunked_ = request.has_body && !has_length;
    constexpr std::string_view kChunked = "transfer-encoding: chunked\r\n";
    if (chunked_) size += kChunked.size();
    // Sized once and filled in place: a head is a dozen pieces, each an append's checks else.
    size_t start = out.size();
    out.resize(start + size);
    char *at = out.data() + start;
    auto put = [&at](std::string_view piece) {
        std::memcpy(at, piece.data(), piece.size());
        at += piece.size();
    };
    put(request.method);
    put(" ");
    put(request.path);
    put(" HTTP/1.1\r\n");
    for (const auto &[name, value] : request.fields) {
        put(name);
        put(": ");
        put(value);
        put("\r\n");
    }
    if (chunked_) put(kChunked);
    put("\r\n");
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
