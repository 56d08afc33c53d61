// Half-closing a stream (shutdown(SHUT_WR)) after the writes libuv still has queued: the peer
// reads everything sent, then EOF. The request object lives until libuv is done with it.
#pragma once

#include <uv.h>

namespace proxyd {

// False when libuv refused (the stream is closing or already shut down).
inline bool half_close_after_writes(uv_stream_t *stream) {
    auto *request = new uv_shutdown_t;
    if (uv_shutdown(request, stream, [](uv_shutdown_t *done, int) { delete done; }) == 0) return true;
    delete request;
    return false;
}

} // namespace proxyd
