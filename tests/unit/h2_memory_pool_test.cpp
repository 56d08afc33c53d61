// H2MemoryPool: nghttp2's blocks by size class, reused, bounded, and malloc's contracts kept.
#include "h2/h2_memory_pool.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace proxyd;

TEST_CASE("h2 memory pool: a freed small block is the next one of its class", "[h2]") {
    H2MemoryPool pool;
    void *a = pool.allocate(100);
    REQUIRE(a != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(a) % alignof(std::max_align_t) == 0);
    std::memset(a, 0xab, 100);
    pool.release(a);
    CHECK(pool.spare_bytes() == 104); // malloc's chunk size for 100 bytes: 16 n + 8
    CHECK(pool.allocate(97) == a);    // the same class
    CHECK(pool.spare_bytes() == 0);
    void *other = pool.allocate(100); // the list is empty: a fresh block
    CHECK(other != a);
    pool.release(a);
    pool.release(other);
    pool.release(nullptr);
    CHECK(pool.spare_bytes() == 208);
}

TEST_CASE("h2 memory pool: large blocks go back to malloc, spares stay bounded", "[h2]") {
    H2MemoryPool pool;
    void *large = pool.allocate(4096);
    REQUIRE(large != nullptr);
    std::memset(large, 1, 4096);
    pool.release(large);
    CHECK(pool.spare_bytes() == 0);

    const size_t n = H2MemoryPool::kMaxSpareBytes / 1024 + 10;
    std::vector<void *> blocks;
    for (size_t i = 0; i < n; ++i)
        blocks.push_back(pool.allocate(1024));
    for (void *b : blocks)
        pool.release(b);
    CHECK(pool.spare_bytes() <= H2MemoryPool::kMaxSpareBytes);
    CHECK(pool.spare_bytes() > H2MemoryPool::kMaxSpareBytes - 1032);
}

TEST_CASE("h2 memory pool: realloc keeps the bytes across classes and to and from large", "[h2]") {
    H2MemoryPool pool;
    std::string text(40, 'x');
    for (size_t i = 0; i < text.size(); ++i)
        text[i] = static_cast<char>('a' + i % 26);
    auto *p = static_cast<char *>(pool.reallocate(nullptr, 45));
    std::memcpy(p, text.data(), 40);
    CHECK(pool.reallocate(p, 56) == p); // still within its 56-byte class
    p = static_cast<char *>(pool.reallocate(p, 3000));
    CHECK(std::string(p, 40) == text);
    std::memset(p + 40, 'y', 2960);
    p = static_cast<char *>(pool.reallocate(p, 9000)); // large to large
    CHECK(std::string(p, 40) == text);
    CHECK(p[2999] == 'y');
    p = static_cast<char *>(pool.reallocate(p, 50)); // back into a class
    CHECK(std::string(p, 40) == text);
    pool.release(p);
}

TEST_CASE("h2 memory pool: nghttp2's hooks allocate from the pool, calloc zeroed", "[h2]") {
    H2MemoryPool pool;
    nghttp2_mem *mem = pool.mem();
    void *a = mem->malloc(200, mem->mem_user_data);
    std::memset(a, 0xff, 200);
    mem->free(a, mem->mem_user_data);
    auto *z = static_cast<unsigned char *>(mem->calloc(10, 20, mem->mem_user_data));
    CHECK(static_cast<void *>(z) == a);
    for (size_t i = 0; i < 200; ++i)
        REQUIRE(z[i] == 0);
    CHECK(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data) == nullptr);
    mem->free(mem->realloc(z, 500, mem->mem_user_data), mem->mem_user_data);
}
