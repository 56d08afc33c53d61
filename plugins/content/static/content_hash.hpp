// Content-hash entity tags for the static plugin (etag = "content-hash"): a 64-bit FNV-1a hash of
// the file's bytes, remembered per worker so a file is read once per version, not per request.
#ifndef PROXYD_PLUGINS_CONTENT_HASH_HPP
#define PROXYD_PLUGINS_CONTENT_HASH_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unordered_map>

namespace proxyd::static_files {

// FNV-1a over the whole of fd, read with pread from offset 0 up to size bytes. nullopt when a
// read fails or the file is shorter than size (it changed under us). Blocks on the reads.
std::optional<uint64_t> hash_file(int fd, uint64_t size);

// "\"h-0123456789abcdef\"": the tag for a hash (the "h-" keeps it apart from mtime-size tags).
std::string format_hash_etag(uint64_t hash);

// A worker's memory of file hashes, keyed by what identifies one version of a file: device,
// inode, size, and mtime and ctime to the nanosecond. One per worker thread: no lock.
class HashCache {
  public:
    std::optional<uint64_t> find(const struct stat &st) const;
    void store(const struct stat &st, uint64_t hash);
    size_t size() const { return entries_.size(); }

    // Forgets everything once this many versions are remembered: a bound on memory with no
    // eviction bookkeeping, at the price of re-reading hot files now and then.
    static constexpr size_t kMaxEntries = 4096;

  private:
    struct Key {
        uint64_t device, inode, size;
        int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
        bool operator==(const Key &) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key &k) const;
    };
    static Key key_of(const struct stat &st);
    std::unordered_map<Key, uint64_t, KeyHash> entries_;
};

} // namespace proxyd::static_files

#endif
