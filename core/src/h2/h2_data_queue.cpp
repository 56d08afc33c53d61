#include "h2/h2_data_queue.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace proxyd {

H2DataQueue::Block &H2DataQueue::open_block(size_t want, size_t min_free) {
    if (!blocks_.empty()) {
        Block &last = blocks_.back();
        if (!last.sealed && last.capacity - last.end >= min_free) return last;
    }
    size_t payload = std::clamp(want, kMinBlockPayload, kBlockPayload);
    Block &block = blocks_.emplace_back();
    block.capacity = static_cast<uint32_t>(kFrameHeader + payload);
    block.bytes = std::make_unique_for_overwrite<char[]>(block.capacity);
    return block;
}

bool H2DataQueue::in_reserved_space(std::string_view bytes) const {
    if (blocks_.empty()) return false;
    const Block &last = blocks_.back();
    const char *base = last.bytes.get();
    // Compared as addresses: bytes from anywhere else are no part of the block.
    auto at = reinterpret_cast<uintptr_t>(bytes.data());
    return last.reserved && !last.sealed && at >= reinterpret_cast<uintptr_t>(base + last.end) &&
           at + bytes.size() <= reinterpret_cast<uintptr_t>(base + last.capacity);
}

std::span<char> H2DataQueue::reserve(size_t hint) {
    // A read into a few bytes left at a block's end would cost a system call for little.
    Block &block = open_block(hint, std::clamp<size_t>(hint, 1, kMinBlockPayload));
    block.reserved = true;
    return {block.bytes.get() + block.end, block.bytes.get() + block.capacity};
}

void H2DataQueue::unreserve() {
    if (blocks_.empty() || !blocks_.back().reserved) return;
    Block &last = blocks_.back();
    last.reserved = false;
    // Empty (it took nothing, or its frames all left in a round already written): freed now. The
    // stream's next round, which would free it, may be long in coming (an event stream's next
    // event); a round written inside the producer's send emptied it before this call.
    if (last.begin != last.end || last.taken_this_round) return;
    blocks_.pop_back();
    if (blocks_.empty()) blocks_.shrink_to_fit();
}

void H2DataQueue::append(std::string_view bytes) {
    size_ += bytes.size();
    if (in_reserved_space(bytes)) {
        // Read into the block: moved down onto the end when something else was read before it
        // (the bytes of a response head, a chunk's size line).
        Block &last = blocks_.back();
        char *end = last.bytes.get() + last.end;
        if (bytes.data() != end) std::memmove(end, bytes.data(), bytes.size());
        last.end += static_cast<uint32_t>(bytes.size());
        return;
    }
    while (!bytes.empty()) {
        // Reserved space may hold bytes read and not yet appended: never written over.
        if (!blocks_.empty() && blocks_.back().reserved) blocks_.back().sealed = true;
        Block &last = open_block(bytes.size(), 1);
        size_t n = std::min<size_t>(bytes.size(), last.capacity - last.end);
        std::memcpy(last.bytes.get() + last.end, bytes.data(), n);
        last.end += static_cast<uint32_t>(n);
        bytes.remove_prefix(n);
    }
}

void H2DataQueue::append_file(int fd, uint64_t offset, uint64_t length) {
    // One file at a time (the session never queues two); an empty one is done with at once.
    file_ = FileTail{UniqueFd(fd), offset, length};
    if (length == 0) file_.fd.reset();
}

int H2DataQueue::fill() {
    if (!file_.fd.valid() || size_ > 0) return 0;
    // A block of whole frames: the last frame of a read is not cut short by the block's end.
    std::span<char> space = reserve(static_cast<size_t>(std::min<uint64_t>(file_.remaining, kBlockPayload)));
    size_t want = static_cast<size_t>(std::min<uint64_t>(file_.remaining, space.size()));
    ssize_t n;
    do {
        n = ::pread(file_.fd.get(), space.data(), want, static_cast<off_t>(file_.offset));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n < 0 ? errno : ENODATA;
    file_.offset += static_cast<uint64_t>(n);
    file_.remaining -= static_cast<uint64_t>(n);
    if (file_.remaining == 0) file_.fd.reset();
    append({space.data(), static_cast<size_t>(n)});
    unreserve(); // the read is done: the block is freed as soon as its frames left
    return 0;
}

size_t H2DataQueue::next_payload(size_t max) const {
    for (const Block &block : blocks_)
        if (block.begin < block.end) return std::min({max, kMaxPayload, size_t{block.end - block.begin}});
    return 0;
}

H2DataQueue::Frame H2DataQueue::take_frame(const uint8_t *header, size_t len) {
    auto it = std::find_if(blocks_.begin(), blocks_.end(), [](const Block &b) { return b.begin < b.end; });
    if (it == blocks_.end() || len == 0) return {nullptr, 0, false};
    Block &block = *it;
    char *payload = block.bytes.get() + block.begin;
    // In front of the payload lies either the block's free header room or the tail of a frame
    // taken earlier; that one was written unless it was taken in this very round.
    bool in_place = block.begin == kFrameHeader || !block.taken_this_round;
    block.sealed = true;
    block.taken_this_round = true;
    block.begin += static_cast<uint32_t>(len);
    size_ -= len;
    if (!in_place) return {payload, len, false};
    std::memcpy(payload - kFrameHeader, header, kFrameHeader);
    return {payload - kFrameHeader, kFrameHeader + len, true};
}

void H2DataQueue::release_sent() {
    // The last block's reserved space stays while the producer has not said its read is done
    // (unreserve): a read may still be under way into it. A producer sends one read's bytes in
    // one piece and then gives the space back; bytes appended from it after a round are copied
    // out of it (never taken in place), which is safe only while it stays reserved.
    const Block *keep = !blocks_.empty() && blocks_.back().reserved ? &blocks_.back() : nullptr;
    auto emptied = [keep](const Block &b) { return b.sealed && b.begin == b.end && &b != keep; };
    blocks_.erase(std::remove_if(blocks_.begin(), blocks_.end(), emptied), blocks_.end());
    for (Block &block : blocks_)
        block.taken_this_round = false;
    if (blocks_.empty()) blocks_.shrink_to_fit();
}

size_t H2DataQueue::capacity() const {
    size_t bytes = blocks_.capacity() * sizeof(Block);
    for (const Block &block : blocks_)
        bytes += block.capacity;
    return bytes;
}

} // namespace proxyd
