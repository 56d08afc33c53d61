// The response side of HTTP/1.1 framing, without any I/O: llhttp parses what an upstream sends,
// and this class enforces the head limit and the field-name grammar, knows which responses have
// no body whatever their head says (a HEAD answer, 1xx, 204, 304: RFC 9112 §6.3), tells interim
// (1xx) responses from the final one, accepts a 101 only when the request offered an upgrade,
// checks the CRLF after every chunk, keeps a chunked body's trailer fields, and says how the body
// was delimited (Content-Length, chunked, or the connection's end). A status line of HTTP/1.x
// with x above 1 is read as HTTP/1.1 (RFC 9112 §2.3), which llhttp 8.1 would refuse.
//
// It owns no socket, so a fuzzer or a unit test drives it with plain bytes; the exchange that
// owns it hears about each response through Events. One parser per exchange, one thread.
#pragma once

#include "http/chunk_terminator.hpp"
#include "http/message_head.hpp"

#include <cstdint>
#include <llhttp.h>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd {

struct ResponseLimits {
    size_t max_head_bytes = 64 * 1024; // status line plus header fields, per response
};

// What the response answers; it decides which responses are legal and which have a body.
struct ResponseContext {
    bool head_request = false;    // the request was HEAD: the response ends at its head
    bool upgrade_offered = false; // the request asked to switch protocols: a 101 may answer it
};

// How the final response's body is delimited by the upstream.
enum class ResponseFraming { kNone, kContentLength, kChunked, kUntilClose };

class ResponseParser {
  public:
    // What the owner hears, always from inside execute() or finish().
    class Events {
      public:
        virtual ~Events() = default;
        // An interim response (1xx other than 101) ended at its head: head() and status()
        // describe it. The final response follows on the same parser.
        virtual void on_interim_response() = 0;
        // The final response's head is complete and valid (a 101 too). False refuses it: the
        // parse fails with "refused by the exchange".
        virtual bool on_response_head() = 0;
        // A piece of the decoded body, pointing into the caller's input (valid as long as that
        // input is).
        virtual void on_response_body(std::string_view data) = 0;
        // The final response's message ended (not after a 101: execute() says kSwitched).
        virtual void on_response_complete() = 0;
    };

    enum class Result {
        kNeedMore,   // every byte was consumed; the response has not ended
        kMessageEnd, // the response ended; consumed() bytes were used
        kSwitched,   // a 101 head ended; the bytes after consumed() belong to the new protocol
        kError,      // the response is refused; error_text() says why
    };

    // The head is parsed into head_storage, which the owner keeps (and may recycle) for the
    // parser's lifetime. reset() must come before the first execute().
    ResponseParser(const ResponseLimits &limits, MessageHead &head_storage, Events &events);
    ResponseParser(const ResponseParser &) = delete;
    ResponseParser &operator=(const ResponseParser &) = delete;

    // Forgets any earlier response and gets ready for one that answers a request described by
    // context (a new exchange, or a retry on another connection).
    void reset(const ResponseContext &context);
    // Parses bytes. After kMessageEnd or kSwitched the parser consumes nothing more until reset();
    // after kError it refuses everything.
    Result execute(const char *data, size_t len);
    // The connection's end arrived: it completes a body delimited by it (kMessageEnd); any other
    // response is cut short (kError).
    Result finish();
    size_t consumed() const { return consumed_; }

    // The final response's head arrived.
    bool head_complete() const { return final_head_; }
    // A chunked body's trailer fields, as they came (the forwarding rule is trailer_fields.hpp's),
    // or null when it had none; complete once on_response_complete() is heard, kept until reset().
    // They are held to the head's size limit on their own.
    const MessageHead *trailers() const {
        return trailers_ && trailers_->header_count() ? trailers_.get() : nullptr;
    }
    bool complete() const { return complete_; }
    int status() const { return parser_.status_code; }
    // 0 or 1: the head's HTTP/1.x (a higher minor reads as 1, RFC 9112 §2.3).
    uint8_t http_minor() const { return parser_.http_minor; }
    const MessageHead &head() const { return head_; }
    ResponseFraming framing() const { return framing_; }
    // The Content-Length the head declared, when it declared one and no transfer coding.
    std::optional<uint64_t> declared_length() const { return declared_length_; }
    // The response allows the connection to be used again (version, Connection field).
    bool keep_alive() const { return llhttp_should_keep_alive(&parser_) != 0 && !interim_close_; }
    std::string error_text() const;

  private:
    static int on_message_begin(llhttp_t *p);
    static int on_status(llhttp_t *p, const char *at, size_t len);
    static int on_header_field(llhttp_t *p, const char *at, size_t len);
    static int on_header_field_complete(llhttp_t *p);
    static int on_header_value(llhttp_t *p, const char *at, size_t len);
    enum class TrailerPiece { kName, kNameEnd, kValue };
    int on_trailer_piece(TrailerPiece kind, std::string_view piece);
    static int on_headers_complete(llhttp_t *p);
    static int on_body(llhttp_t *p, const char *at, size_t len);
    static int on_chunk_header(llhttp_t *p);
    static int on_message_complete(llhttp_t *p);
    static const llhttp_settings_t &settings();
    const char *take_status_line_version(const char *at, const char *end);

    int refuse(const char *reason);
    int check_head_size(size_t size) {
        return size > limits_.max_head_bytes ? refuse("response head over the size limit") : 0;
    }
    Result fail(llhttp_errno_t err);

    const ResponseLimits &limits_;
    Events &events_;
    ResponseContext context_;
    llhttp_t parser_{};
    MessageHead &head_;
    // Made for the first response with trailers: a parser lives for one exchange, and most never
    // see any, so they cost it no construction.
    std::unique_ptr<MessageHead> trailers_;
    ChunkTerminator chunk_end_;
    ResponseFraming framing_ = ResponseFraming::kNone;
    std::optional<uint64_t> declared_length_;
    size_t consumed_ = 0;
    llhttp_errno_t error_ = HPE_OK;
    const char *reason_ = nullptr; // proxyd's own reason for refusing, when it refused
    bool final_head_ = false;
    bool switched_ = false;
    bool complete_ = false;
    bool interim_close_ = false; // an interim response said the connection closes
    // A response's first bytes, "HTTP/1." and the minor digit, are looked at before llhttp sees
    // them; those that came in an earlier read are held here until the version is complete.
    bool at_status_line_ = true;
    uint8_t version_held_ = 0;
    char version_[8] = {};
};

} // namespace proxyd
