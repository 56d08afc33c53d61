#include "http/head_scanner.hpp"

#include "http/byte_classes.hpp"

namespace proxyd {

namespace {

// "HTTP/" DIGIT "." DIGIT; 'D' stands for any digit.
constexpr std::string_view kVersionShape = "HTTP/D.D";

} // namespace

void HeadScanner::reset() {
    state_ = State::kBeforeRequest;
    after_cr_ = false;
    part_length_ = 0;
    used_ = 0;
    reason_ = "";
}

HeadScanner::Verdict HeadScanner::refuse(const char *why) {
    reason_ = why;
    return Verdict::kRefused;
}

HeadScanner::Verdict HeadScanner::scan(std::string_view data) {
    used_ = 0;
    if (state_ == State::kDone) return Verdict::kHeadEnd;
    for (size_t i = 0; i < data.size(); ++i) {
        // Most bytes of a head are the middle of a target, a field name or a field value, where
        // nothing changes but the position: skip those runs before the byte-by-byte grammar.
        if (!after_cr_) {
            size_t run = i;
            switch (state_) {
            case State::kTarget:
                while (run < data.size() && byte_is(data[run], kTargetByte))
                    ++run;
                part_length_ += run - i;
                break;
            case State::kFieldName:
                while (run < data.size() && byte_is(data[run], kTokenByte))
                    ++run;
                break;
            case State::kFieldValue:
                while (run < data.size() && byte_is(data[run], kFieldValueByte))
                    ++run;
                break;
            default:
                break;
            }
            i = run;
            if (i == data.size()) break;
        }
        used_ = i;
        auto ch = static_cast<unsigned char>(data[i]);
        bool line_end = false;
        if (after_cr_) {
            if (ch != '\n') return refuse("CR not followed by LF");
            after_cr_ = false;
            line_end = true;
        } else if (ch == '\r') {
            after_cr_ = true;
            continue;
        } else if (ch == '\n') {
            if (!allow_bare_lf_) return refuse("LF without CR");
            line_end = true;
        }
        if (line_end) {
            switch (state_) {
            case State::kBeforeRequest:
                break;
            case State::kMethod:
            case State::kTarget:
                return refuse("request line without an HTTP version");
            case State::kVersion:
                if (part_length_ != kVersionShape.size()) return refuse("malformed HTTP version");
                state_ = State::kFieldStart;
                break;
            case State::kFieldStart:
                state_ = State::kDone;
                used_ = i + 1;
                return Verdict::kHeadEnd;
            case State::kFieldName:
                return refuse("header line without a colon");
            case State::kFieldValue:
                state_ = State::kFieldStart;
                break;
            case State::kDone:
                break;
            }
            continue;
        }
        switch (state_) {
        case State::kBeforeRequest:
            state_ = State::kMethod;
            part_length_ = 0;
            [[fallthrough]];
        case State::kMethod:
            if (ch == ' ' && part_length_ > 0) {
                state_ = State::kTarget;
                part_length_ = 0;
            } else if (byte_is(static_cast<char>(ch), kTokenByte)) {
                ++part_length_;
            } else {
                return refuse("invalid byte in the method");
            }
            break;
        case State::kTarget:
            if (ch == ' ' && part_length_ > 0) {
                state_ = State::kVersion;
                part_length_ = 0;
            } else if (!byte_is(data[i], kTargetByte)) {
                // A second SP, a tab, a control or a non-ASCII byte: RFC 9112 §3 allows exactly one
                // SP between the parts and only visible ASCII in the target; nor a fragment's '#'.
                return refuse("invalid byte in the request target");
            } else {
                ++part_length_;
            }
            break;
        case State::kVersion: {
            if (part_length_ >= kVersionShape.size()) return refuse("malformed HTTP version");
            char want = kVersionShape[part_length_];
            bool ok = want == 'D' ? (ch >= '0' && ch <= '9') : ch == static_cast<unsigned char>(want);
            if (!ok) return refuse("malformed HTTP version");
            ++part_length_;
            break;
        }
        case State::kFieldStart:
            if (ch == ' ' || ch == '\t') return refuse("obs-fold (a header line starting with whitespace)");
            if (!byte_is(static_cast<char>(ch), kTokenByte)) return refuse("invalid byte in a field name");
            state_ = State::kFieldName;
            break;
        case State::kFieldName:
            if (ch == ':') {
                state_ = State::kFieldValue;
            } else if (ch == ' ' || ch == '\t') {
                return refuse("whitespace between a field name and its colon");
            } else if (!byte_is(static_cast<char>(ch), kTokenByte)) {
                return refuse("invalid byte in a field name");
            }
            break;
        case State::kFieldValue:
            if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) return refuse("control byte in a field value");
            break;
        case State::kDone:
            break;
        }
    }
    used_ = data.size();
    return Verdict::kMore;
}

} // namespace proxyd
