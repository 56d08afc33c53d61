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

} // namespace proxyd
