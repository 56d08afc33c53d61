// [admin] token_file: the bearer token the admin listener asks every request for. Read when a
// config loads, so every reload (SIGHUP) reads the file again and a rotated token takes effect
// with the generation that read it.
#pragma once

#include <string>

namespace proxyd {

struct AdminTokenRead {
    std::string token; // surrounding whitespace trimmed; empty when error is set
    std::string error; // what is wrong with the file, naming it; empty when the token is usable
};

// Refuses a file that cannot be opened, is not a regular file, is readable or writable by other
// users (they are whom the token keeps out of a loopback listener), is larger than a token
// needs, or holds a token that is empty, shorter than kMinAdminTokenBytes, or has bytes a Bearer
// credential cannot carry (RFC 6750 b64token).
AdminTokenRead read_admin_token_file(const std::string &path);

constexpr size_t kMinAdminTokenBytes = 16;
constexpr size_t kMaxAdminTokenFileBytes = 4096;

} // namespace proxyd
