// The one TOML document the config loader checks: the file, with every file it includes merged
// in, and its [defaults] filled into the tables they apply to. Nothing here knows what the keys
// mean; the loader does.
//
// include = "FILE" or ["FILE", "sites/*.toml", ...], at the top of any file: paths relative to
// that file's folder, globs expanded in sorted order (a glob matching nothing is fine, a missing
// plain path is an error). A fragment's top-level tables merge into the including document's
// ([upstreams] from two files hold the groups of both); the same key defined twice below them
// ([upstreams.web] in two files, or log.level twice) is an error naming both places; [[listeners]]
// are appended in include order. Includes nest up to kMaxIncludeDepth; a cycle is an error, and so
// is a file included twice (by one glob and again by name, or by two fragments).
//
// [defaults] has one table per kind, upstream, handler and listener; each key of it is copied into
// every [upstreams.X], [handlers.X] and [[listeners]] entry that does not set that key itself. A
// value is replaced whole, never merged (a default `headers = {...}` and an entry's own `headers`
// do not combine). Defaults do not reach a target or router written inline in a listener.
//
// Every node keeps its source position, file included, so later errors name the right file.
#pragma once

#include <memory>
#include <string>
#include <toml++/toml.h>
#include <vector>

namespace proxyd {

constexpr size_t kMaxIncludeDepth = 8;

// The assembled document, or nullptr with errors ("file:line:col: key: message") appended.
std::shared_ptr<toml::table> assemble_config(const std::string &path, std::vector<std::string> &errors);

} // namespace proxyd
