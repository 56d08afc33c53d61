// The buffers a worker's TLS connections share. Each is filled and emptied within one call on the
// worker's thread (one read's decryption, one write's encryption), so an idle TLS connection
// keeps no bytes of proxyd's, and a busy one reuses memory already grown instead of its own.
#pragma once

#include <string>

namespace proxyd {

struct TlsBuffers {
    std::string plaintext; // what one read decrypted to, until the connection parsed or copied it
    std::string gathered;  // the small slices of one write, joined so that they share a record
    std::string records;   // ciphertext for the socket, until the socket or its write queue took it
};

} // namespace proxyd
