// nghttp2's allocations for a worker's HTTP/2 sessions, through its nghttp2_mem hooks: small
// blocks (a stream, an outbound frame, a copied header list, an HPACK entry: each made and freed
// once or more per stream) come from free lists by size class, so a stream costs no malloc or
// free once the worker has served a few; larger ones (the session itself, its buffers) go to
// malloc and free as before.
//
// nghttp2's free() is not told a block's size: the pool asks malloc_usable_size. Class k's
// blocks are malloc'd with k * kGranule + 8 bytes, the usable size of a glibc chunk (16-byte
// steps, 8 bytes of header), so they cost no more memory than malloc's own; a block whose usable
// size exceeds the largest class is one of malloc's. Spare blocks are kept up to kMaxSpareBytes,
// the rest are freed.
//
// One pool per worker (Worker owns it), used on that worker's thread only; it outlives every
// session that allocates from it.
#pragma once

#include <array>
#include <cstddef>
#include <nghttp2/nghttp2.h>

namespace proxyd {

class H2MemoryPool {
  public:
    static constexpr size_t kGranule = 16;
    static constexpr size_t kClasses = 64;               // class k: k * kGranule + 8 bytes
    static constexpr size_t kMaxSpareBytes = 512 * 1024; // what the free lists hold at most

    H2MemoryPool();
    ~H2MemoryPool();
    H2MemoryPool(const H2MemoryPool &) = delete;
    H2MemoryPool &operator=(const H2MemoryPool &) = delete;

    // The hooks for nghttp2_session_server_new3, naming this pool; valid while it lives.
    nghttp2_mem *mem() { return &mem_; }

    // malloc, free and realloc's contracts (a null or a zero size included).
    void *allocate(size_t size);
    void release(void *block);
    void *reallocate(void *block, size_t size);

    // Bytes held in the free lists.
    size_t spare_bytes() const { return spare_bytes_; }

  private:
    struct Free {
        Free *next;
    };
    std::array<Free *, kClasses + 1> free_{}; // by class, 1..kClasses
    size_t spare_bytes_ = 0;
    nghttp2_mem mem_;
};

} // namespace proxyd
