// The CRLF that must follow each chunk's data (RFC 9112 §7.1). llhttp 8.1 takes any two bytes
// there ("3\r\nabcXY" passes), so a chunked body it reads one way another parser reads another:
// the raw material of request smuggling, and of a backend desynchronising the proxy. This checks
// those two bytes in the input llhttp is given, across reads. Header-only: both the request
// parser and the response side use it from their llhttp callbacks.
#pragma once

#include <cstdint>

namespace proxyd {

class ChunkTerminator {
  public:
    // Before each llhttp_execute(): the input about to be parsed. False when the CRLF that began
    // in the previous input goes on wrong here.
    bool begin_input(const char *data, const char *end) {
        input_end_ = end;
        return check(data);
    }
    // From on_chunk_header: the size of the chunk whose data follows (0 for the last chunk).
    void chunk_header(uint64_t size) { left_ = size; }
    // From on_body of a chunked message: false when the chunk's data ended and the bytes after
    // it (as far as this input goes) are not CRLF.
    bool body(const char *at, uint64_t len) {
        if (left_ == 0) return true;
        left_ = len >= left_ ? 0 : left_ - len;
        if (left_ != 0) return true;
        seen_ = 0;
        return check(at + len);
    }
    // A CRLF is still owed (for error messages).
    bool owed() const { return seen_ < 2; }
    void reset() {
        left_ = 0;
        seen_ = 2;
    }

  private:
    bool check(const char *pos) {
        while (seen_ < 2 && pos < input_end_) {
            if (*pos != (seen_ == 0 ? '\r' : '\n')) return false;
            ++seen_;
            ++pos;
        }
        return true;
    }

    uint64_t left_ = 0;               // data bytes of the current chunk not yet seen
    const char *input_end_ = nullptr; // the end of the input llhttp is parsing
    uint8_t seen_ = 2;                // bytes of the owed CRLF checked (2: none owed)
};

} // namespace proxyd
