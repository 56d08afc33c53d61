#include "http/response_parser.hpp"

#include "http/header_rules.hpp"

#include <string_view>

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

constexpr std::string_view kHttp1Prefix = "HTTP/1.";
constexpr std::string_view kHighestMinor = "HTTP/1.1";

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
    // An interim response's "Connection: close" (or an HTTP/1.0 one) would put llhttp into its
    // closed state, which then swallows the final response unparsed. The close still counts:
    // keep_alive() remembers it (interim_close_).
    llhttp_set_lenient_keep_alive(&parser_, 1);
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
    at_status_line_ = true;
    version_held_ = 0;
    interim_close_ = false;
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
    const char *at = data;
    const char *end = data + len;
    for (;;) {
        if (at_status_line_) {
            at = take_status_line_version(at, end);
            if (error_ != HPE_OK) return Result::kError;
            if (at_status_line_) break; // the version goes on in the next read
        }
        llhttp_errno_t err = llhttp_execute(&parser_, at, static_cast<size_t>(end - at));
        if (err == HPE_OK) break;
        const char *pos = llhttp_get_error_pos(&parser_);
        if (err == HPE_PAUSED && at_status_line_) {
            // An interim response ended: the next status line follows.
            llhttp_resume(&parser_);
            at = pos ? pos : end;
            continue;
        }
        if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && (complete_ || switched_)) {
            consumed_ = pos ? static_cast<size_t>(pos - data) : len;
            return complete_ ? Result::kMessageEnd : Result::kSwitched;
        }
        return fail(err);
    }
    consumed_ = len;
    return Result::kNeedMore;
}

// Returns where llhttp is to go on in [at, end). When the response begins "HTTP/1.x" with x above
// 1, llhttp is given "HTTP/1.1" in its place; bytes held from an earlier read are given to llhttp
// once they are known. Anything that is not "HTTP/1." and a digit is left for llhttp to judge.
const char *ResponseParser::take_status_line_version(const char *at, const char *end) {
    // Empty lines before a status line are skipped, as llhttp skips them.
    if (version_held_ == 0)
        while (at < end && (*at == '\r' || *at == '\n'))
            ++at;
    const char *start = at;
    size_t held_before = version_held_;
    auto fits = [](size_t i, char c) {
        return i < kHttp1Prefix.size() ? c == kHttp1Prefix[i] : c >= '0' && c <= '9';
    };
    while (at < end && version_held_ < sizeof version_ && fits(version_held_, *at))
        version_[version_held_++] = *at++;
    bool complete = version_held_ == sizeof version_;
    if (!complete && at == end) return end; // held until the next read
    at_status_line_ = false;
    bool substitute = complete && version_[7] > '1';
    if (held_before == 0 && !substitute) return start; // llhttp reads it where it is
    std::string_view given =
        substitute ? kHighestMinor : std::string_view(version_, complete ? sizeof version_ : held_before);
    llhttp_errno_t err = llhttp_execute(&parser_, given.data(), given.size());
    if (err != HPE_OK) fail(err);
    return complete ? at : start;
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
    // A connection that speaks HTTP/1.1 framing carries HTTP/1.x only (RFC 9112 §2.3): llhttp 8.1
    // also takes "HTTP/2.0" and "HTTP/0.9" in a status line.
    if (p->http_major != 1) return self->refuse("the response's version is not HTTP/1.x");
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
        if (!llhttp_should_keep_alive(p)) self->interim_close_ = true;
        self->events_.on_interim_response();
        return kNoBody;
    }
    self->final_head_ = true;
    uint64_t flags = p->flags;
    bool coded = flags & (F_CHUNKED | F_TRANSFER_ENCODING);
    if ((flags & F_CONTENT_LENGTH) && !coded) self->declared_length_ = p->content_length;
    // RFC 9112 §6.3: an answer to HEAD, and every 204 and 304, ends at its head.
    bool bodyless = self->context_.head_request || status == 204 || status == 304;
    if (!bodyless && coded) {
        // proxyd decodes chunked and frames the body again (chunked to an HTTP/1.1 client, DATA
        // frames over HTTP/2), so another coding could not be passed on: relayed without its
        // name, gzip-coded bytes would reach the client as the content (as nginx 1.22 relays
        // them). RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
        TransferCoding coding = transfer_coding(self->head_);
        if (coding == TransferCoding::kOther)
            return self->refuse("Transfer-Encoding names a coding other than chunked");
        if (coding == TransferCoding::kMalformed)
            return self->refuse("Transfer-Encoding does not end in a single chunked");
        if (p->http_minor == 0) return self->refuse("Transfer-Encoding in an HTTP/1.0 response");
    }
    if (bodyless)
        self->framing_ = ResponseFraming::kNone;
    else if (flags & F_CHUNKED)
        self->framing_ = ResponseFraming::kChunked;
    else if (self->declared_length_)
        self->framing_ = ResponseFraming::kContentLength;
    else
        self->framing_ = ResponseFraming::kUntilClose; // no length
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
    if (!self->final_head_) {
        // The end of an interim response: execute() looks at the final one's version first.
        self->at_status_line_ = true;
        self->version_held_ = 0;
        return HPE_PAUSED;
    }
    if (!self->switched_) {
        self->complete_ = true;
        self->events_.on_response_complete();
    }
    return HPE_PAUSED;
}

} // namespace proxyd
