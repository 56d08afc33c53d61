#include "h2/h2_memory_pool.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nghttp2/nghttp2.h>

namespace proxyd {
namespace {

// In front of every block: its class (0 for one of malloc's own size), 16 bytes so that the
// block keeps malloc's alignment.
constexpr size_t kPrefix = 16;
static_assert(alignof(std::max_align_t) <= kPrefix);

size_t class_of(size_t size) {
    return size == 0 ? 1 : (size + H2MemoryPool::kGranule - 1) / H2MemoryPool::kGranule;
}

size_t &prefix_of(void *block) {
    return *reinterpret_cast<size_t *>(static_cast<unsigned char *>(block) - kPrefix);
}

H2MemoryPool &pool(void *user_data) { return *static_cast<H2MemoryPool *>(user_data); }

} // namespace

H2MemoryPool::~H2MemoryPool() {
    for (Free *&head : free_)
        while (head) {
            Free *next = head->next;
            std::free(reinterpret_cast<unsigned char *>(head) - kPrefix);
            head = next;
        }
}

H2MemoryPool::H2MemoryPool() {
    mem_.mem_user_data = this;
    mem_.malloc = [](size_t size, void *user_data) { return pool(user_data).allocate(size); };
    mem_.free = [](void *block, void *user_data) { pool(user_data).release(block); };
    mem_.calloc = [](size_t count, size_t size, void *user_data) -> void * {
        if (size != 0 && count > SIZE_MAX / size) return nullptr;
        void *block = pool(user_data).allocate(count * size);
        if (block) std::memset(block, 0, count * size);
        return block;
    };
    mem_.realloc = [](void *block, size_t size, void *user_data) {
        return pool(user_data).reallocate(block, size);
    };
}

void *H2MemoryPool::allocate(size_t size) {
    size_t k = class_of(size);
    if (k <= kClasses && free_[k]) {
        Free *block = free_[k];
        free_[k] = block->next;
        spare_bytes_ -= k * kGranule;
        return block;
    }
    if (size > SIZE_MAX - kPrefix - kGranule) return nullptr;
    size_t usable = k <= kClasses ? k * kGranule : size;
    auto *raw = static_cast<unsigned char *>(std::malloc(kPrefix + usable));
    if (!raw) return nullptr;
    void *block = raw + kPrefix;
    prefix_of(block) = k <= kClasses ? k : 0;
    return block;
}

void H2MemoryPool::release(void *block) {
    if (!block) return;
    size_t k = prefix_of(block);
    if (k == 0 || spare_bytes_ + k * kGranule > kMaxSpareBytes) {
        std::free(static_cast<unsigned char *>(block) - kPrefix);
        return;
    }
    auto *spare = static_cast<Free *>(block);
    spare->next = free_[k];
    free_[k] = spare;
    spare_bytes_ += k * kGranule;
}

void *H2MemoryPool::reallocate(void *block, size_t size) {
    if (!block) return allocate(size);
    size_t k = prefix_of(block);
    if (k == 0 && class_of(size) > kClasses) {
        // Too large for a class before and after: malloc's own realloc, which may grow in place.
        if (size > SIZE_MAX - kPrefix) return nullptr;
        auto *raw = static_cast<unsigned char *>(
            std::realloc(static_cast<unsigned char *>(block) - kPrefix, kPrefix + size));
        return raw ? raw + kPrefix : nullptr;
    }
    if (k != 0 && size <= k * kGranule && size > 0) return block;
    void *moved = allocate(size);
    if (!moved) return nullptr;
    // A block of malloc's size (k == 0) is larger than any class, so here the new size bounds
    // the bytes to keep.
    std::memcpy(moved, block, k != 0 ? std::min(size, k * kGranule) : size);
    release(block);
    return moved;
}

} // namespace proxyd
