#include "http/response_parser.hpp"

#include "http/header_rules.hpp"

namespace proxyd {

namespace {

// What on_headers_complete returns to llhttp for a message that has no body whatever its head
// says: llhttp 8.1 cannot know a response answers HEAD, and reads a body after a 204 or 304 that
// declares a length.
constexpr int kNoBody = 1;
// What on_headers_complete returns for a 101: no body, and the bytes after the head belong to the
// new protocol. llhttp 8.1 decides that itself only when the head also says "Connection: upgrade";
// without it, a Content-Length or Transfer-Encoding in the 101 would have it read a body.
constexpr int kSwitchProtocols = 2;

ResponseParser *self_of(llhttp_t *p) { return static_cast<ResponseParser *>(p->data); }

} // namespace

const llhttp_settings_t &ResponseParser::settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t out;
        llhttp_settings_init(&out);
        out.on_message_begin = on_message_begin;
        out.on_status = on_status;
        out.on_header_field = on_header_field;
        out.on_header_field_complete = on_header_field_complete;
        out.on_header_value = on_header_value;
        out.on_headers_complete = on_headers_complete;
        out.on_body = on_body;
        out.on_chunk_header = on_chunk_header;
        out.on_message_complete = on_message_complete;
        return out;
    }();
    return s;
}

ResponseParser::ResponseParser(const ResponseLimits &limits, MessageHead &head_storage, Events &events)
    : limits_(limits), events_(events), head_(head_storage) {
    // llhttp is initialised by reset(), which the owner calls for each response it expects:
    // doing it here too would only be undone (the exchange resets before every attempt).
    error_ = HPE_INVALID_CONSTANT;
    reason_ = "no response expected yet (reset() not called)";
}

void ResponseParser::reset(const ResponseContext &context) {
    context_ = context;
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
    head_.clear();
    if (trailers_) trailers_->clear();
    chunk_end_.reset();
    framing_ = ResponseFraming::kNone;
    declared_length_.reset();
    consumed_ = 0;
    error_ = HPE_OK;
    reason_ = nullptr;
    final_head_ = switched_ = complete_ = false;
}

ResponseParser::Result ResponseParser::execute(const char *data, size_t len) {
    consumed_ = 0;
    if (error_ != HPE_OK) return Result::kError;
    if (complete_) return Result::kMessageEnd;
    if (switched_) return Result::kSwitched;
    if (!chunk_end_.begin_input(data, data + len)) {
        // The CRLF after a chunk's data began in an earlier read and goes on wrong here.
        refuse("chunk data not followed by CRLF");
        return Result::kError;
    }
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    if (err == HPE_OK) {
        consumed_ = len;
        return Result::kNeedMore;
    }
    if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && (complete_ || switched_)) {
        const char *pos = llhttp_get_error_pos(&parser_);
        consumed_ = pos ? static_cast<size_t>(pos - data) : len;
        return complete_ ? Result::kMessageEnd : Result::kSwitched;
    }
    return fail(err);
}

ResponseParser::Result ResponseParser::finish() {
    if (error_ != HPE_OK) return Result::kError;
    if (complete_) return Result::kMessageEnd;
    if (final_head_ && framing_ == ResponseFraming::kUntilClose) {
        // The body is delimited by the connection's end: llhttp completes the message.
        llhttp_errno_t err = llhttp_finish(&parser_);
        if (complete_) return Result::kMessageEnd;
        return fail(err);
    }
    refuse(final_head_ ? "the connection closed inside the body" : "the connection closed inside the head");
    return Result::kError;
}

ResponseParser::Result ResponseParser::fail(llhttp_errno_t err) {
    error_ = err == HPE_OK ? HPE_USER : err;
    return Result::kError;
}

int ResponseParser::refuse(const char *reason) {
    if (!reason_) reason_ = reason;
    error_ = HPE_USER;
    return HPE_USER;
}

std::string ResponseParser::error_text() const {
    if (reason_) return reason_;
    return std::string(llhttp_errno_name(error_)) + ": " + parse_error_reason(&parser_);
}

// ---- llhttp callbacks -----------------------------------------------------------------------

int ResponseParser::on_message_begin(llhttp_t *p) {
    // Each interim response and then the final one: the head describes the latest.
    self_of(p)->head_.clear();
    return 0;
}

int ResponseParser::on_status(llhttp_t *p, const char *at, size_t len) {
    ResponseParser *self = self_of(p);
    return self->check_head_size(self->head_.append_reason({at, len}));
}

// After the final head, these are a chunked body's trailers. Over the size limit the response is
// refused, as HAProxy fails a message whose trailers overflow its buffer: the head and body have
// already gone, so the client sees the body cut short (its connection closed, its HTTP/2 stream
// reset), never a complete-looking response that silently lost fields it may rely on (a gRPC
// status, a checksum).
int ResponseParser::on_header_field(llhttp_t *p, const char *at, size_t len) {
    ResponseParser *self = self_of(p);
    if (self->final_head_) [[unlikely]]
        return self->on_trailer_piece(TrailerPiece::kName, {at, len});
    return self->check_head_size(self->head_.append_header_name({at, len}));
}

int ResponseParser::on_header_field_complete(llhttp_t *p) {
    ResponseParser *self = self_of(p);
    if (self->final_head_) [[unlikely]]
        return self->on_trailer_piece(TrailerPiece::kNameEnd, {});
    self->head_.end_header_name();
    return 0;
}

int ResponseParser::on_header_value(llhttp_t *p, const char *at, size_t len) {
    ResponseParser *self = self_of(p);
    if (self->final_head_) [[unlikely]]
        return self->on_trailer_piece(TrailerPiece::kValue, {at, len});
    return self->check_head_size(self->head_.append_header_value({at, len}));
}

// Apart from the head's callbacks, which every response runs, so that those stay as they were.
int ResponseParser::on_trailer_piece(TrailerPiece kind, std::string_view piece) {
    if (!trailers_) trailers_ = std::make_unique<MessageHead>();
    size_t size = trailers_->size();
    switch (kind) {
    case TrailerPiece::kName:
        size = trailers_->append_header_name(piece);
        break;
    case TrailerPiece::kNameEnd:
        trailers_->end_header_name();
        break;
    case TrailerPiece::kValue:
        size = trailers_->append_header_value(piece);
        break;
    }
    return size > limits_.max_head_bytes ? refuse("response trailers over the head's size limit") : 0;
}

int ResponseParser::on_headers_complete(llhttp_t *p) {
    ResponseParser *self = self_of(p);
    int status = p->status_code;
    // llhttp 8.1 lets whitespace before a colon pass in fields it does not interpret; relayed,
    // such a name is read differently by the parsers after us.
    // RFC 9112 §4: status-code = 3DIGIT. llhttp 8.1 takes "HTTP/1.1 10 X" as status 10, which
    // would pass for an interim response here and be relayed as a malformed status line.
    if (status < 100 || status > 999) return self->refuse("the status code is not three digits");
    if (!field_names_are_tokens(self->head_)) return self->refuse("a field name is not a token");
    if (status == 101) {
        // A 101 is an answer only to an upgrade the request asked for.
        if (!self->context_.upgrade_offered) return self->refuse("101 without an upgrade request");
        self->final_head_ = self->switched_ = true;
        return self->events_.on_response_head() ? kSwitchProtocols
                                                : self->refuse("the exchange refused the 101");
    }
    if (status < 200) {
        // Interim (100 Continue, 103 Early Hints): it ends at its head whatever it says of a
        // length (RFC 9112 §6.3), and the final response follows.
        self->events_.on_interim_response();
        return kNoBody;
    }
    self->final_head_ = true;
    uint64_t flags = p->flags;
    bool coded = flags & (F_CHUNKED | F_TRANSFER_ENCODING);
    if ((flags & F_CONTENT_LENGTH) && !coded) self->declared_length_ = p->content_length;
    // RFC 9112 §6.3: an answer to HEAD, and every 204 and 304, ends at its head.
    bool bodyless = self->context_.head_request || status == 204 || status == 304;
    if (bodyless)
        self->framing_ = ResponseFraming::kNone;
    else if (flags & F_CHUNKED)
        self->framing_ = ResponseFraming::kChunked;
    else if (self->declared_length_)
        self->framing_ = ResponseFraming::kContentLength;
    else
        self->framing_ = ResponseFraming::kUntilClose; // no length, or a coding other than chunked last
    if (!self->events_.on_response_head()) return self->refuse("the exchange refused the response head");
    return bodyless ? kNoBody : 0;
}

int ResponseParser::on_body(llhttp_t *p, const char *at, size_t len) {
    ResponseParser *self = self_of(p);
    // The piece itself is sound and is reported; a wrong CRLF after it fails the response, so the
    // owner can cut the client before the body looks complete.
    bool terminated = !(p->flags & F_CHUNKED) || self->chunk_end_.body(at, len);
    self->events_.on_response_body({at, len});
    return terminated ? 0 : self->refuse("chunk data not followed by CRLF");
}

int ResponseParser::on_chunk_header(llhttp_t *p) {
    self_of(p)->chunk_end_.chunk_header(p->content_length);
    return 0;
}

int ResponseParser::on_message_complete(llhttp_t *p) {
    ResponseParser *self = self_of(p);
    if (!self->final_head_) return 0; // the end of an interim response: the final one follows
    if (!self->switched_) {
        self->complete_ = true;
        self->events_.on_response_complete();
    }
    return HPE_PAUSED;
}

} // namespace proxyd
