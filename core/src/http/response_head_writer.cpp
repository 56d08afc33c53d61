#include "http/response_head_writer.hpp"

#include "http/status_text.hpp"

#include <cassert>
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
    // Every status is three digits (RFC 9110 §15: 100..599, and llhttp and the content API stop at
    // 999), written without a general number conversion: this runs for every response.
    assert(status >= 100 && status <= 999);
    char line[13] = {'H',
                     'T',
                     'T',
                     'P',
                     '/',
                     '1',
                     '.',
                     '1',
                     ' ',
                     static_cast<char>('0' + status / 100),
                     static_cast<char>('0' + status / 10 % 10),
                     static_cast<char>('0' + status % 10),
                     ' '};
    out_.clear();
    out_.append(line, sizeof line).append(reason.empty() ? status_text(status) : reason).append("\r\n", 2);
}

void ResponseHeadWriter::origin_fields(std::string_view date) {
    out_.append("Server: proxyd\r\n");
    field("Date", date);
}

void ResponseHeadWriter::end(std::string_view date, const HeadEnding &ending) {
    if (!has_date_) out_.append("Date: ").append(date).append("\r\n");
    if (!strict_transport_security_.empty())
        out_.append("Strict-Transport-Security: ").append(strict_transport_security_).append("\r\n");
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
