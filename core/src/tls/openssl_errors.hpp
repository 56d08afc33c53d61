// OpenSSL reports why a call failed in a per-thread error queue; proxyd's messages quote it.
#pragma once

#include <openssl/err.h>
#include <string>

namespace proxyd {

// The queued OpenSSL errors as one "; "-separated sentence, emptying the queue; "" when none.
inline std::string take_openssl_errors() {
    std::string out;
    while (unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

// The same for a message that must give a reason: "unknown error" when the queue was empty.
inline std::string openssl_errors_or_unknown() {
    std::string out = take_openssl_errors();
    return out.empty() ? "unknown error" : out;
}

} // namespace proxyd
