#include "hash_key.hpp"

#include <algorithm>
#include <cctype>

namespace proxyd::hash {
namespace {

// A header name and (RFC 6265) a cookie name are tokens.
using sdk::is_token;

std::optional<std::string_view> non_empty(std::string_view s) {
    return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
}

} // namespace

std::optional<KeySpec> parse_key_spec(std::string_view text, std::string &error) {
    if (text == "client_address") return KeySpec{KeySource::ClientAddress, {}};
    if (text == "path") return KeySpec{KeySource::Path, {}};
    if (text == "uri") return KeySpec{KeySource::Uri, {}};
    for (auto [prefix, source] : {std::pair{std::string_view("header:"), KeySource::Header},
                                  std::pair{std::string_view("cookie:"), KeySource::Cookie}}) {
        if (text.substr(0, prefix.size()) != prefix) continue;
        std::string_view name = text.substr(prefix.size());
        if (is_token(name)) return KeySpec{source, std::string(name)};
        error = "key '" + std::string(text) + "': '" + std::string(name) + "' is not a valid " +
                (source == KeySource::Header ? "header" : "cookie") + " name";
        return std::nullopt;
    }
    error = "key must be \"client_address\", \"header:NAME\", \"cookie:NAME\", \"path\" or \"uri\", not '" +
            std::string(text) + "'";
    return std::nullopt;
}

std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name) {
    while (!cookie_header.empty()) {
        size_t end = cookie_header.find(';');
        std::string_view pair = sdk::trim_ows(cookie_header.substr(0, end));
        cookie_header = end == std::string_view::npos ? std::string_view() : cookie_header.substr(end + 1);
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos || sdk::trim_ows(pair.substr(0, eq)) != name) continue;
        std::string_view value = sdk::trim_ows(pair.substr(eq + 1));
        // A quoted value is the same cookie as the unquoted one (RFC 6265 cookie-value).
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        return value;
    }
    return std::nullopt;
}

std::optional<std::string_view> request_key(const KeySpec &spec, const sdk::Request &request) {
    switch (spec.source) {
    case KeySource::ClientAddress:
        return non_empty(sdk::view(request.raw().client_address));
    case KeySource::Path:
        return non_empty(request.path());
    case KeySource::Uri:
        return non_empty(request.target());
    case KeySource::Header: {
        auto value = request.header(spec.name);
        return value ? non_empty(sdk::trim_ows(*value)) : std::nullopt;
    }
    case KeySource::Cookie:
        // HTTP/2 clients may split cookies over several headers (RFC 9113 8.2.3): look in each.
        for (auto [name, value] : request.headers()) {
            if (name.size() != 6 || !std::equal(name.begin(), name.end(), "cookie", [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == b;
                }))
                continue;
            if (auto cookie = find_cookie(value, spec.name)) return non_empty(*cookie);
        }
        return std::nullopt;
    }
    return std::nullopt;
}

} // namespace proxyd::hash
