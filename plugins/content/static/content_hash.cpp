#include "content_hash.hpp"

#include <cerrno>
#include <cstdio>
#include <unistd.h>
#include <vector>

namespace proxyd::static_files {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

} // namespace

std::optional<uint64_t> hash_file(int fd, uint64_t size) {
    std::vector<unsigned char> buffer(64 * 1024);
    uint64_t hash = kFnvOffset;
    uint64_t offset = 0;
    while (offset < size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - offset));
        ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        for (ssize_t i = 0; i < n; ++i) {
            hash ^= buffer[static_cast<size_t>(i)];
            hash *= kFnvPrime;
        }
        offset += static_cast<uint64_t>(n);
    }
    return hash;
}

std::string format_hash_etag(uint64_t hash) {
    char buffer[32];
    int n = std::snprintf(buffer, sizeof buffer, "\"h-%016llx\"", static_cast<unsigned long long>(hash));
    return std::string(buffer, static_cast<size_t>(n));
}

HashCache::Key HashCache::key_of(const struct stat &st) {
    return Key{static_cast<uint64_t>(st.st_dev),
               static_cast<uint64_t>(st.st_ino),
               static_cast<uint64_t>(st.st_size),
               st.st_mtim.tv_sec,
               st.st_mtim.tv_nsec,
               st.st_ctim.tv_sec,
               st.st_ctim.tv_nsec};
}

size_t HashCache::KeyHash::operator()(const Key &k) const {
    uint64_t h = kFnvOffset;
    for (uint64_t part : {k.device, k.inode, k.size, static_cast<uint64_t>(k.mtime_sec),
                          static_cast<uint64_t>(k.mtime_nsec), static_cast<uint64_t>(k.ctime_nsec)}) {
        h ^= part;
        h *= kFnvPrime;
    }
    return static_cast<size_t>(h);
}

std::optional<uint64_t> HashCache::find(const struct stat &st) const {
    auto it = entries_.find(key_of(st));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

void HashCache::store(const struct stat &st, uint64_t hash) {
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key_of(st)] = hash;
}

} // namespace proxyd::static_files
