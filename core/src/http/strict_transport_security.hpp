// The value of a listener's `tls.hsts`: checked against RFC 6797 §6.1 when the config loads, so a
// typo is a config error rather than a header browsers silently ignore.
#pragma once

#include <string>
#include <string_view>

namespace proxyd {

// Empty when value is a valid Strict-Transport-Security value: ';'-separated directives, exactly
// one max-age=SECONDS, each directive at most once, visible ASCII only. Else why not.
std::string check_strict_transport_security(std::string_view value);

} // namespace proxyd
