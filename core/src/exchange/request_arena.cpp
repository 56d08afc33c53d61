#include "exchange/request_arena.hpp"

namespace proxyd {

void *RequestArena::allocate(size_t size) {
    size_t units = (size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
    blocks_.push_back(std::make_unique<std::max_align_t[]>(units ? units : 1));
    return blocks_.back().get();
}

} // namespace proxyd
