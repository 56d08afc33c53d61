#include "http/request_parser.hpp"

#include "http/byte_classes.hpp"
#include "http/header_rules.hpp"
#include "http/request_path.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

namespace proxyd {

namespace {

RequestParser *self_of(llhttp_t *p) { return static_cast<RequestParser *>(p->data); }

// The status a parse error of llhttp's own earns (RFC 9112): a version llhttp does not know is
// 505, all else 400. (llhttp's early Transfer-Encoding errors are "chunked is not the final
// coding", a 400; the 501 for an unknown coding comes from check_transfer_coding.)
int status_for_parse_error(llhttp_errno_t err) { return err == HPE_INVALID_VERSION ? 505 : 400; }

bool all_bytes_are(std::string_view text, ByteClass cls) {
    return std::all_of(text.begin(), text.end(), [cls](char ch) { return byte_is(ch, cls); });
}

// What the HeadScanner would refuse in the request line and fields these parts make, with its
// reason; null when they pass. HTTP/2 has none of the line structure (SP, CRLF, the colon), so
// what is left are its byte classes, and that no part is empty.
const char *split_head_grammar_fault(std::string_view method, std::string_view target,
                                     std::span<const std::pair<std::string, std::string>> fields) {
    if (method.empty() || !all_bytes_are(method, kTokenByte)) return "invalid byte in the method";
    if (target.empty() || !all_bytes_are(target, kTargetByte)) return "invalid byte in the request target";
    for (const auto &[name, value] : fields) {
        if (name.empty() || !all_bytes_are(name, kTokenByte)) return "invalid byte in a field name";
        if (!all_bytes_are(value, kFieldValueByte)) return "control byte in a field value";
    }
    return nullptr;
}

} // namespace

llhttp_errno_t read_content_length(std::string_view value, int64_t &length) {
    if (length >= 0) return HPE_UNEXPECTED_CONTENT_LENGTH;
    uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
        parsed > static_cast<uint64_t>(INT64_MAX))
        return HPE_INVALID_CONTENT_LENGTH;
    length = static_cast<int64_t>(parsed);
    return HPE_OK;
}

const llhttp_settings_t &RequestParser::settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t out;
        llhttp_settings_init(&out);
        out.on_message_begin = on_message_begin;
        out.on_url = on_url;
        out.on_header_field = on_header_field;
        out.on_header_field_complete = on_header_field_complete;
        out.on_header_value = on_header_value;
        out.on_headers_complete = on_headers_complete;
        out.on_body = on_body;
        out.on_chunk_header = on_chunk_header;
        out.on_chunk_extension_name = on_chunk_extension;
        out.on_chunk_extension_value = on_chunk_extension;
        out.on_message_complete = on_message_complete;
        return out;
    }();
    return s;
}

RequestParser::RequestParser(const RequestLimits &limits, Events &events)
    : limits_(&limits), events_(&events), scanner_(limits.allow_bare_lf) {
    init_llhttp();
}

void RequestParser::init_llhttp() {
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
    // llhttp 8.1 refuses a bare LF only inside header values; when bare LF is allowed, let it
    // through there too. Control bytes stay refused: the scanner checks them itself.
    if (limits_->allow_bare_lf) llhttp_set_lenient_headers(&parser_, 1);
}

void RequestParser::restart() {
    init_llhttp();
    paused_ = false;
    error_ = HPE_OK;
    scanner_reason_ = nullptr;
    split_reason_ = nullptr;
    consumed_ = 0;
    reset();
}

void RequestParser::change_lenience(bool allow_bare_lf) {
    scanner_ = HeadScanner(allow_bare_lf);
    llhttp_set_lenient_headers(&parser_, allow_bare_lf ? 1 : 0);
}

RequestParser::Result RequestParser::execute(const char *data, size_t len) {
    consumed_ = 0;
    after_head_in_input_ = 0;
    if (error_ != HPE_OK) return Result::kError;
    if (split_head_) return take_unframed_body(data, len);
    if (!scanner_.done()) {
        HeadScanner::Verdict verdict = scanner_.scan({data, len});
        if (verdict == HeadScanner::Verdict::kRefused) {
            // Nothing of this head has been handed on yet, so refusing here forwards nothing.
            scanner_reason_ = scanner_.reason();
            error_ = HPE_USER;
            error_status_ = 400;
            return Result::kError;
        }
        if (verdict == HeadScanner::Verdict::kHeadEnd) after_head_in_input_ = len - scanner_.used();
    }
    if (!chunk_end_.begin_input(data, data + len)) {
        // The CRLF after a chunk's data began in an earlier read and goes on wrong here.
        error_ = HPE_USER;
        error_status_ = 400;
        return Result::kError;
    }
    llhttp_errno_t err = HPE_OK;
    bool paused_in_input = true; // llhttp stopped in the caller's bytes, not in a stand-in
    if (line_.done()) {
        err = llhttp_execute(&parser_, data, len);
    } else {
        if (line_.adapt(data, len) == RequestLineAdapter::Result::kMethodTooLong) {
            error_ = HPE_USER;
            error_status_ = 501;
            return Result::kError;
        }
        for (size_t i = 0; i < line_.piece_count() && err == HPE_OK; ++i) {
            const RequestLineAdapter::Piece &piece = line_.pieces()[i];
            err = llhttp_execute(&parser_, piece.data, piece.len);
            paused_in_input = piece.from_input;
        }
    }
    if (err == HPE_OK) {
        consumed_ = len;
        return Result::kNeedMore;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        // A message cannot end inside its request line, so a pause is always in the input.
        const char *pos = llhttp_get_error_pos(&parser_);
        consumed_ = pos && paused_in_input ? static_cast<size_t>(pos - data) : len;
        paused_ = true;
        return Result::kMessageEnd;
    }
    error_ = err;
    if (!error_status_) error_status_ = status_for_parse_error(err);
    return Result::kError;
}

void RequestParser::reset() {
    head_.clear();
    if (trailers_.header_count()) trailers_.clear(); // the usual request has none: no call
    view_ = {};
    line_.reset();
    content_length_ = -1;
    body_received_ = 0;
    chunked_ = has_body_ = head_complete_ = false;
    chunk_end_.reset();
    chunk_extension_bytes_ = 0;
    error_status_ = 0;
    refuse_reason_ = nullptr;
    scanner_.reset();
    split_head_ = split_head_ended_ = false;
    split_method_.clear();
    if (paused_ && parser_.upgrade) {
        // After an upgrade request llhttp, once resumed, would report the upgrade instead of
        // parsing on. The bytes after it are either the next request (the upgrade was refused or
        // ignored) or never reach this parser (a tunnel took the connection): start afresh.
        llhttp_reset(&parser_);
        paused_ = false;
    } else if (paused_) {
        llhttp_resume(&parser_);
        paused_ = false;
    }
}

// ---- a head already split into its parts (accept_head) -------------------------------------

RequestParser::Result RequestParser::refuse_split_head(int status, llhttp_errno_t error, const char *reason) {
    error_ = error;
    error_status_ = status;
    split_reason_ = reason;
    return Result::kError;
}

RequestParser::Result RequestParser::accept_head(std::string_view method, std::string_view target,
                                                 std::span<const std::pair<std::string, std::string>> fields,
                                                 bool body_follows) {
    consumed_ = 0;
    after_head_in_input_ = 0; // the body never shares a call with its head here
    if (error_ != HPE_OK) return Result::kError;
    split_head_ = true;
    // The same order as execute()'s: the scanner's grammar over the whole head, the method's
    // bound, then what llhttp's callbacks check as the head goes by.
    if (const char *fault = split_head_grammar_fault(method, target, fields)) {
        scanner_reason_ = fault;
        return refuse_split_head(400, HPE_USER, nullptr);
    }
    split_method_ = method;
    if (method.size() > RequestLineAdapter::kMaxMethodBytes) return refuse_split_head(501, HPE_USER, nullptr);
    events_->on_request_begin();
    head_.append_target(target);
    if (target.size() > limits_->max_uri_bytes)
        return refuse_split_head(414, HPE_USER, "request target too long");
    if (check_head_size(head_.size())) return refuse_split_head(431, HPE_USER, "head too large");
    auto add_field = [this](const std::pair<std::string, std::string> &field) {
        size_t size = head_.append_header_name(field.first);
        if (head_.header_count() > limits_->max_headers || check_head_size(size)) return false;
        head_.end_header_name();
        return field.second.empty() || !check_head_size(head_.append_header_value(field.second));
    };
    int64_t content_length = -1;
    for (const auto &field : fields) {
        if (!add_field(field)) return refuse_split_head(431, HPE_USER, "head too large");
        if (head_.header_kind(head_.header_count() - 1) != FieldKind::kContentLength) continue;
        if (llhttp_errno_t err =
                read_content_length(head_.header_value(head_.header_count() - 1), content_length);
            err != HPE_OK)
            return refuse_split_head(400, err,
                                     err == HPE_INVALID_CONTENT_LENGTH ? "invalid Content-Length"
                                                                       : "more than one Content-Length");
    }
    // HTTP/1.1 delimits a body by its length or by chunks; HTTP/2 by END_STREAM alone.
    bool chunked = body_follows && content_length < 0;
    static const std::pair<std::string, std::string> kChunked{"transfer-encoding", "chunked"};
    if (chunked && !add_field(kChunked)) return refuse_split_head(431, HPE_USER, "head too large");
    head_complete_ = true;
    events_->on_head_received();
    if (check_head(chunked, content_length))
        return refuse_split_head(error_status_, HPE_USER, refuse_reason_ ? refuse_reason_ : "head refused");
    if (has_body_) return Result::kNeedMore;
    events_->on_request_complete();
    split_head_ended_ = true;
    return Result::kMessageEnd;
}

// An accept_head() request's body bytes, as they came: no chunks to decode, no CRLF to find.
RequestParser::Result RequestParser::take_unframed_body(const char *data, size_t len) {
    if (split_head_ended_) return Result::kMessageEnd; // consumed nothing, as a paused llhttp
    size_t take = len;
    if (!chunked_) take = std::min<uint64_t>(len, static_cast<uint64_t>(content_length_) - body_received_);
    if (take > 0) {
        body_received_ += take;
        uint64_t max_body = limits_->max_body_bytes;
        if (max_body && body_received_ > max_body) return refuse_split_head(413, HPE_USER, "body too large");
        events_->on_request_body({data, take});
    }
    consumed_ = take;
    if (chunked_ || body_received_ < static_cast<uint64_t>(content_length_)) return Result::kNeedMore;
    events_->on_request_complete();
    split_head_ended_ = true;
    return Result::kMessageEnd;
}

void RequestParser::accept_trailers(std::span<const std::pair<std::string, std::string>> fields) {
    if (!split_head_ || !chunked_ || split_head_ended_) return;
    for (const auto &[name, value] : fields) {
        trailers_.append_header_name(name);
        trailers_.end_header_name();
        trailers_.append_header_value(value);
    }
}

RequestParser::Result RequestParser::end_body() {
    consumed_ = 0;
    if (error_ != HPE_OK) return Result::kError;
    if (!split_head_ || !chunked_ || split_head_ended_) return Result::kNeedMore;
    events_->on_request_complete();
    split_head_ended_ = true;
    return Result::kMessageEnd;
}

std::string RequestParser::error_text() const {
    if (error_ == HPE_USER && error_status_ == 501 && !line_.done())
        return "method longer than " + std::to_string(RequestLineAdapter::kMaxMethodBytes) + " bytes";
    if (error_ == HPE_USER && error_status_ == 400 && !scanner_reason_ && chunk_end_.owed())
        return "malformed chunked body: chunk data not followed by CRLF";
    if (scanner_reason_) return std::string("malformed head: ") + scanner_reason_;
    if (split_reason_)
        return error_ == HPE_USER ? std::string(split_reason_)
                                  : std::string(llhttp_errno_name(error_)) + ": " + split_reason_;
    if (refuse_reason_) return refuse_reason_;
    return std::string(llhttp_errno_name(error_)) + ": " + parse_error_reason(&parser_);
}

int RequestParser::refuse(int status, const char *why) {
    error_status_ = status;
    refuse_reason_ = why;
    return HPE_USER;
}

int RequestParser::check_head_size(size_t size) {
    return size <= limits_->max_header_bytes ? 0 : refuse(431, "head over limits.max_header_size");
}

// ---- llhttp callbacks -----------------------------------------------------------------------

int RequestParser::on_message_begin(llhttp_t *p) {
    self_of(p)->events_->on_request_begin();
    return 0;
}

int RequestParser::on_url(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    self->head_.append_target({at, len});
    if (self->head_.target().size() > self->limits_->max_uri_bytes)
        return self->refuse(414, "request target too long");
    return self->check_head_size(self->head_.size());
}

int RequestParser::on_header_field(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    if (self->head_complete_) [[unlikely]]
        return self->on_trailer_piece(TrailerPiece::kName, {at, len});
    size_t size = self->head_.append_header_name({at, len});
    if (self->head_.header_count() > self->limits_->max_headers)
        return self->refuse(431, "more header fields than limits.max_headers");
    return self->check_head_size(size);
}

int RequestParser::on_header_field_complete(llhttp_t *p) {
    RequestParser *self = self_of(p);
    if (self->head_complete_) [[unlikely]]
        return self->on_trailer_piece(TrailerPiece::kNameEnd, {});
    self->head_.end_header_name();
    return 0;
}

int RequestParser::on_header_value(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    if (self->head_complete_) [[unlikely]]
        return self->on_trailer_piece(TrailerPiece::kValue, {at, len});
    return self->check_head_size(self->head_.append_header_value({at, len}));
}

// A chunked body's trailers come through the header callbacks too, after the head: they go to
// trailers_, held to the head's limits on their own (431 over them, as for the head). Apart from
// the head's path, which every request runs, so that it stays as it was. HeadScanner never sees
// them, so their bytes are checked here by its byte classes: what llhttp lets through under
// allow_bare_lf (control bytes) is a 400. An obs-fold reaches us joined, its CRLF dropped (RFC
// 9112 §5.2 allows that in place of a 400): one field goes on, with no line break inside.
int RequestParser::on_trailer_piece(TrailerPiece kind, std::string_view piece) {
    switch (kind) {
    case TrailerPiece::kName:
        if (!all_bytes_are(piece, kTokenByte)) return refuse(400, "malformed trailer field name");
        if (trailers_.append_header_name(piece) > limits_->max_header_bytes)
            return refuse(431, "trailer fields over limits.max_header_size");
        return trailers_.header_count() > limits_->max_headers
                   ? refuse(431, "more trailer fields than limits.max_headers")
                   : 0;
    case TrailerPiece::kNameEnd:
        trailers_.end_header_name();
        return 0;
    case TrailerPiece::kValue:
        if (!all_bytes_are(piece, kFieldValueByte)) return refuse(400, "malformed trailer field value");
        return check_head_size(trailers_.append_header_value(piece));
    }
    return 0;
}

int RequestParser::on_headers_complete(llhttp_t *p) {
    RequestParser *self = self_of(p);
    self->head_complete_ = true;
    self->events_->on_head_received();
    if (p->http_major != 1 || p->http_minor > 1)
        return self->refuse(505, "HTTP version other than 1.0 and 1.1");
    bool chunked = (p->flags & F_CHUNKED) != 0;
    // llhttp takes any length up to 2^64-1; above INT64_MAX it would read as "no length" here
    // while llhttp still counts those bytes as body, past the 413 check (nginx: 400 too).
    if ((p->flags & F_CONTENT_LENGTH) &&
        p->content_length > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return self->refuse(400, "Content-Length over 2^63-1");
    return self->check_head(chunked,
                            (p->flags & F_CONTENT_LENGTH) ? static_cast<int64_t>(p->content_length) : -1);
}

// The checks of a complete head, parsed or split (accept_head): 0 and the owner hears of it, or
// HPE_USER with error_status_ set.
int RequestParser::check_head(bool chunked, int64_t content_length) {
    chunked_ = chunked;
    content_length_ = content_length;
    has_body_ = chunked_ || content_length_ > 0;
    const char *why = nullptr;
    if (int status = check_transfer_coding(&why)) return refuse(status, why);
    uint64_t max_body = limits_->max_body_bytes;
    if (max_body && content_length_ > 0 && static_cast<uint64_t>(content_length_) > max_body)
        return refuse(413, "Content-Length over limits.max_body_size");
    // CONNECT asks for a tunnel (RFC 9110 §9.3.6), which this reverse proxy does not make: 501, as
    // an HTTP/2 stream's CONNECT gets. Tunnel bytes would follow its head: the connection closes.
    if (method() == "CONNECT") return refuse(501, "CONNECT: this reverse proxy makes no tunnels");
    if (const char *problem = validate_request_line()) return refuse(400, problem);
    if (!expectation_met()) return refuse(417, "an Expect other than 100-continue");
    events_->on_request_head();
    return 0;
}

int RequestParser::on_body(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    self->body_received_ += len;
    uint64_t max_body = self->limits_->max_body_bytes;
    if (max_body && self->body_received_ > max_body)
        return self->refuse(413, "body over limits.max_body_size");
    self->events_->on_request_body({at, len});
    if (self->chunked_ && !self->chunk_end_.body(at, len)) return self->refuse(400);
    return 0;
}

int RequestParser::on_chunk_header(llhttp_t *p) {
    RequestParser *self = self_of(p);
    self->chunk_end_.chunk_header(p->content_length);
    self->chunk_extension_bytes_ = 0; // the size line ended; the next one counts afresh
    return 0;
}

// Chunk extensions carry nothing proxyd uses, but llhttp reads them without a bound: a client
// could keep one chunk-size line going forever.
int RequestParser::on_chunk_extension(llhttp_t *p, const char *, size_t len) {
    RequestParser *self = self_of(p);
    self->chunk_extension_bytes_ += len;
    return self->chunk_extension_bytes_ > self->limits_->max_chunk_extension_bytes
               ? self->refuse(400, "chunk extension too long")
               : 0;
}

int RequestParser::on_message_complete(llhttp_t *p) {
    self_of(p)->events_->on_request_complete();
    return HPE_PAUSED;
}

// RFC 9112 §6.1 and §6.3: a request's body length is known only when chunked is the final
// coding, applied once; then any other coding is one this proxy cannot pass on faithfully (it
// re-frames the body as plain chunked), so 501. HTTP/1.0 has no Transfer-Encoding: a 1.0
// message carrying one has faulty framing. llhttp checks part of this, some of it only after the
// head was handed on; checking here first keeps a refused head from ever reaching a backend.
int RequestParser::check_transfer_coding(const char **why) const {
    TransferCoding coding = transfer_coding(head_);
    if (coding == TransferCoding::kNone) return 0;
    if (http_minor() == 0) return *why = "Transfer-Encoding in an HTTP/1.0 request", 400;
    if (coding == TransferCoding::kMalformed) return *why = "Transfer-Encoding without chunked last", 400;
    if (coding == TransferCoding::kOther) return *why = "a transfer coding other than chunked", 501;
    return 0;
}

// RFC 9110 §10.1.1: 100-continue is the only expectation defined; a proxy that passed another on
// could not know whether the backend meets it, so it is refused (417) here. Expect is HTTP/1.1's:
// an HTTP/1.0 request's is ignored (the RFC says so of 100-continue; nginx ignores any), and not
// forwarded, since the upstream request is HTTP/1.1.
bool RequestParser::expectation_met() const {
    if (http_minor() == 0) return true;
    std::vector<std::string_view> members;
    for (size_t i = 0; i < head_.header_count(); ++i)
        if (head_.header_kind(i) == FieldKind::kExpect) split_tokens(head_.header_value(i), members);
    for (auto member : members)
        if (!iequals(member, "100-continue")) return false;
    return true;
}

// Fills view_ from the parsed head. Says why for a target form this proxy does not serve or a
// Host that breaks RFC 9112 §3.2 (exactly one in HTTP/1.1, and a plausible uri-host).
const char *RequestParser::validate_request_line() {
    std::string_view method = this->method();
    std::string_view target = head_.target();
    std::string_view authority;
    std::string_view path_and_query = target;
    if (is_absolute_form(target)) {
        std::string_view rest = target.substr(target.find("//") + 2);
        size_t slash = rest.find_first_of("/?");
        authority = rest.substr(0, slash);
        path_and_query = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
        // RFC 9112 §3.2.4: OPTIONS to a URI with an empty path and no query is the asterisk form's
        // question, which the last proxy on the chain forwards to the origin as "*".
        if (slash == std::string_view::npos && method == "OPTIONS") path_and_query = "*";
    } else if (target == "*") {
        if (method != "OPTIONS") return "the target '*' with a method other than OPTIONS";
    } else if (target.empty() || target.front() != '/') {
        return "a request target that is neither a path, a URL nor '*'"; // authority-form is CONNECT's
    }
    size_t hosts = head_.count(FieldKind::kHost);
    if (hosts > 1) return "more than one Host field";
    if (hosts == 0 && http_minor() == 1) return "no Host field (HTTP/1.1 requires one)";
    std::string_view host = authority.empty() ? head_.find(FieldKind::kHost).value_or("") : authority;
    if (!is_plausible_host(host)) return "a Host that is no host name";

    size_t q = path_and_query.find('?');
    view_.method = method;
    view_.target = target;
    view_.path = path_and_query.substr(0, q);
    // An absolute-form target may have an empty path ("http://h?q"); it means "/" (RFC 9110
    // §4.2.3), and plugins are promised a path that starts with '/'.
    if (view_.path.empty()) view_.path = "/";
    if (view_.path.front() == '/') {
        switch (normalise_request_path(view_.path, normalised_path_)) {
        case RequestPathForm::kClean:
            break;
        case RequestPathForm::kNormalised:
            view_.path = normalised_path_;
            break;
        case RequestPathForm::kAboveRoot:
            return "a path that climbs above the root";
        case RequestPathForm::kBadEscape:
            return "a path with a malformed %-escape";
        }
    }
    view_.query = q == std::string_view::npos ? std::string_view() : path_and_query.substr(q + 1);
    view_.host = host;
    return nullptr;
}

} // namespace proxyd
