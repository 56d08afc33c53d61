// Which trailer fields (the fields after a chunked body's last chunk, or an HTTP/2 stream's
// trailing HEADERS) proxyd passes on, written once for requests and responses, HTTP/1.1 and
// HTTP/2 alike. RFC 9110 §6.5.1: many fields cannot be processed after the content because their
// meaning is needed before it: framing, routing, authentication, request modifiers, response
// controls and the content's format. A recipient that merged such a field into the head (§6.5.2
// allows it where the definition permits) would act on a value no check of ours saw, so none of
// them is forwarded, and neither is any connection-specific field (§7.6.1; RFC 9113 §8.2.2 forbids
// them on HTTP/2, in trailers too) nor one the core itself sets in the head it forwards
// (X-Forwarded-*, Forwarded, Via, X-Request-ID): a trailer could otherwise contradict it. A name
// that is not a token (RFC 9110 §5.1) is dropped too. Everything else (checksums, Server-Timing,
// grpc-status and the like) goes on as it came.
#pragma once

#include "http/field_kind.hpp"
#include "http/header_rules.hpp"
#include "http/message_head.hpp"

#include <string>
#include <string_view>

namespace proxyd {

// A trailer field called name (its kind as classify_field gives it) may be forwarded; options are
// the Connection options of the message's head, whose named fields are dropped here too.
bool trailer_field_forwardable(FieldKind kind, std::string_view name, const ConnectionOptions &options);

// Calls sink(name, value) for each field of trailers that may be forwarded, in order.
template <class Sink>
void for_each_forwardable_trailer(const MessageHead &trailers, const ConnectionOptions &options,
                                  Sink &&sink) {
    for (size_t i = 0; i < trailers.header_count(); ++i)
        if (trailer_field_forwardable(trailers.header_kind(i), trailers.header_name(i), options))
            sink(trailers.header_name(i), trailers.header_value(i));
}

// The end of a chunked body (RFC 9112 §7.1): the last chunk, the trailer fields that may be
// forwarded, and the blank line, appended to out.
void append_last_chunk(const MessageHead &trailers, const ConnectionOptions &options, std::string &out);

} // namespace proxyd
