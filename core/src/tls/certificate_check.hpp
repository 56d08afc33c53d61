// What `proxyd -t` (and every load) checks of a listener's certificate files before OpenSSL loads
// them, so that a problem is reported at the config key that names the file: the files can be
// read, the key is the certificate's, and when the certificate stops being valid.
#pragma once

#include <ctime>
#include <optional>
#include <string>

namespace proxyd {

// Empty when file is a file that can be opened for reading; else "FILE: cannot read it (reason)"
// or "FILE: a folder, not a file".
std::string check_readable(const std::string &file);

// Empty when the private key in key_file belongs to the first certificate of chain_file; else a
// sentence naming both files.
std::string check_key_matches(const std::string &chain_file, const std::string &key_file);

// The notAfter of the first certificate of chain_file (UTC), or nullopt when it cannot be read.
std::optional<std::time_t> certificate_not_after(const std::string &chain_file);

// A warning for a certificate that expired or expires within warn_days of now, naming the file
// and its notAfter; empty otherwise. An expired certificate is a warning, not an error: proxyd
// starts with it as nginx does, since refusing would take down every listener over one name.
std::string expiry_warning(const std::string &chain_file, std::time_t not_after, std::time_t now,
                           int warn_days = 14);

} // namespace proxyd
