#include "http/field_kind.hpp"

#include <bit>
#include <cstring>

namespace proxyd {

namespace {

// A lower-case field name compared with a name of the same length a word at a time: each byte of
// the name is ORed with 0x20 where the literal holds a letter (either case then matches) and
// left as it is elsewhere (it must match exactly), so the result is ASCII case-insensitive
// equality. Words overlap to cover the length: bytes 0-7, 8-15 and the last 8 for up to 24
// bytes; 4-byte words below 8; 2-byte words below 4.
class FoldedName {
  public:
    consteval explicit FoldedName(std::string_view lower)
        : width_(lower.size() >= 8   ? 8
                 : lower.size() >= 4 ? 4
                                     : 2),
          words_(lower.size() > 16       ? 3
                 : lower.size() > width_ ? 2
                                         : 1) {
        size_t offsets[3] = {0, words_ == 3 ? 8 : lower.size() - width_, lower.size() - width_};
        for (size_t w = 0; w < words_; ++w) {
            offset_[w] = offsets[w];
            for (size_t i = 0; i < width_; ++i) {
                char c = lower[offsets[w] + i];
                size_t shift = std::endian::native == std::endian::little ? 8 * i : 8 * (width_ - 1 - i);
                bits_[w] |= static_cast<uint64_t>(static_cast<unsigned char>(c)) << shift;
                if (c >= 'a' && c <= 'z') fold_[w] |= uint64_t{0x20} << shift;
            }
        }
    }

    // p points at size() bytes.
    bool matches(const char *p) const {
        for (size_t w = 0; w < words_; ++w)
            if ((load(p + offset_[w]) | fold_[w]) != bits_[w]) return false;
        return true;
    }

  private:
    uint64_t load(const char *p) const {
        if (width_ == 8) {
            uint64_t v;
            std::memcpy(&v, p, 8);
            return v;
        }
        if (width_ == 4) {
            uint32_t v;
            std::memcpy(&v, p, 4);
            return v;
        }
        uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
    }

    size_t width_;
    size_t words_;
    size_t offset_[3] = {};
    uint64_t bits_[3] = {};
    uint64_t fold_[3] = {};
};

constexpr FoldedName kTeName("te");
constexpr FoldedName kViaName("via");
constexpr FoldedName kHostName("host");
constexpr FoldedName kExpectName("expect");
constexpr FoldedName kTrailerName("trailer");
constexpr FoldedName kUpgradeName("upgrade");
constexpr FoldedName kForwardedName("forwarded");
constexpr FoldedName kConnectionName("connection");
constexpr FoldedName kKeepAliveName("keep-alive");
constexpr FoldedName kXRequestIdName("x-request-id");
constexpr FoldedName kContentLengthName("content-length");
constexpr FoldedName kXForwardedForName("x-forwarded-for");
constexpr FoldedName kProxyConnectionName("proxy-connection");
constexpr FoldedName kXForwardedHostName("x-forwarded-host");
constexpr FoldedName kTransferEncodingName("transfer-encoding");
constexpr FoldedName kXForwardedProtoName("x-forwarded-proto");

} // namespace

// The length and one distinguishing letter pick the single name worth comparing.
FieldKind classify_field(std::string_view name) {
    auto is = [](bool match, FieldKind kind) { return match ? kind : FieldKind::kOther; };
    if (name.size() < 2) return FieldKind::kOther;
    char first = static_cast<char>(name[0] | 0x20); // only compared with letters
    switch (name.size()) {
    case 2:
        return is(kTeName.matches(name.data()), FieldKind::kTe);
    case 3:
        return is(kViaName.matches(name.data()), FieldKind::kVia);
    case 4:
        return is(kHostName.matches(name.data()), FieldKind::kHost);
    case 6:
        return is(kExpectName.matches(name.data()), FieldKind::kExpect);
    case 7:
        if (first == 't') return is(kTrailerName.matches(name.data()), FieldKind::kTrailer);
        if (first == 'u') return is(kUpgradeName.matches(name.data()), FieldKind::kUpgrade);
        return FieldKind::kOther;
    case 9:
        return is(kForwardedName.matches(name.data()), FieldKind::kForwarded);
    case 10:
        if (first == 'c') return is(kConnectionName.matches(name.data()), FieldKind::kConnection);
        if (first == 'k') return is(kKeepAliveName.matches(name.data()), FieldKind::kKeepAlive);
        return FieldKind::kOther;
    case 12:
        return is(kXRequestIdName.matches(name.data()), FieldKind::kXRequestId);
    case 14:
        return is(kContentLengthName.matches(name.data()), FieldKind::kContentLength);
    case 15:
        return is(kXForwardedForName.matches(name.data()), FieldKind::kXForwardedFor);
    case 16:
        if (first == 'p') return is(kProxyConnectionName.matches(name.data()), FieldKind::kProxyConnection);
        if (first == 'x') return is(kXForwardedHostName.matches(name.data()), FieldKind::kXForwardedHost);
        return FieldKind::kOther;
    case 17:
        if (first == 't') return is(kTransferEncodingName.matches(name.data()), FieldKind::kTransferEncoding);
        if (first == 'x') return is(kXForwardedProtoName.matches(name.data()), FieldKind::kXForwardedProto);
        return FieldKind::kOther;
    default:
        return FieldKind::kOther;
    }
}

} // namespace proxyd
