#include "h2/h2_data_queue.hpp"

#include <algorithm>
#include <cstring>

namespace proxyd {

namespace {
// A response smaller than a record gets a block of its size (not less than this), so a small
// body does not hold a whole record's worth of memory.
constexpr size_t kMinBlockPayload = 1024;
} // namespace

void H2DataQueue::append(std::string_view bytes) {
    size_ += bytes.size();
    while (!bytes.empty()) {
        if (blocks_.empty() || blocks_.back().taken || blocks_.back().end == blocks_.back().capacity) {
            size_t payload = std::clamp(bytes.size(), kMinBlockPayload, kMaxPayload);
            Block block;
            block.capacity = static_cast<uint32_t>(kFrameHeader + payload);
            block.bytes = std::make_unique_for_overwrite<char[]>(block.capacity);
            blocks_.push_back(std::move(block));
        }
        Block &last = blocks_.back();
        size_t n = std::min<size_t>(bytes.size(), last.capacity - last.end);
        std::memcpy(last.bytes.get() + last.end, bytes.data(), n);
        last.end += static_cast<uint32_t>(n);
        bytes.remove_prefix(n);
    }
}

size_t H2DataQueue::next_payload(size_t max) const {
    for (const Block &block : blocks_)
        if (block.begin < block.end) return std::min<size_t>(max, block.end - block.begin);
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
    block.taken = true;
    block.taken_this_round = true;
    block.begin += static_cast<uint32_t>(len);
    size_ -= len;
    if (!in_place) return {payload, len, false};
    std::memcpy(payload - kFrameHeader, header, kFrameHeader);
    return {payload - kFrameHeader, kFrameHeader + len, true};
}

void H2DataQueue::release_sent() {
    auto emptied = [](const Block &b) { return b.taken && b.begin == b.end; };
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
