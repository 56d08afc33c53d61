// One HTTP/2 stream's response bytes waiting for the client's windows, laid out as the DATA
// frames that will carry them: each block keeps the 9 bytes of a frame header free in front of
// its payload, so the session writes the header in place and a whole frame leaves as one buffer
// (one iovec in cleartext; one TLS record, encrypted where it lies, over TLS). The bytes are
// copied once, into the block, and never again on their way to the socket.
//
// A block holds at most one TLS record's plaintext (header and payload), so a full frame is
// exactly one record. Once a frame was taken from a block, nothing is appended to it: the next
// frame's header could otherwise land on the tail of a frame not yet written. Blocks whose bytes
// all left are freed by release_sent(), after the round that borrowed them was written.
//
// Owned by the session's stream; session thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace proxyd {

class H2DataQueue {
  public:
    static constexpr size_t kFrameHeader = 9;
    static constexpr size_t kBlockBytes = 16 * 1024; // the most one TLS record carries
    static constexpr size_t kMaxPayload = kBlockBytes - kFrameHeader;

    // Copies bytes in behind those queued.
    void append(std::string_view bytes);
    // Bytes queued and not yet taken into a frame.
    size_t size() const { return size_; }
    // What the next frame can carry, at most max: the untaken bytes of the first block that has
    // any (a frame never spans two blocks).
    size_t next_payload(size_t max) const;

    // The next frame's payload (len bytes, at most next_payload()) leaves the queue. Returns the
    // frame: the header, copied in front of the payload, and the payload, one contiguous span;
    // or, when the header cannot go there (a frame of this round lies before it), the payload
    // alone, with header_in_place false. Valid until release_sent().
    struct Frame {
        const char *data;
        size_t len;
        bool header_in_place;
    };
    Frame take_frame(const uint8_t *header, size_t len);
    // The frames taken so far were written: blocks emptied by them are freed.
    void release_sent();
    // Heap bytes held (blocks and their list).
    size_t capacity() const;

  private:
    struct Block {
        std::unique_ptr<char[]> bytes; // [0, kFrameHeader) the first frame's header, then payload
        uint32_t capacity = 0;
        uint32_t begin = kFrameHeader; // the first byte not yet taken
        uint32_t end = kFrameHeader;   // the end of the bytes appended
        bool taken = false;            // a frame came from it: closed to appends
        bool taken_this_round = false; // ... and that frame may not be written yet
    };
    std::vector<Block> blocks_;
    size_t size_ = 0;
};

} // namespace proxyd
