#include "http/response_head_writer.hpp"

#include "http/header_rules.hpp"
#include "http/status_text.hpp"

#include <charconv>

namespace proxyd {

namespace {

void append_number(std::string &out, uint64_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    (void)ec; // 24 digits hold any uint64_t
    out.append(digits, end);
}

} // namespace

ResponseHeadWriter::ResponseHeadWriter(std::string &out, int status, std::string_view reason)
    : out_(out), status_(status) {
    out_.clear();
    out_.append("HTTP/1.1 ");
    append_number(out_, static_cast<uint64_t>(status));
    out_.append(" ").append(reason.empty() ? status_text(status) : reason).append("\r\n");
}

void ResponseHeadWriter::origin_fields(std::string_view date) {
    out_.append("Server: proxyd\r\n");
    field("Date", date);
}

void ResponseHeadWriter::field(std::string_view name, std::string_view value) {
    has_date_ = has_date_ || iequals(name, "date");
    out_.append(name).append(": ").append(value).append("\r\n");
}

void ResponseHeadWriter::end(std::string_view date, const HeadEnding &ending) {
    if (!has_date_) out_.append("Date: ").append(date).append("\r\n");
    // A 1xx or 204 has no content, so it carries no length and no transfer coding (RFC 9110
    // §8.6, RFC 9112 §6.1).
    bool may_frame = status_ >= 200 && status_ != 204;
    if (may_frame && ending.chunked) {
        out_.append("Transfer-Encoding: chunked\r\n");
    } else if (may_frame && ending.content_length) {
        out_.append("Content-Length: ");
        append_number(out_, *ending.content_length);
        out_.append("\r\n");
    }
    if (!ending.keep_alive)
        out_.append("Connection: close\r\n");
    else if (ending.client_minor == 0)
        out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n");
}

} // namespace proxyd
