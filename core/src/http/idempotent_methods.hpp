// The methods RFC 9110 §9.2.2 defines as idempotent: a client (or a proxy on its behalf) may send
// such a request again when a connection failed before the answer came, since doing it twice
// leaves the same state as doing it once. Unknown methods are not assumed to be.
#pragma once

#include <string_view>

namespace proxyd {

// Case-sensitive, as methods are (RFC 9110 §9.1).
constexpr bool is_idempotent_method(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
           method == "DELETE" || method == "TRACE";
}

} // namespace proxyd
