// Presents llhttp 8.1 a request line it can parse while keeping the one the client sent.
//
// llhttp knows a fixed list of methods and refuses any other token, and it refuses HTTP/1.2. RFC
// 9110 §9.1 makes a method any token, which a proxy forwards whether it knows it or not, and RFC
// 9112 §2.3 has a recipient process HTTP/1.x with x above 1 as the highest minor it implements.
// So llhttp stays the parser, and is handed a stand-in where it would refuse: a known method in
// place of an extension method, "HTTP/1.1" in place of a higher 1.x. The real method token is
// kept here for everything after llhttp (forwarding, logs, plugins).
//
// It runs after the HeadScanner has accepted the bytes (a token method, one SP, a target without
// SP, HTTP/D.D), so it only has to find the parts, not check them. A request line split across
// any number of reads gives the same result: a method or version that is not complete yet is held
// back (at most kMaxMethodBytes or 8 bytes) and handed on once it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace proxyd {

class RequestLineAdapter {
  public:
    // Longer methods are refused (501): none is registered above 17 bytes, and the bytes of an
    // incomplete method are held here, so they need a bound.
    static constexpr size_t kMaxMethodBytes = 64;

    // What llhttp is to parse, in order: pieces of the input (borrowed) and stand-ins (owned here,
    // valid until the next adapt() or reset()).
    struct Piece {
        const char *data;
        size_t len;
        bool from_input; // a slice of the bytes given to adapt(); otherwise held or substituted
    };
    static constexpr size_t kMaxPieces = 6;

    enum class Result { kOk, kMethodTooLong };

    // Splits data into the pieces llhttp gets; piece_count() says how many.
    Result adapt(const char *data, size_t len);
    const Piece *pieces() const { return pieces_; }
    size_t piece_count() const { return count_; }

    // The request line has been handed on whole; later bytes of this message pass as they are.
    bool done() const { return state_ == State::kDone; }
    // The method as the client sent it; complete once the request line is past the method.
    std::string_view method() const { return method_; }
    // The minor version the client sent (2 for HTTP/1.2); llhttp reports 1 for it.
    uint8_t sent_minor() const { return sent_minor_; }

    // Gets ready for the next request line on the same connection.
    void reset();

  private:
    enum class State : uint8_t { kBeforeMethod, kMethod, kTarget, kVersion, kDone };

    void add_input(const char *data, size_t len);
    void add_held(const char *data, size_t len);

    State state_ = State::kBeforeMethod;
    std::string method_;
    char version_[8] = {};
    size_t version_length_ = 0;
    uint8_t sent_minor_ = 1;
    Piece pieces_[kMaxPieces] = {};
    size_t count_ = 0;
};

} // namespace proxyd
