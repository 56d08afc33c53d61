// The admin listener's authentication ([admin] token_file): a Bearer token (RFC 6750 §2.1) in
// the Authorization field, as Prometheus' bearer_token_file and curl's --oauth2-bearer send it.
#pragma once

#include <optional>
#include <string_view>

namespace proxyd {

enum class BearerCheck {
    kGranted,
    kMissing, // no Authorization field: 401 asking for a Bearer token
    kWrong,   // another scheme, or another token: 401 with error="invalid_token"
};

// authorization is the request's Authorization field value (nullopt: none); token the expected
// one. The token is compared in constant time, so the answer's timing tells nothing of how much
// of a guess was right; only its length may show.
BearerCheck check_bearer(std::optional<std::string_view> authorization, std::string_view token);

} // namespace proxyd
