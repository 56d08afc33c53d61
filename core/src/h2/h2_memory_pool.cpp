#include "h2/h2_memory_pool.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <malloc.h>
#include <sanitizer/asan_interface.h>

namespace proxyd {
namespace {

constexpr size_t kHeader = 8; // glibc's chunk header: a chunk's usable size is 16 n + 8

constexpr size_t bytes_of(size_t k) { return k * H2MemoryPool::kGranule + kHeader; }
constexpr size_t kLargest = bytes_of(H2MemoryPool::kClasses);

// The smallest class that holds size bytes (size at most kLargest).
size_t class_for(size_t size) {
    return size <= bytes_of(1) ? 1 : (size - kHeader + H2MemoryPool::kGranule - 1) / H2MemoryPool::kGranule;
}

// The largest class a block fits in, from what malloc says it holds (at least what was asked
// for: another malloc may say more, never less); 0 for a block beyond the classes.
size_t class_of(void *block) {
    size_t usable = malloc_usable_size(block);
    return usable > kLargest ? 0 : (usable - kHeader) / H2MemoryPool::kGranule;
}

H2MemoryPool &pool(void *user_data) { return *static_cast<H2MemoryPool *>(user_data); }

} // namespace

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

H2MemoryPool::~H2MemoryPool() {
    for (size_t k = 0; k < std::size(free_); ++k)
        while (Free *head = free_[k]) {
            ASAN_UNPOISON_MEMORY_REGION(head, bytes_of(k));
            free_[k] = head->next;
            std::free(head);
        }
}

void *H2MemoryPool::allocate(size_t size) {
    if (size > kLargest) return std::malloc(size);
    size_t k = class_for(size);
    if (Free *block = free_[k]) {
        ASAN_UNPOISON_MEMORY_REGION(block, bytes_of(k));
        free_[k] = block->next;
        spare_bytes_ -= bytes_of(k);
        return block;
    }
    return std::malloc(bytes_of(k));
}

void H2MemoryPool::release(void *block) {
    if (!block) return;
    size_t k = class_of(block);
    if (k == 0 || spare_bytes_ + bytes_of(k) > kMaxSpareBytes) {
        std::free(block);
        return;
    }
    auto *spare = static_cast<Free *>(block);
    spare->next = free_[k];
    free_[k] = spare;
    spare_bytes_ += bytes_of(k);
    // Under ASan a spare stays poisoned until handed out again, so nghttp2 touching a block it
    // freed is still reported as it would be without the pool (a no-op in other builds).
    ASAN_POISON_MEMORY_REGION(block, bytes_of(k));
}

void *H2MemoryPool::reallocate(void *block, size_t size) {
    if (!block) return allocate(size);
    size_t k = class_of(block);
    // Beyond the classes before and after: malloc's own realloc, which may grow in place.
    if (k == 0 && size > kLargest) return std::realloc(block, size);
    if (k != 0 && size != 0 && size <= bytes_of(k)) return block;
    void *moved = allocate(size);
    if (!moved) return nullptr;
    // A block beyond the classes holds more than kLargest, so the new size bounds what to keep.
    std::memcpy(moved, block, k != 0 ? std::min(size, bytes_of(k)) : size);
    release(block);
    return moved;
}

} // namespace proxyd
