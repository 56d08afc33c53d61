// Listening sockets are opened (bound) on the main thread, before any worker starts, so that an
// address in use is reported once, clearly, and start-up fails as a whole.
#pragma once

#include "net/net_address.hpp"

#include <string>

namespace proxyd {

// True when nothing else listens on address: probes with a socket without SO_REUSEPORT, because
// with SO_REUSEPORT two proxyd processes of the same user would silently share the port.
bool check_address_free(const NetAddress &address, const std::string &text, std::string &error);

// A non-blocking socket bound to address with SO_REUSEPORT (one per worker, so the kernel spreads
// connections), not listening yet: the worker that gets it calls listen() (uv_listen) once its
// whole generation has started. A listening socket joins the port's SO_REUSEPORT group at once,
// and would take a share of new connections that nobody accepts if that generation never took
// over. Returns the fd, or -1 with error set.
int open_listen_socket(const NetAddress &address, const std::string &text, std::string &error);

} // namespace proxyd
