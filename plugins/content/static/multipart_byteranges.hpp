// The multipart/byteranges body of a 206 with several ranges (RFC 9110 §14.6): the text around
// each part, built before anything is sent so that the response's Content-Length is known (for
// keep-alive, and HTTP/2's content-length) while the parts' bytes stay in the file.
#ifndef PROXYD_PLUGINS_MULTIPART_BYTERANGES_HPP
#define PROXYD_PLUGINS_MULTIPART_BYTERANGES_HPP

#include "byte_ranges.hpp"

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace proxyd::static_files {

struct MultipartFrame {
    std::string content_type;            // "multipart/byteranges; boundary=..."
    std::vector<std::string> part_heads; // sent before part i: delimiter and the part's fields
    std::string closing;                 // sent after the last part: the close-delimiter
    uint64_t content_length = 0;         // the whole body: frame text and the parts' bytes
};

// Frames ranges of a representation of size bytes whose type is part_type (and, for a
// precompressed sibling, whose coding is part_encoding; empty for none). Each part carries its
// own Content-Type and Content-Range, and Content-Encoding when given: the coding belongs to the
// bytes of each part, not to the multipart body, so it is not a field of the response itself.
MultipartFrame frame_byteranges(std::span<const ByteRange> ranges, uint64_t size, std::string_view part_type,
                                std::string_view part_encoding, std::string_view boundary);

// Boundaries of one worker: 20 random decimal digits per response, so a file's bytes do not hold
// the delimiter by chance (RFC 2046 §5.1.1 asks for a boundary not found in the parts) and one
// response's boundary does not tell the next one's. Not for secrets: the generator is not
// cryptographic. Worker-thread state, no lock.
class BoundarySource {
  public:
    BoundarySource();
    std::string next();

  private:
    std::mt19937_64 random_;
};

} // namespace proxyd::static_files

#endif
