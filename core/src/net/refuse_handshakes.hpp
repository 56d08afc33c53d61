// A listening socket that is about to close stops taking new handshakes, so the accept queue it
// holds can be emptied first: closing a socket resets every connection still queued in it, which
// its client saw as established.
#pragma once

#include <string>

namespace proxyd {

// Attaches a classic BPF filter to the listening socket fd that drops every segment opening a
// handshake (SYN without ACK): the client retries its SYN and, once the socket has closed, is
// refused cleanly. Handshakes already under way still complete into the queue, and connections
// accepted from it, which inherit the filter, never receive such a segment. The filter belongs
// to the socket, not to this fd: every dup() of it is affected, so only a socket that closes for
// good (a stop, not a reload whose next generation accepts on the same socket) may get it.
// Returns false with error set when the kernel refuses the filter.
bool refuse_new_handshakes(int fd, std::string &error);

} // namespace proxyd
