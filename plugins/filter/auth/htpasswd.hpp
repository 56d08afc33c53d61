// An htpasswd file as Apache's htpasswd and `openssl passwd` write it: "user:hash" lines, '#'
// comments and blank lines ignored. The hashes are checked by libxcrypt's crypt_r, so every method
// it knows works: bcrypt ($2y$, $2b$, $2a$: htpasswd -B), yescrypt ($y$), SHA-crypt ($5$, $6$), and
// the legacy MD5-crypt ($1$) and DES. Apache's own $apr1$ and {SHA} are not crypt(3) methods and
// are refused at load with a hint.
#ifndef PROXYD_PLUGINS_FILTER_AUTH_HTPASSWD_HPP
#define PROXYD_PLUGINS_FILTER_AUTH_HTPASSWD_HPP

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::auth {

struct Htpasswd {
    std::map<std::string, std::string, std::less<>> users; // user -> hash
    std::vector<std::string> errors;                       // "line 3: ...", one per bad line
};

Htpasswd parse_htpasswd(std::string_view text);

// True when password's crypt_r with hash's setting gives hash. Slow by design (bcrypt: tens of
// milliseconds): call it off the worker thread.
bool verify_password(std::string_view password, const std::string &hash);

} // namespace proxyd::auth

#endif
