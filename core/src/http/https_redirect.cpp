#include "http/https_redirect.hpp"

namespace proxyd {

std::string_view host_without_port(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        size_t close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    size_t colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

std::string https_location(std::string_view host, uint16_t port, std::string_view path,
                           std::string_view query, bool has_query) {
    std::string out = "https://";
    out.append(host_without_port(host));
    if (port != 443) out.append(":").append(std::to_string(port));
    out.append(!path.empty() && path.front() == '/' ? path : std::string_view("/"));
    if (has_query) out.append("?").append(query);
    return out;
}

} // namespace proxyd
