#include "host_routes.hpp"

#include <algorithm>
#include <cctype>

namespace proxyd::prefix {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_label_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// host without its port: after the ']' of an IPv6 literal, else after the last ':'.
std::string_view without_port(std::string_view host) {
    if (host.starts_with('[')) {
        size_t close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    size_t colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

} // namespace

bool HostRoutes::add(std::string_view host_pattern, PrefixRoute route) {
    if (host_pattern.empty()) return any_host_.add(std::move(route));
    bool wildcard = host_pattern.starts_with("*.");
    std::string_view key = wildcard ? host_pattern.substr(1) : host_pattern;
    std::vector<HostGroup> &groups = wildcard ? wildcards_ : exact_;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const HostGroup &g) { return g.host == key; });
    if (it == groups.end()) {
        // Wildcards stay sorted longest suffix first, so the first that matches is the most specific.
        auto pos = wildcard ? std::find_if(groups.begin(), groups.end(),
                                           [&](const HostGroup &g) { return g.host.size() < key.size(); })
                            : groups.end();
        it = groups.insert(pos, HostGroup{std::string(key), {}});
    }
    return it->routes.add(std::move(route));
}

const PrefixRoute *HostRoutes::find(std::string_view request_host, std::string_view path) const {
    if (!exact_.empty() || !wildcards_.empty()) {
        char buf[kMaxHostLength + 1];
        std::string_view host = normalise_request_host(request_host, buf);
        if (!host.empty()) {
            for (const HostGroup &g : exact_)
                if (g.host == host)
                    if (const PrefixRoute *r = g.routes.find(path)) return r;
            for (const HostGroup &g : wildcards_)
                if (host.size() > g.host.size() && host.ends_with(g.host))
                    if (const PrefixRoute *r = g.routes.find(path)) return r;
        }
    }
    return any_host_.find(path);
}

std::string_view normalise_request_host(std::string_view host, char (&buf)[kMaxHostLength + 1]) {
    host = without_port(host);
    if (host.ends_with('.')) host.remove_suffix(1);
    if (host.empty() || host.size() > kMaxHostLength) return {};
    for (size_t i = 0; i < host.size(); ++i)
        buf[i] = lower(host[i]);
    return {buf, host.size()};
}

std::string host_pattern_problem(std::string_view pattern) {
    std::string quoted = "host '" + std::string(pattern) + "'";
    std::string_view name = pattern;
    if (name.ends_with('.')) name.remove_suffix(1);
    if (name.empty()) return quoted + " is empty: leave 'host' out for a route that serves any host";
    if (name.starts_with('[')) {
        // An IPv6 literal: hex digits, ':' and '.' (an embedded IPv4) between the brackets.
        if (!name.ends_with(']') || name.size() < 3)
            return quoted + ": an IPv6 address is written [addr], without a port";
        for (char c : name.substr(1, name.size() - 2))
            if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'))
                return quoted + " is not an IPv6 address in brackets";
        return {};
    }
    if (name.starts_with("*.")) name.remove_prefix(2);
    if (name.find("://") != std::string_view::npos)
        return quoted + ": give the host name alone, without a scheme";
    if (name.find(':') != std::string_view::npos)
        return quoted + ": give the host name without a port (every port of the listener matches)";
    if (name.find('/') != std::string_view::npos)
        return quoted + ": give the host name alone, without a path";
    if (name.find('*') != std::string_view::npos)
        return quoted + ": '*' may only stand alone as the first label, as in \"*.example.com\"";
    size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return quoted + " has an empty label";
            label = 0;
        } else if (!is_label_byte(c)) {
            return quoted + " contains '" + std::string(1, c) + "', which no host name has";
        } else {
            ++label;
        }
    }
    if (label == 0) return quoted + " has an empty label";
    if (pattern.size() > kMaxHostLength) return quoted + " is longer than 255 bytes";
    return {};
}

std::string normalise_host_pattern(std::string_view pattern) {
    if (pattern.ends_with('.')) pattern.remove_suffix(1);
    std::string out(pattern);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

} // namespace proxyd::prefix
