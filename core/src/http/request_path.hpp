// The path proxyd routes, filters and forwards: a request's path with its dot segments removed
// (RFC 3986 §5.2.4, with "%2e" spellings of them, which many origins decode first) and runs of
// slashes merged, as nginx does before it matches a location.
//
// Routing by the path as it came would let "/public/../admin/" or "//admin/" miss a route or a
// filter meant for /admin/ and reach an origin that resolves it to /admin/ all the same. So the
// parser hands routing, plugins and the upstream request this form: what proxyd decided on is
// what the origin gets. The access log keeps the target as the client sent it.
#pragma once

#include <string>
#include <string_view>

namespace proxyd {

enum class RequestPathForm {
    kClean,      // nothing to remove: the path stands as it is
    kNormalised, // the clean form was written to the output string
    kAboveRoot,  // a ".." climbs above "/": the request is refused (400, as nginx does)
};

// path starts with '/' (origin form, without the query).
RequestPathForm normalise_request_path(std::string_view path, std::string &out);

} // namespace proxyd
