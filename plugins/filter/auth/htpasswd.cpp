#include "htpasswd.hpp"

#include "credentials.hpp"

#include <crypt.h>
#include <cstring>
#include <memory>

namespace proxyd::auth {

Htpasswd parse_htpasswd(std::string_view text) {
    Htpasswd out;
    size_t number = 0;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        auto error = [&](const std::string &message) {
            out.errors.push_back("line " + std::to_string(number) + ": " + message);
        };
        size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos) {
            error("expected user:hash");
            continue;
        }
        std::string user(line.substr(0, colon));
        std::string hash(line.substr(colon + 1));
        if (hash.empty()) {
            error("user '" + user + "' has no hash");
            continue;
        }
        if (hash.starts_with("$apr1$") || hash.starts_with("{SHA}")) {
            error("user '" + user + "': Apache's " + hash.substr(0, hash.starts_with("{") ? 5 : 6) +
                  " hashes are not supported (crypt(3) cannot check them); make a bcrypt one: htpasswd -B");
            continue;
        }
        int check = crypt_checksalt(hash.c_str());
        // Any two characters pass as a DES salt, so a plain-text password would be taken for a DES
        // hash that nothing matches: a DES hash is exactly 13 characters.
        bool des_shaped =
            hash.size() == 13 &&
            hash.find_first_not_of("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
                std::string::npos;
        if ((check != CRYPT_SALT_OK && check != CRYPT_SALT_METHOD_LEGACY) ||
            (hash[0] != '$' && !des_shaped)) {
            error("user '" + user +
                  "': not a hash this system's crypt(3) supports (bcrypt $2y$/$2b$, yescrypt $y$, "
                  "SHA-crypt $5$/$6$)");
            continue;
        }
        if (!out.users.emplace(user, std::move(hash)).second) error("user '" + user + "' appears twice");
    }
    return out;
}

bool verify_password(std::string_view password, const std::string &hash) {
    if (password.find('\0') != std::string_view::npos) return false;
    // crypt_data is about 32 KiB: on the heap, not the thread pool's stack.
    auto data = std::make_unique<crypt_data>();
    std::string phrase(password);
    const char *result = crypt_r(phrase.c_str(), hash.c_str(), data.get());
    explicit_bzero(phrase.data(), phrase.size());
    bool ok = result && result[0] != '*' && constant_time_equal(result, hash);
    explicit_bzero(data.get(), sizeof(crypt_data));
    return ok;
}

} // namespace proxyd::auth
