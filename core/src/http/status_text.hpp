#pragma once

#include <string_view>

namespace proxyd {

// The reason phrase for a status code ("Not Found"), or "Unknown".
std::string_view status_text(int status);

} // namespace proxyd
