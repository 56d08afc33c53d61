// The one place a response head is written, whoever produced the response: the client
// connection's error pages, a content plugin's answer, a proxied response (final, interim 1xx and
// 101). The rules every head must follow live here, so each is fixed once: the status line, Date
// when the response has none, Server on proxyd's own answers, the listener's HSTS, the framing
// field and the keep-alive decision as the client will read it. No I/O: the head is appended to a
// string, or, for an HTTP/2 stream, given as fields (ResponseFields) by the same calls, under the
// same rules, less what HTTP/2 frames itself (status line, Transfer-Encoding, Connection).
#pragma once

#include "http/header_rules.hpp"
#include "http/response_fields.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd {

// What the core decides about the end of a head.
struct HeadEnding {
    // Content-Length to write: the length of the body that follows, or of the representation a
    // bodiless answer describes (a HEAD response, a 304). Never written on a 1xx or 204 (RFC 9110
    // §8.6), whatever is asked.
    std::optional<uint64_t> content_length;
    // Transfer-Encoding: chunked (the body is re-chunked on its way out). Never on a 1xx or 204.
    bool chunked = false;
    // The connection stays open after the response. Written as "Connection: close" when false,
    // and as "Connection: keep-alive" for an HTTP/1.0 client when true (RFC 9112 §9.3).
    bool keep_alive = true;
    uint8_t client_minor = 1;
    // The 200 that opens an HTTP/2 stream's WebSocket tunnel (RFC 8441): the upstream switched.
    bool opens_tunnel = false;
};

class ResponseHeadWriter {
  public:
    // Starts the head in out (cleared first): "HTTP/1.1 <status> <reason>", the standard reason
    // phrase when reason is empty.
    ResponseHeadWriter(std::string &out, int status, std::string_view reason = {});
    // The head as HTTP/2 fields (cleared first): no reason phrase, no framing but Content-Length,
    // no Connection field.
    ResponseHeadWriter(ResponseFields &fields, int status);

    // The fields it writes into, or null when it writes text.
    ResponseFields *fields_out() const { return fields_; }

    // A response proxyd answers itself: "Server: proxyd" and its own Date.
    void origin_fields(std::string_view date);
    // The listener's HSTS value, written on a final response in place of any such field the
    // response carries. Called before any field.
    void strict_transport_security(std::string_view value) { strict_transport_security_ = value; }
    // Inline: it runs for every header of every proxied response.
    void field(std::string_view name, std::string_view value) {
        if (!strict_transport_security_.empty() && iequals(name, "strict-transport-security")) return;
        has_date_ = has_date_ || iequals(name, "date");
        if (fields_) return fields_->add(name, value);
        out_->append(name).append(": ", 2).append(value).append("\r\n", 2);
    }
    // Every field of a list (a head filters edited), as field() writes them.
    template <class Fields> void fields(const Fields &list) {
        for (size_t i = 0; i < list.header_count(); ++i)
            field(list.header_name(i), list.header_value(i));
    }
    // Header lines already formatted as "Name: value\r\n" and checked by the caller; they may not
    // include Date (the caller writes it through field() when it has one) nor
    // Strict-Transport-Security when the listener sets it.
    void formatted_fields(std::string_view lines) {
        if (fields_) return fields_->add_lines(lines);
        out_->append(lines);
    }
    // Ends a final response's head: Date (date) unless a field gave one, the framing field, the
    // connection field and the empty line.
    void end(std::string_view date, const HeadEnding &ending);
    // Ends an interim (1xx) head: nothing but the empty line.
    void end_interim() {
        if (fields_) return fields_->finish(std::nullopt);
        out_->append("\r\n");
    }

  private:
    void end_fields(std::string_view date, const HeadEnding &ending);

    std::string *out_ = nullptr;
    ResponseFields *fields_ = nullptr;
    int status_;
    bool has_date_ = false;
    std::string_view strict_transport_security_;
};

} // namespace proxyd
