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

// A 1xx or 204 has no content, so it carries no length and no transfer coding (RFC 9110 §8.6,
// RFC 9112 §6.1).
bool may_frame(int status) { return status >= 200 && status != 204; }

} // namespace

ResponseHeadWriter::ResponseHeadWriter(std::string &out, int status, std::string_view reason)
    : out_(&out), status_(status) {
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
    out_->clear();
    out_->append(line, sizeof line).append(reason.empty() ? status_text(status) : reason).append("\r\n", 2);
}

ResponseHeadWriter::ResponseHeadWriter(ResponseFields &fields, int status)
    : fields_(&fields), status_(status) {
    assert(status >= 100 && status <= 999);
    fields_->clear(status);
}

void ResponseHeadWriter::origin_fields(std::string_view date) {
    if (fields_)
        fields_->add("server", "proxyd");
    else
        out_->append("Server: proxyd\r\n");
    field("Date", date);
}

void ResponseHeadWriter::end_fields(std::string_view date, const HeadEnding &ending) {
    if (!has_date_) fields_->add("date", date);
    if (!strict_transport_security_.empty())
        fields_->add("strict-transport-security", strict_transport_security_);
    std::optional<uint64_t> length;
    if (may_frame(status_) && !ending.chunked && ending.content_length) {
        length = ending.content_length;
        std::string digits;
        append_number(digits, *length);
        fields_->add("content-length", digits);
    }
    fields_->finish(length);
}

void ResponseHeadWriter::end(std::string_view date, const HeadEnding &ending) {
    if (fields_) return end_fields(date, ending);
    std::string &out = *out_;
    if (!has_date_) out.append("Date: ").append(date).append("\r\n");
    if (!strict_transport_security_.empty())
        out.append("Strict-Transport-Security: ").append(strict_transport_security_).append("\r\n");
    if (may_frame(status_) && ending.chunked) {
        out.append("Transfer-Encoding: chunked\r\n");
    } else if (may_frame(status_) && ending.content_length) {
        out.append("Content-Length: ");
        append_number(out, *ending.content_length);
        out.append("\r\n");
    }
    if (!ending.keep_alive)
        out.append("Connection: close\r\n");
    else if (ending.client_minor == 0)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
}

} // namespace proxyd
