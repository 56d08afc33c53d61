// nghttp2's allocations for a worker's HTTP/2 sessions, through its nghttp2_mem hooks: small
// blocks (a stream, an outbound frame, a copied header list, an HPACK entry: each made and freed
// once or more per stream) come from free lists by size class, so a stream costs no malloc or
// free once the worker has served a few; larger ones (the session itself, its buffers) go to
// malloc as before.
//
// Each block carries a 16-byte prefix naming its class, as nghttp2's free() is not told the
// size. Spare blocks are kept up to kMaxSpareBytes, the rest go back to malloc.
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
    static constexpr size_t kGranule = 32;               // class k holds k * kGranule bytes
    static constexpr size_t kClasses = 32;               // so blocks up to 1 KiB are pooled
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

    // Bytes held in the free lists (their blocks' usable sizes).
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
