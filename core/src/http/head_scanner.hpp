// The byte-level grammar of a request head (RFC 9112 §2.2, §3, §5), checked before llhttp sees
// the bytes. llhttp 8.1 accepts several things a proxy must not pass on, because the server
// behind it may read them differently: obs-fold, whitespace between a field name and its colon,
// a bare LF ending the request line or the head, more than one SP between request-line parts,
// a tab in the target. This scanner refuses those, along with bare CR and control bytes, so that
// the head llhttp parses is one that every conforming parser reads the same way.
//
// It keeps no bytes, only a state, so a head split across any number of reads scans the same.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace proxyd {

class HeadScanner {
  public:
    enum class Verdict {
        kMore,    // every byte given belongs to the head, which is not complete yet
        kHeadEnd, // the head ended; used() bytes of the last call belong to it
        kRefused, // the byte at used() breaks the grammar; reason() says how
    };

    explicit HeadScanner(bool allow_bare_lf = false) : allow_bare_lf_(allow_bare_lf) {}

    Verdict scan(std::string_view data);
    size_t used() const { return used_; }
    const char *reason() const { return reason_; }
    bool done() const { return state_ == State::kDone; }
    // Gets ready for the next request's head.
    void reset();

  private:
    enum class State : uint8_t {
        kBeforeRequest, // empty lines before a request line are allowed (RFC 9112 §2.2)
        kMethod,
        kTarget,
        kVersion,
        kFieldStart,
        kFieldName,
        kFieldValue,
        kDone,
    };

    Verdict refuse(const char *why);

    bool allow_bare_lf_;
    State state_ = State::kBeforeRequest;
    bool after_cr_ = false;  // the previous byte was a CR: only LF may follow
    size_t part_length_ = 0; // bytes of the current request-line part (method, target, version)
    size_t used_ = 0;
    const char *reason_ = "";
};

} // namespace proxyd
