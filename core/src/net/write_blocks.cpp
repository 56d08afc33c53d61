#include "net/write_blocks.hpp"

namespace proxyd {

WriteBlocks::~WriteBlocks() {
    while (free_) {
        Block *b = free_;
        free_ = b->next;
        delete b;
    }
}

WriteBlocks::Block *WriteBlocks::take() {
    Block *b = free_;
    if (b) {
        free_ = b->next;
        --free_count_;
    } else {
        b = new Block; // data left uninitialised: it is always written before it is sent
    }
    ++in_use_;
    b->next = nullptr;
    b->len = 0;
    b->chain_bytes = 0;
    return b;
}

void WriteBlocks::give_chain(Block *first) {
    while (first) {
        Block *b = first;
        first = b->next;
        --in_use_;
        if (free_count_ >= kMaxFree) {
            delete b;
            continue;
        }
        b->next = free_;
        free_ = b;
        ++free_count_;
    }
}

} // namespace proxyd
