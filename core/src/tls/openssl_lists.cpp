#include "tls/openssl_lists.hpp"

#include <memory>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace proxyd {

ListCheck check_openssl_list(OpenSslList kind, std::string_view list) {
    ListCheck result;
    // One scratch context per list, on the main thread at load time.
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!ctx) return result;
    size_t at = 0;
    while (at <= list.size()) {
        size_t end = list.find(':', at);
        if (end == std::string_view::npos) end = list.size();
        std::string entry(list.substr(at, end - at));
        at = end + 1;
        if (entry.empty()) continue;
        if (kind == OpenSslList::Ciphers && (entry[0] == '!' || entry[0] == '-' || entry[0] == '+' || entry[0] == '@'))
            continue;
        ++result.checked;
        bool usable = false;
        switch (kind) {
        case OpenSslList::Ciphers:
            usable = SSL_CTX_set_cipher_list(ctx.get(), entry.c_str()) == 1;
            break;
        case OpenSslList::Ciphersuites:
            usable = SSL_CTX_set_ciphersuites(ctx.get(), entry.c_str()) == 1;
            break;
        case OpenSslList::Groups:
            usable = SSL_CTX_set1_groups_list(ctx.get(), entry.c_str()) == 1;
            break;
        }
        // A refusal leaves its reason on the thread's error queue; this answer is the entry.
        ERR_clear_error();
        if (!usable) result.unusable.push_back(std::move(entry));
    }
    return result;
}

} // namespace proxyd
