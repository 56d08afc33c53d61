#include "net/stream_writer.hpp"

#include <algorithm>
#include <cstring>

namespace proxyd {

int StreamWriter::write(const uv_buf_t *bufs, size_t count) {
    size_t total = 0;
    for (size_t i = 0; i < count; ++i)
        total += bufs[i].len;
    if (total == 0) return 0;
    size_t taken = 0;
    if (queued_ == 0) {
        // Only with nothing queued: bytes written now must not overtake queued ones.
        int rc = uv_try_write(stream_, bufs, static_cast<unsigned>(count));
        if (rc >= 0)
            taken = static_cast<size_t>(rc);
        else if (rc != UV_EAGAIN)
            return rc;
        if (taken == total) return 0;
    }

    WriteBlocks::Block *first = nullptr;
    WriteBlocks::Block *last = nullptr;
    chain_bufs_.clear();
    size_t skip = taken;
    for (size_t i = 0; i < count; ++i) {
        const char *src = bufs[i].base;
        size_t len = bufs[i].len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        src += skip;
        len -= skip;
        skip = 0;
        while (len > 0) {
            if (!last || last->len == sizeof last->data) {
                WriteBlocks::Block *b = blocks_.take();
                if (last)
                    last->next = b;
                else
                    first = b;
                last = b;
            }
            size_t n = std::min(len, sizeof last->data - last->len);
            std::memcpy(last->data + last->len, src, n);
            last->len += n;
            src += n;
            len -= n;
        }
    }
    for (WriteBlocks::Block *b = first; b; b = b->next)
        chain_bufs_.push_back(uv_buf_init(b->data, static_cast<unsigned>(b->len)));
    first->writer = this;
    first->chain_bytes = total - taken;
    first->req.data = first;
    int rc = uv_write(&first->req, stream_, chain_bufs_.data(), static_cast<unsigned>(chain_bufs_.size()),
                      on_written);
    if (rc != 0) {
        blocks_.give_chain(first);
        return rc;
    }
    queued_ += first->chain_bytes;
    return 0;
}

void StreamWriter::on_written(uv_write_t *req, int status) {
    auto *first = static_cast<WriteBlocks::Block *>(req->data);
    StreamWriter *self = first->writer;
    size_t bytes = first->chain_bytes;
    self->queued_ -= bytes;
    self->blocks_.give_chain(first);
    self->listener_.on_write_done(status, bytes);
}

} // namespace proxyd
