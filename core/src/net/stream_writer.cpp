#include "net/stream_writer.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

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

    size_t skip = taken;
    for (size_t i = 0; i < count; ++i) {
        size_t len = bufs[i].len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        append(bufs[i].base + skip, len - skip);
        skip = 0;
    }
    queued_ += total - taken;
    return in_flight_ ? 0 : submit_pending();
}

void StreamWriter::append(const char *src, size_t len) {
    while (len > 0) {
        WriteBlocks::Block *last = pending_.last;
        if (!last || last->len == sizeof last->data) {
            WriteBlocks::Block *b = blocks_.take();
            if (last)
                last->next = b;
            else
                pending_.first = b;
            pending_.last = last = b;
        }
        size_t n = std::min(len, sizeof last->data - last->len);
        std::memcpy(last->data + last->len, src, n);
        last->len += n;
        pending_.bytes += n;
        src += n;
        len -= n;
    }
}

int StreamWriter::submit_pending() {
    Chain chain = std::exchange(pending_, Chain{});
    chain_bufs_.clear();
    for (WriteBlocks::Block *b = chain.first; b; b = b->next)
        chain_bufs_.push_back(uv_buf_init(b->data, static_cast<unsigned>(b->len)));
    chain.first->writer = this;
    chain.first->chain_bytes = chain.bytes;
    chain.first->req.data = chain.first;
    int rc = uv_write(&chain.first->req, stream_, chain_bufs_.data(), static_cast<unsigned>(chain_bufs_.size()),
                      on_written);
    if (rc != 0) {
        queued_ -= chain.bytes;
        blocks_.give_chain(chain.first);
        return rc;
    }
    in_flight_ = true;
    return 0;
}

void StreamWriter::on_written(uv_write_t *req, int status) {
    auto *first = static_cast<WriteBlocks::Block *>(req->data);
    StreamWriter *self = first->writer;
    size_t bytes = first->chain_bytes;
    self->in_flight_ = false;
    self->queued_ -= bytes;
    self->blocks_.give_chain(first);
    if (self->pending_.first) {
        if (status == 0) {
            status = self->submit_pending(); // a failure releases the chain
        } else {
            // The stream failed or is closing: what waited behind the failed write never goes.
            self->queued_ -= self->pending_.bytes;
            self->blocks_.give_chain(std::exchange(self->pending_, Chain{}).first);
        }
    }
    self->listener_.on_write_done(status, bytes);
}

} // namespace proxyd
