#include "host_routes.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace proxyd::prefix {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_label_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool is_space_or_control(char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
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

bool by_host(const auto &group, std::string_view host) { return group.host < host; }

// Why an IPv6 literal pattern ("[...]", trailing dot already removed) is unusable, or "".
std::string ipv6_problem(std::string_view name, const std::string &quoted) {
    size_t close = name.find(']');
    if (close != std::string_view::npos && close + 1 < name.size() && name[close + 1] == ':')
        return quoted + ": give the IPv6 address in brackets without a port, as in \"[::1]\" (every "
                        "port of the listener matches)";
    if (close != name.size() - 1 || name.size() < 3) return quoted + " is not an IPv6 address in brackets";
    for (char c : name.substr(1, name.size() - 2))
        if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'))
            return quoted + " is not an IPv6 address in brackets";
    return {};
}

} // namespace

const PrefixTable *HostRoutes::group(const std::vector<HostGroup> &groups, std::string_view host) {
    auto it = std::lower_bound(groups.begin(), groups.end(), host, by_host<HostGroup>);
    return it != groups.end() && it->host == host ? &it->routes : nullptr;
}

PrefixTable &HostRoutes::group_for(std::vector<HostGroup> &groups, std::string_view host) {
    auto it = std::lower_bound(groups.begin(), groups.end(), host, by_host<HostGroup>);
    if (it == groups.end() || it->host != host) it = groups.insert(it, HostGroup{std::string(host), {}});
    return it->routes;
}

bool HostRoutes::add(std::string_view host_pattern, PrefixRoute route) {
    if (host_pattern.empty()) return any_host_.add(std::move(route));
    // A wildcard is kept as its suffix with the dot, so that find() can look up each of the
    // request host's suffixes that start at a label boundary.
    if (host_pattern.starts_with("*."))
        return group_for(wildcards_, host_pattern.substr(1)).add(std::move(route));
    return group_for(exact_, host_pattern).add(std::move(route));
}

PrefixMatch HostRoutes::find(std::string_view request_host, std::string_view path) const {
    if (has_hosts()) {
        char buf[kMaxHostLength];
        std::string_view host = normalise_request_host(request_host, buf);
        if (!host.empty()) {
            if (const PrefixTable *routes = group(exact_, host))
                if (PrefixMatch m = routes->find(path)) return m;
            // Dots from the left give the suffixes longest first; normalisation refused an empty
            // first label, so every suffix leaves at least one label in front of it.
            if (!wildcards_.empty())
                for (size_t dot = host.find('.'); dot != std::string_view::npos;
                     dot = host.find('.', dot + 1))
                    if (const PrefixTable *routes = group(wildcards_, host.substr(dot)))
                        if (PrefixMatch m = routes->find(path)) return m;
        }
    }
    return any_host_.find(path);
}

std::string_view normalise_request_host(std::string_view host, char (&buf)[kMaxHostLength]) {
    host = without_port(host);
    if (host.ends_with('.')) host.remove_suffix(1);
    if (host.empty() || host.size() > kMaxHostLength) return {};
    char previous = '.';
    for (size_t i = 0; i < host.size(); ++i) {
        if (host[i] == '.' && previous == '.') return {};
        previous = buf[i] = lower(host[i]);
    }
    if (previous == '.') return {};
    return {buf, host.size()};
}

std::string host_pattern_problem(std::string_view pattern) {
    const std::string quoted = "host '" + std::string(pattern) + "'";
    std::string_view name = pattern;
    if (name.ends_with('.')) name.remove_suffix(1);
    if (name.empty()) return quoted + " is empty: leave 'host' out for a route that serves any host";
    if (name.find("://") != std::string_view::npos)
        return quoted + ": give the host name alone, without a scheme";
    if (name.find('/') != std::string_view::npos)
        return quoted + ": give the host name alone, without a path";
    if (name.size() > kMaxHostLength) return quoted + " is longer than 255 bytes";
    if (name.starts_with('[')) return ipv6_problem(name, quoted);

    if (name.starts_with("*.")) {
        name.remove_prefix(2);
        if (name.starts_with('[')) return quoted + ": a wildcard covers host names, not IPv6 addresses";
    }
    if (name.find(':') != std::string_view::npos)
        return quoted + ": give the host name without a port (every port of the listener matches)";
    if (name.find('*') != std::string_view::npos)
        return quoted + ": '*' may only be the whole first label, as in \"*.example.com\"";
    size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return quoted + " has an empty label";
            label = 0;
        } else if (is_space_or_control(c)) {
            return quoted + " contains a space or control character";
        } else if (!is_label_byte(c)) {
            return quoted + " contains '" + std::string(1, c) + "', which no host name has";
        } else {
            ++label;
        }
    }
    if (label == 0) return quoted + " has an empty label";
    return {};
}

std::string normalise_host_pattern(std::string_view pattern) {
    if (pattern.ends_with('.')) pattern.remove_suffix(1);
    std::string out(pattern);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

} // namespace proxyd::prefix
