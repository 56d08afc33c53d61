#include "http/request_line_adapter.hpp"

#include <algorithm>
#include <cstring>
#include <llhttp.h>

namespace proxyd {

namespace {

// The methods llhttp 8.1 parses in an HTTP request line: its HTTP_METHOD_MAP.
bool llhttp_knows(std::string_view method) {
    static constexpr std::string_view kKnown[] = {
#define PROXYD_METHOD_NAME(num, name, string) #string,
        HTTP_METHOD_MAP(PROXYD_METHOD_NAME)
#undef PROXYD_METHOD_NAME
    };
    for (std::string_view known : kKnown)
        if (method == known) return true;
    return false;
}

// Any method llhttp knows would do: for a request it only changes how CONNECT's target is read.
constexpr std::string_view kStandInMethod = "GET";
constexpr std::string_view kHighestMinor = "HTTP/1.1";
constexpr size_t kVersionBytes = 8; // "HTTP/D.D", the only shape the HeadScanner lets through

} // namespace

void RequestLineAdapter::reset() {
    state_ = State::kBeforeMethod;
    method_.clear();
    version_length_ = 0;
    sent_minor_ = 1;
    count_ = 0;
}

void RequestLineAdapter::add_input(const char *data, size_t len) {
    if (len == 0) return;
    // Input next to the previous input piece extends it: usually the whole read is one piece.
    if (count_ > 0) {
        Piece &last = pieces_[count_ - 1];
        if (last.from_input && last.data + last.len == data) {
            last.len += len;
            return;
        }
    }
    pieces_[count_++] = Piece{data, len, true};
}

void RequestLineAdapter::add_held(const char *data, size_t len) {
    pieces_[count_++] = Piece{data, len, false};
}

RequestLineAdapter::Result RequestLineAdapter::adapt(const char *data, size_t len) {
    count_ = 0;
    // Input bytes before `handed` are accounted for: handed on as input pieces, or held here.
    size_t handed = 0;
    size_t i = 0;
    auto hand_on_input_to = [&](size_t end) {
        add_input(data + handed, end - handed);
        handed = end;
    };
    while (i < len && state_ != State::kDone) {
        switch (state_) {
        case State::kBeforeMethod:
            // Empty lines before a request line pass to llhttp, which skips them too.
            if (data[i] == '\r' || data[i] == '\n') {
                ++i;
                break;
            }
            state_ = State::kMethod;
            break;
        case State::kMethod: {
            bool continued = !method_.empty(); // it began in an earlier read, and is held here
            size_t start = i;
            const void *space = std::memchr(data + i, ' ', len - i);
            size_t end = space ? static_cast<size_t>(static_cast<const char *>(space) - data) : len;
            method_.append(data + i, end - i);
            if (method_.size() > kMaxMethodBytes) return Result::kMethodTooLong;
            if (!space) {
                // The method goes on in the next read: hold its bytes until it is complete.
                hand_on_input_to(start);
                handed = len;
                i = len;
                break;
            }
            bool known = llhttp_knows(method_);
            if (continued || !known) {
                // The method's bytes in this input are replaced by the whole method or its stand-in.
                hand_on_input_to(start);
                std::string_view shown = known ? std::string_view(method_) : kStandInMethod;
                add_held(shown.data(), shown.size());
                handed = end;
            }
            state_ = State::kTarget;
            i = end + 1;
            break;
        }
        case State::kTarget: {
            const void *space = std::memchr(data + i, ' ', len - i);
            if (!space) {
                i = len;
                break;
            }
            i = static_cast<size_t>(static_cast<const char *>(space) - data) + 1;
            state_ = State::kVersion;
            break;
        }
        case State::kVersion: {
            size_t held_before = version_length_;
            size_t take = std::min(kVersionBytes - version_length_, len - i);
            std::memcpy(version_ + version_length_, data + i, take);
            version_length_ += take;
            if (version_length_ < kVersionBytes) {
                hand_on_input_to(i);
                handed = len;
                i = len;
                break;
            }
            sent_minor_ = static_cast<uint8_t>(version_[7] - '0');
            bool substitute = version_[5] == '1' && version_[7] > '1';
            if (held_before != 0 || substitute) {
                hand_on_input_to(i);
                add_held(substitute ? kHighestMinor.data() : version_, kVersionBytes);
                handed = i + take;
            }
            if (version_[5] != '1') sent_minor_ = 1; // another major: refused (505) after llhttp
            i += take;
            state_ = State::kDone;
            break;
        }
        case State::kDone:
            break;
        }
    }
    hand_on_input_to(len);
    return Result::kOk;
}

} // namespace proxyd
