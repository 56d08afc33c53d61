#include "http/request_parser.hpp"

#include "http/header_rules.hpp"

#include <vector>

namespace proxyd {

namespace {

RequestParser *self_of(llhttp_t *p) { return static_cast<RequestParser *>(p->data); }

// The status a parse error of llhttp's own earns (RFC 9112): a version llhttp does not know is
// 505, all else 400. (llhttp's early Transfer-Encoding errors are "chunked is not the final
// coding", a 400; the 501 for an unknown coding comes from check_transfer_coding.)
int status_for_parse_error(llhttp_errno_t err) { return err == HPE_INVALID_VERSION ? 505 : 400; }

} // namespace

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
    view_ = {};
    line_.reset();
    content_length_ = -1;
    body_received_ = 0;
    chunked_ = has_body_ = head_complete_ = false;
    chunk_end_.reset();
    chunk_extension_bytes_ = 0;
    error_status_ = 0;
    scanner_.reset();
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

std::string RequestParser::error_text() const {
    if (error_ == HPE_USER && error_status_ == 501 && !line_.done())
        return "method longer than " + std::to_string(RequestLineAdapter::kMaxMethodBytes) + " bytes";
    if (error_ == HPE_USER && error_status_ == 400 && !scanner_reason_ && chunk_end_.owed())
        return "malformed chunked body: chunk data not followed by CRLF";
    if (scanner_reason_) return std::string("malformed head: ") + scanner_reason_;
    return std::string(llhttp_errno_name(error_)) + ": " + parse_error_reason(&parser_);
}

int RequestParser::refuse(int status) {
    error_status_ = status;
    return HPE_USER;
}

int RequestParser::check_head_size(size_t size) {
    return size <= limits_->max_header_bytes ? 0 : refuse(431);
}

// ---- llhttp callbacks -----------------------------------------------------------------------

int RequestParser::on_message_begin(llhttp_t *p) {
    self_of(p)->events_->on_request_begin();
    return 0;
}

int RequestParser::on_url(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    self->head_.append_target({at, len});
    if (self->head_.target().size() > self->limits_->max_uri_bytes) return self->refuse(414);
    return self->check_head_size(self->head_.size());
}

int RequestParser::on_header_field(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    // Trailers of a chunked body come through here too. They are not forwarded, and must not
    // grow the head's buffer: the request view handed out at dispatch points into it.
    if (self->head_complete_) return 0;
    size_t size = self->head_.append_header_name({at, len});
    if (self->head_.header_count() > self->limits_->max_headers) return self->refuse(431);
    return self->check_head_size(size);
}

int RequestParser::on_header_field_complete(llhttp_t *p) {
    if (!self_of(p)->head_complete_) self_of(p)->head_.end_header_name();
    return 0;
}

int RequestParser::on_header_value(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    if (self->head_complete_) return 0;
    return self->check_head_size(self->head_.append_header_value({at, len}));
}

int RequestParser::on_headers_complete(llhttp_t *p) {
    RequestParser *self = self_of(p);
    self->head_complete_ = true;
    self->events_->on_head_received();
    if (p->http_major != 1 || p->http_minor > 1) return self->refuse(505);
    self->chunked_ = (p->flags & F_CHUNKED) != 0;
    self->content_length_ = (p->flags & F_CONTENT_LENGTH) ? static_cast<int64_t>(p->content_length) : -1;
    self->has_body_ = self->chunked_ || self->content_length_ > 0;
    if (int status = self->check_transfer_coding()) return self->refuse(status);
    uint64_t max_body = self->limits_->max_body_bytes;
    if (max_body && self->content_length_ > 0 && static_cast<uint64_t>(self->content_length_) > max_body)
        return self->refuse(413);
    if (!self->validate_request_line()) return self->refuse(400);
    if (!self->expectation_met()) return self->refuse(417);
    self->events_->on_request_head();
    return 0;
}

int RequestParser::on_body(llhttp_t *p, const char *at, size_t len) {
    RequestParser *self = self_of(p);
    self->body_received_ += len;
    uint64_t max_body = self->limits_->max_body_bytes;
    if (max_body && self->body_received_ > max_body) return self->refuse(413);
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
    return self->chunk_extension_bytes_ > self->limits_->max_chunk_extension_bytes ? self->refuse(400) : 0;
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
int RequestParser::check_transfer_coding() const {
    std::vector<std::string_view> codings;
    bool present = false;
    for (size_t i = 0; i < head_.header_count(); ++i) {
        if (head_.header_kind(i) != FieldKind::kTransferEncoding) continue;
        present = true;
        split_tokens(head_.header_value(i), codings);
    }
    if (!present) return 0;
    if (parser_.http_minor == 0) return 400;
    if (codings.empty() || !iequals(codings.back(), "chunked")) return 400;
    bool unknown = false;
    for (size_t i = 0; i + 1 < codings.size(); ++i) {
        if (iequals(codings[i], "chunked")) return 400; // chunked twice: no length can be trusted
        unknown = true;
    }
    return unknown ? 501 : 0;
}

// RFC 9110 §10.1.1: 100-continue is the only expectation defined; a proxy that passed another on
// could not know whether the backend meets it, so it is refused (417) here.
bool RequestParser::expectation_met() const {
    std::vector<std::string_view> members;
    for (size_t i = 0; i < head_.header_count(); ++i)
        if (head_.header_kind(i) == FieldKind::kExpect) split_tokens(head_.header_value(i), members);
    for (auto member : members)
        if (!iequals(member, "100-continue")) return false;
    return true;
}

// Fills view_ from the parsed head. False for a target form this proxy does not serve or a
// Host that breaks RFC 9112 §3.2 (exactly one in HTTP/1.1, and a plausible uri-host).
bool RequestParser::validate_request_line() {
    std::string_view method = line_.method();
    std::string_view target = head_.target();
    std::string_view authority;
    std::string_view path_and_query = target;
    if (target.size() >= 7 && (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://")) {
        std::string_view rest = target.substr(target.find("//") + 2);
        size_t slash = rest.find_first_of("/?");
        authority = rest.substr(0, slash);
        path_and_query = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    } else if (target == "*") {
        if (method != "OPTIONS") return false;
    } else if (target.empty() || target.front() != '/') {
        return false; // authority-form (CONNECT) is not served by this proxy
    }
    size_t hosts = head_.count(FieldKind::kHost);
    if (hosts > 1 || (hosts == 0 && parser_.http_minor == 1)) return false;
    std::string_view host = authority.empty() ? head_.find(FieldKind::kHost).value_or("") : authority;
    for (char ch : host)
        if (ch == ' ' || ch == '\t' || ch == '/' || ch == '\\' || ch == '@' ||
            static_cast<unsigned char>(ch) < 0x21)
            return false;

    size_t q = path_and_query.find('?');
    view_.method = method;
    view_.target = target;
    view_.path = path_and_query.substr(0, q);
    // An absolute-form target may have an empty path ("http://h?q"); it means "/" (RFC 9110
    // §4.2.3), and plugins are promised a path that starts with '/'.
    if (view_.path.empty()) view_.path = "/";
    view_.query = q == std::string_view::npos ? std::string_view() : path_and_query.substr(q + 1);
    view_.host = host;
    return true;
}

} // namespace proxyd
