// The entries of a configured OpenSSL list (tls.ciphers, tls.ciphersuites, tls.groups) that
// OpenSSL would not use, found at load time, before any certificate is read. OpenSSL itself
// skips an unknown cipher or TLS 1.3 suite silently when the list holds a known one, so a typo
// would quietly change what is offered; an unknown group refuses the whole list. No I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace proxyd {

enum class OpenSslList { Ciphers, Ciphersuites, Groups };

// The colon-separated entries of list that select nothing on their own, in order: a cipher
// string's name or combination ("ECDHE+AESGCM") that matches no cipher this OpenSSL offers, a
// suite it does not know, a group it does not know. The cipher string's operators (an entry
// starting with '!', '-' or '+') and its @ commands ("@SECLEVEL=1", "@STRENGTH") are not
// checked: they select nothing by design. A groups list OpenSSL accepts whole has none.
struct ListCheck {
    std::vector<std::string> unusable;
    size_t checked = 0; // entries checked (operators and commands are not)
};
ListCheck check_openssl_list(OpenSslList kind, std::string_view list);

} // namespace proxyd
