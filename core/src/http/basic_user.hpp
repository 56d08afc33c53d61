// The user name of an Authorization field's Basic credentials (RFC 7617), for the access log's
// user field, as nginx's $remote_user: read from the field the client sent, whether or not a
// filter accepted it. No I/O.
#pragma once

#include <string>
#include <string_view>

namespace proxyd {

// The part before the first ':' of the decoded credentials; empty when the field is not Basic
// credentials in base64 (another scheme, bad base64, no ':') or the name is empty.
std::string basic_user(std::string_view authorization);

} // namespace proxyd
