// Writes to a libuv stream without copying what the socket takes at once: uv_try_write first,
// and only the rest is copied into recycled blocks (WriteBlocks) and queued with uv_write. A
// write the socket took whole costs one system call and no completion callback, so libuv does
// not re-arm the stream's epoll watcher either.
#pragma once

#include "net/write_blocks.hpp"

#include <cstddef>
#include <uv.h>
#include <vector>

namespace proxyd {

class StreamWriter {
  public:
    class Listener {
      public:
        // A queued chain of bytes finished (status 0) or failed; queued_bytes() is already
        // updated.
        virtual void on_write_done(int status, size_t bytes) = 0;

      protected:
        ~Listener() = default;
    };

    StreamWriter(WriteBlocks &blocks, uv_stream_t *stream, Listener &listener)
        : blocks_(blocks), stream_(stream), listener_(listener) {}
    StreamWriter(const StreamWriter &) = delete;
    StreamWriter &operator=(const StreamWriter &) = delete;

    // 0, or a libuv error when the socket failed at once (no callback follows for these bytes).
    // The buffers may be reused as soon as it returns.
    int write(const uv_buf_t *bufs, size_t count);
    // Bytes accepted but not yet handed to the kernel.
    size_t queued_bytes() const { return queued_; }

  private:
    struct Chain {
        WriteBlocks::Block *first = nullptr;
        WriteBlocks::Block *last = nullptr;
        size_t bytes = 0;
    };

    // Copies into the pending chain, filling its last block before taking another: many small
    // writes to a slow peer then hold about as much memory as they hold bytes, not a block each.
    void append(const char *src, size_t len);
    int submit_pending();
    static void on_written(uv_write_t *req, int status);

    WriteBlocks &blocks_;
    uv_stream_t *stream_;
    Listener &listener_;
    // At most one uv_write is in flight; what arrives meanwhile waits in pending_ and goes out
    // as one write when the one in flight completes.
    bool in_flight_ = false;
    Chain pending_;
    std::vector<uv_buf_t> chain_bufs_; // reused: no allocation per queued write
    size_t queued_ = 0;
};

} // namespace proxyd
