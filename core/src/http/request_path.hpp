// The path proxyd routes and filters by: a request's path with percent-encoded unreserved
// characters decoded (RFC 3986 §6.2.2.2: "%61" is "a", "%2e" is "."), dot segments removed
// (§5.2.4) and runs of slashes merged, as nginx does before it matches a location.
//
// Routing by the path as it came would let "/public/../admin/", "//admin/" or "/%61dmin/" miss
// a route or a filter meant for /admin/ and reach an origin that resolves it to /admin/ all the
// same. Routing, filters and plugins see this form. The upstream gets the target as sent, as
// nginx's proxy_pass without a URI does, unless a route or filter rewrote the path (then the
// rewrite of this form): an origin resolves it to the same path, and one that wants it as it
// came (a URL inside the path, a signature over it) still gets it. Other escapes ("%2F") stay
// encoded: decoding them here and again in a plugin would decode twice.
#pragma once

#include <string>
#include <string_view>

namespace proxyd {

enum class RequestPathForm {
    kClean,      // nothing to remove: the path stands as it is
    kNormalised, // the clean form was written to the output string
    kAboveRoot,  // a ".." climbs above "/": the request is refused (400, as nginx does)
    kBadEscape,  // a '%' without two hex digits after it: refused (400). Kept, it could join a
                 // decoded digit into a new escape ("%%361" → "%61"), which a plugin or an
                 // origin would decode a second time.
};

// path starts with '/' (origin form, without the query).
RequestPathForm normalise_request_path(std::string_view path, std::string &out);

} // namespace proxyd
