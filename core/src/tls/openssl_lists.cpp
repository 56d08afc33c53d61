#include "tls/openssl_lists.hpp"

#include <memory>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace proxyd {

namespace {

bool accepted(SSL_CTX *ctx, OpenSslList kind, const std::string &list) {
    bool ok = false;
    switch (kind) {
    case OpenSslList::Ciphers:
        ok = SSL_CTX_set_cipher_list(ctx, list.c_str()) == 1;
        break;
    case OpenSslList::Ciphersuites:
        ok = SSL_CTX_set_ciphersuites(ctx, list.c_str()) == 1;
        break;
    case OpenSslList::Groups:
        ok = SSL_CTX_set1_groups_list(ctx, list.c_str()) == 1;
        break;
    }
    // A refusal leaves its reason on the thread's error queue; the answer here is the entry.
    ERR_clear_error();
    return ok;
}

} // namespace

ListCheck check_openssl_list(OpenSslList kind, std::string_view list) {
    ListCheck result;
    // One scratch context per list, on the main thread at load time.
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!ctx) {
        ERR_clear_error();
        return result;
    }
    // A groups list OpenSSL takes whole is fine as it is, whatever its syntax (OpenSSL 3.3's
    // "?name", a group this build may lack, is skipped by OpenSSL, not by this check); only a
    // refused one is taken apart to name the entry at fault.
    if (kind == OpenSslList::Groups && accepted(ctx.get(), kind, std::string(list))) return result;
    // A cipher string may also separate its entries with spaces, commas or semicolons.
    std::string_view separators = kind == OpenSslList::Ciphers ? ": ,;" : ":";
    size_t at = 0;
    while (at <= list.size()) {
        size_t end = list.find_first_of(separators, at);
        if (end == std::string_view::npos) end = list.size();
        std::string entry(list.substr(at, end - at));
        at = end + 1;
        if (entry.empty()) continue;
        if (kind == OpenSslList::Ciphers && (entry[0] == '!' || entry[0] == '-' || entry[0] == '+' || entry[0] == '@'))
            continue;
        if (kind == OpenSslList::Groups && entry[0] == '?') continue;
        ++result.checked;
        if (!accepted(ctx.get(), kind, entry)) result.unusable.push_back(std::move(entry));
    }
    return result;
}

} // namespace proxyd
