// A worker's free list of fixed-size blocks for the bytes a socket did not take at once. Blocks
// are recycled rather than freed, so a steady stream of partial writes allocates nothing and
// the queued bytes land in memory that was written recently (still in cache). Worker thread only.
#pragma once

#include <cstddef>
#include <uv.h>

namespace proxyd {

class StreamWriter;

class WriteBlocks {
  public:
    struct Block {
        uv_write_t req; // used on the first block of a chain: one uv_write per chain
        StreamWriter *writer;
        Block *next;        // the rest of the chain
        size_t chain_bytes; // on the first block: the bytes the whole chain holds
        size_t len;
        char data[32 * 1024];
    };

    WriteBlocks() = default;
    WriteBlocks(const WriteBlocks &) = delete;
    WriteBlocks &operator=(const WriteBlocks &) = delete;
    ~WriteBlocks();

    Block *take();
    // Returns a whole chain (linked by next) to the free list.
    void give_chain(Block *first);
    // Blocks taken and not yet given back: what the queued writes of this worker hold.
    size_t in_use() const { return in_use_; }

  private:
    // Enough for a few busy slow clients; beyond it blocks go back to the allocator so a burst
    // does not pin memory forever.
    static constexpr size_t kMaxFree = 64;

    Block *free_ = nullptr;
    size_t free_count_ = 0;
    size_t in_use_ = 0;
};

} // namespace proxyd
