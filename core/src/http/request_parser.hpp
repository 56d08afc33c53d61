// The request side of HTTP/1.1 framing, without any I/O: llhttp parses the bytes a connection
// reads (or the head comes already split, from an HTTP/2 stream: accept_head), and this class
// enforces the head limits (414, 431, 413), decides the body's framing (Content-Length, chunked
// or none; 400 or 501 for a transfer coding it cannot frame), checks the head's grammar
// (HeadScanner), the request line and Host (RFC 9112 §3, §3.2; 400, 505) and builds the
// borrowed view of the request that routing and content plugins see.
//
// It owns no socket and no timer, so a fuzzer or a unit test drives it with plain bytes. The
// connection that owns it hears about each request through Events. One parser per request in
// progress on a connection (rebind() hands it to another), used on that connection's thread only.
#pragma once

#include "http/chunk_terminator.hpp"
#include "http/head_scanner.hpp"
#include "http/message_head.hpp"
#include "http/request_line_adapter.hpp"

#include <cstdint>
#include <llhttp.h>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace proxyd {

// A Content-Length field's value as llhttp reads it (RFC 9110 §8.6: 1*DIGIT, one field) into
// length (-1 until one was read), or the llhttp error that refuses it. nghttp2 refuses the same
// values in an HTTP/2 request first (and any above INT64_MAX, which llhttp takes up to 2^64-1).
llhttp_errno_t read_content_length(std::string_view value, int64_t &length);

struct RequestLimits {
    size_t max_header_bytes = 32768;         // request line plus header fields (431 over it)
    size_t max_headers = 100;                // header field count (431 over it)
    uint64_t max_body_bytes = 0;             // 0: no limit (413 over it)
    size_t max_uri_bytes = 8192;             // request target (414 over it)
    size_t max_chunk_extension_bytes = 4096; // on one chunk-size line (400 over it)
    bool allow_bare_lf = false;              // accept LF without CR as a line end in the head
};

// The parts of a valid request line and Host that plugins see. Views into the parser's storage,
// valid until reset() or the parser's end.
struct RequestView {
    std::string_view method;
    std::string_view target;
    std::string_view path;
    std::string_view query;
    std::string_view host; // from an absolute-form target, else the Host field; may be empty (1.0)
};

class RequestParser {
  public:
    // What the owner hears, always from inside execute().
    class Events {
      public:
        virtual ~Events() = default;
        // The first byte of a request arrived.
        virtual void on_request_begin() = 0;
        // The head's last byte arrived; it is checked next, and may still be refused.
        virtual void on_head_received() = 0;
        // The head is valid: view() and the framing accessors describe the request.
        virtual void on_request_head() = 0;
        // A piece of the (decoded) body; the bytes are borrowed for the call.
        virtual void on_request_body(std::string_view data) = 0;
        // The request's message ended; execute() returns kMessageEnd right after.
        virtual void on_request_complete() = 0;
    };

    enum class Result {
        kNeedMore,   // every byte was consumed; the message has not ended
        kMessageEnd, // the message ended; consumed() bytes were used, the rest belongs to the next
        kError,      // the input is refused: answer error_status() and close
    };

    RequestParser(const RequestLimits &limits, Events &events);
    RequestParser(const RequestParser &) = delete;
    RequestParser &operator=(const RequestParser &) = delete;

    // Parses bytes. After kMessageEnd the parser stays paused (a further execute() consumes
    // nothing) until reset(); after kError it refuses everything.
    Result execute(const char *data, size_t len);
    // How many bytes of the last execute() were used; less than len only after kMessageEnd.
    size_t consumed() const { return consumed_; }

    // A request head that arrived split into its parts, as an HTTP/2 stream carries it (RFC 9113
    // §8.3; nghttp2 decoded the fields and checked them against §8.2.1 and §8.3.1), served as the
    // HTTP/1.1 request it stands for without a round trip through text and llhttp: the grammar
    // the HeadScanner checks, the method's bound, the limits (414, 431, 413), Content-Length as
    // llhttp reads it, and every check after the head, as execute() does them, in the same
    // order. Instead of a new request's bytes, after reset() or restart() only. The body, if
    // body_follows, then comes through execute() as the bytes themselves, unframed: the message
    // ends after Content-Length bytes, or, without one, at end_body() (the head then carries a
    // `transfer-encoding: chunked` field, as the request forwarded to HTTP/1.1 will).
    Result accept_head(std::string_view method, std::string_view target,
                       std::span<const std::pair<std::string, std::string>> fields, bool body_follows);
    // The end of an accept_head() request's body (HTTP/2's END_STREAM): kMessageEnd when that
    // ends a body without a Content-Length; otherwise nothing happens (kNeedMore).
    Result end_body();
    // The trailer fields of an accept_head() request (HTTP/2's trailing HEADERS), before its
    // end_body(): kept for trailers() when its body has no Content-Length (it goes on chunked, so
    // they have a place), dropped otherwise. Their size was bounded where they were decoded
    // (H2Session, by the header list limit).
    void accept_trailers(std::span<const std::pair<std::string, std::string>> fields);

    // Forgets the current request and gets ready for the next one on the same connection.
    void reset();
    // Forgets everything, whatever the parser saw last (an error, an upgrade, a message cut short
    // or closing its connection): as new, keeping the head's storage.
    void restart();
    // Parses for another connection from now on, with its limits and events: a worker hands
    // parsers from one connection to the next (ClientRequest). Only between requests, after
    // reset() or restart().
    void rebind(const RequestLimits &limits, Events &events) {
        events_ = &events;
        if (limits.allow_bare_lf != limits_->allow_bare_lf) change_lenience(limits.allow_bare_lf);
        limits_ = &limits;
    }

    // The status that answers the last error (400, 413, 414, 417, 431, 501, 505), and why, for logs.
    // 501 is also a method over RequestLineAdapter::kMaxMethodBytes.
    int error_status() const { return error_status_; }
    std::string error_text() const;

    const MessageHead &head() const { return head_; }
    // A chunked body's trailer fields, as they came (the forwarding rule is trailer_fields.hpp's),
    // or null when it had none; complete once on_request_complete() is heard, kept until reset().
    // Held apart from head(): the request view handed out at dispatch points into its buffer.
    const MessageHead *trailers() const { return trailers_.header_count() ? &trailers_ : nullptr; }
    // view().path is the target's path in the form request_path.hpp makes: held here when that
    // differs from the target's.
    const RequestView &view() const { return view_; }
    // The method token as the client sent it (an extension method too: RFC 9110 §9.1).
    std::string_view method() const { return split_head_ ? std::string_view(split_method_) : line_.method(); }
    uint8_t http_major() const { return split_head_ ? 1 : parser_.http_major; }
    // The minor version the request is served as: HTTP/1.2 and above are served as 1.1 (RFC 9112
    // §2.3); sent_minor() is what the client wrote.
    uint8_t http_minor() const { return split_head_ ? 1 : parser_.http_minor; }
    uint8_t sent_minor() const { return line_.sent_minor(); }
    bool chunked() const { return chunked_; }
    int64_t content_length() const { return content_length_; } // -1 when none was given
    bool has_body() const { return has_body_; }
    // The whole body (framed by Content-Length) is in the bytes of the execute() call whose head
    // ended in them: an answer given at the head will see the body read to its end in that same
    // call, so the connection can stay open after it.
    bool body_in_input() const {
        return !chunked_ && content_length_ >= 0 &&
               static_cast<uint64_t>(content_length_) <= after_head_in_input_;
    }
    // The request allows the connection to stay open (version, Connection header).
    bool should_keep_alive() const { return split_head_ || llhttp_should_keep_alive(&parser_) != 0; }

  private:
    static int on_message_begin(llhttp_t *p);
    static int on_url(llhttp_t *p, const char *at, size_t len);
    static int on_header_field(llhttp_t *p, const char *at, size_t len);
    static int on_header_field_complete(llhttp_t *p);
    static int on_header_value(llhttp_t *p, const char *at, size_t len);
    enum class TrailerPiece { kName, kNameEnd, kValue };
    int on_trailer_piece(TrailerPiece kind, std::string_view piece);
    static int on_headers_complete(llhttp_t *p);
    static int on_body(llhttp_t *p, const char *at, size_t len);
    static int on_chunk_header(llhttp_t *p);
    static int on_chunk_extension(llhttp_t *p, const char *at, size_t len);
    static int on_message_complete(llhttp_t *p);
    static const llhttp_settings_t &settings();
    void init_llhttp();
    void change_lenience(bool allow_bare_lf);

    // HPE_USER, answered status; why is what the error log says (a static string).
    int refuse(int status, const char *why = nullptr);
    Result refuse_split_head(int status, llhttp_errno_t error, const char *reason);
    Result take_unframed_body(const char *data, size_t len);
    int check_head_size(size_t size);
    int check_head(bool chunked, int64_t content_length);
    // 0, or the status to refuse it with and *why.
    int check_transfer_coding(const char **why) const;
    // nullptr, or why the target or Host is refused (400).
    const char *validate_request_line();
    bool expectation_met() const;

    const RequestLimits *limits_;
    Events *events_;
    llhttp_t parser_{};
    HeadScanner scanner_;
    RequestLineAdapter line_;
    MessageHead head_;
    MessageHead trailers_; // allocates only when a request has trailers
    RequestView view_;
    int64_t content_length_ = -1;
    uint64_t body_received_ = 0;
    ChunkTerminator chunk_end_;
    size_t chunk_extension_bytes_ = 0; // on the current chunk-size line
    size_t consumed_ = 0;
    size_t after_head_in_input_ = 0; // bytes after the head's end in the current execute()'s input
    int error_status_ = 0;
    llhttp_errno_t error_ = HPE_OK;
    const char *scanner_reason_ = nullptr; // set when the scanner, not llhttp, refused the head
    const char *split_reason_ = nullptr;   // why accept_head() refused, where llhttp gave none
    const char *refuse_reason_ = nullptr;  // why a callback refused the head or body (refuse)
    bool chunked_ = false;
    bool has_body_ = false;
    bool paused_ = false;
    bool head_complete_ = false; // later header callbacks are a chunked body's trailers
    // The request came through accept_head(): llhttp has no part in it, and the parser's version,
    // method and body framing are this class's own.
    bool split_head_ = false;
    bool split_head_ended_ = false; // its message ended: execute() takes nothing more until reset()
    std::string split_method_;
    std::string normalised_path_; // view_.path when the target's path was not in that form
};

} // namespace proxyd
