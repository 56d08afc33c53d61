// One HTTP/2 stream's response bytes waiting for the client's windows, laid out for the DATA
// frames that will carry them: each block keeps the 9 bytes of a frame header free in front of
// its payload, and a frame's header goes right in front of its payload, so a whole frame leaves
// as one span (one iovec in cleartext; one TLS record, encrypted where it lies, over TLS). The
// bytes are copied once, into the block, and never again on their way to the socket; a producer
// that reads them (a socket, a file) reads straight into a block's free space (reserve()), and
// then they are not copied at all. A file's bytes can be queued by reference (append_file()):
// each block of them is read when a frame first needs it (fill()), so that they are encrypted
// while the read left them in cache, and a stream waiting for its turn holds no copy of them.
//
// A frame carries at most kMaxPayload bytes, so that with its header it is exactly one TLS record;
// a block holds up to four such frames, so that one read (a socket's, a file's) fills 64 KiB as
// the worker's own buffer would: a socket read in record-sized pieces costs more system calls
// and, on loopback, the sending peer's work done in the reader's. The header of a block's second
// and later frames lands on the last 9 bytes of the frame before: in place at once when that
// frame was written in an earlier round, else only once the output took that one (take_frame()
// says which). Once a frame was taken from a block, nothing is appended to it. Blocks whose bytes
// all left are freed by release_sent(), after the round that borrowed them was written.
//
// Owned by the session's stream; session thread only. A queue moved from is only destroyed or
// assigned to (its counters are left as they were).
#pragma once

#include "net/unique_fd.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace proxyd {

class H2DataQueue {
  public:
    static constexpr size_t kFrameHeader = 9;
    static constexpr size_t kRecordBytes = 16 * 1024; // the most one TLS record carries
    static constexpr size_t kMaxPayload = kRecordBytes - kFrameHeader;
    static constexpr size_t kBlockPayload = 4 * kMaxPayload;
    // A response smaller than a record gets a block of its size (not less than this), so a small
    // body does not hold a whole record's worth of memory.
    static constexpr size_t kMinBlockPayload = 1024;

    // Copies bytes in behind those queued; bytes that lie in the space reserve() handed out are
    // taken where they lie (moved down, at most, over what was read there and not appended).
    void append(std::string_view bytes);
    // Free space at the end of the queue, about hint bytes (at least kMinBlockPayload, at most a
    // block's payload), to read bytes into before append() takes them. Other appends never
    // write into it: bytes appended from it after them are copied instead of taken in place.
    // Valid until the next reserve(); bytes appended from it once a frame was taken from its
    // block are copied (the block takes no more).
    std::span<char> reserve(size_t hint);
    // The read into the space reserve() handed out is done, every byte of it appended: the rest
    // of it is free for other appends again, and the block is freed if nothing is left in it to
    // take (its frames all written). Later blocks emptied by their frames are freed by
    // release_sent(), no longer keeping the last one for a read that might be under way into it.
    void unreserve();
    // length bytes of the file fd from offset, behind the bytes queued, read only as frames need
    // them (fill()). The queue owns fd from here: it closes it after the last read, or when it is
    // destroyed. Nothing is appended behind a file (H2Session::send_data refuses it).
    void append_file(int fd, uint64_t offset, uint64_t length);
    bool reads_file() const { return file_.fd.valid(); }
    // When every byte read before was taken into frames and the file has more: its next block's
    // worth (four frames' payload) read into a new block. Returns 0, or why the read failed: an
    // errno value, or ENODATA when the file ended before the length given.
    int fill();
    // Bytes queued and not yet taken into a frame (those of a file not yet read included).
    size_t size() const { return size_ + file_.remaining; }
    // What the next frame can carry, at most max and kMaxPayload: the untaken bytes of the first
    // block that has any (a frame never spans two blocks).
    size_t next_payload(size_t max) const;

    // The next frame's payload (len bytes, at most next_payload()) leaves the queue. Returns the
    // frame: the header, copied in front of the payload, and the payload, one contiguous span;
    // or, when the header cannot go there yet (the frame before it, taken in this round, ends
    // there), the payload alone, with header_in_place false: the 9 bytes before it are free
    // once that frame was written. Valid until release_sent().
    struct Frame {
        char *data;
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
        // Closed to appends: a frame came from it, or bytes from elsewhere were appended past its
        // reserved space (reserve()).
        bool sealed = false;
        bool taken_this_round = false; // a frame came from it that may not be written yet
        bool reserved = false;         // its free space was handed out (reserve())
    };
    // Appends go into the last block while it has at least min_free bytes free, else into a new
    // one of about want bytes' payload.
    Block &open_block(size_t want, size_t min_free);
    // Where bytes lie in the reserved free space of the last block, at or after its end.
    bool in_reserved_space(std::string_view bytes) const;
    std::vector<Block> blocks_;
    size_t size_ = 0; // in blocks_, not yet taken
    struct FileTail {
        UniqueFd fd;
        uint64_t offset = 0;
        uint64_t remaining = 0; // not yet read
    };
    FileTail file_;
};

// closed_queues_ and the stream map move queues: a throwing move would lose a descriptor.
static_assert(std::is_nothrow_move_constructible_v<H2DataQueue> &&
              std::is_nothrow_move_assignable_v<H2DataQueue>);

} // namespace proxyd
