#include "multipart_byteranges.hpp"

namespace proxyd::static_files {

MultipartFrame frame_byteranges(std::span<const ByteRange> ranges, uint64_t size, std::string_view part_type,
                                std::string_view part_encoding, std::string_view boundary) {
    MultipartFrame frame;
    frame.content_type.append("multipart/byteranges; boundary=").append(boundary);
    frame.part_heads.reserve(ranges.size());
    for (const ByteRange &range : ranges) {
        std::string head;
        // The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1); the body
        // starts with the first delimiter itself, with no preamble.
        if (!frame.part_heads.empty()) head.append("\r\n");
        head.append("--").append(boundary).append("\r\n");
        head.append("Content-Type: ").append(part_type).append("\r\n");
        if (!part_encoding.empty()) head.append("Content-Encoding: ").append(part_encoding).append("\r\n");
        head.append("Content-Range: ").append(format_content_range(range, size)).append("\r\n\r\n");
        frame.content_length += head.size() + range.length;
        frame.part_heads.push_back(std::move(head));
    }
    frame.closing.append("\r\n--").append(boundary).append("--\r\n");
    frame.content_length += frame.closing.size();
    return frame;
}

BoundarySource::BoundarySource() {
    std::random_device seed;
    std::seed_seq sequence{seed(), seed(), seed(), seed()};
    random_.seed(sequence);
}

std::string BoundarySource::next() {
    std::uniform_int_distribution<int> digit(0, 9);
    std::string boundary(20, '0');
    for (char &c : boundary)
        c = static_cast<char>('0' + digit(random_));
    return boundary;
}

} // namespace proxyd::static_files
