// The header fields proxyd itself reads, drops or rewrites, recognised once per field when its
// name is complete (MessageHead keeps the kind beside the field). Every later question about a
// field ("is it Host?", "is it hop-by-hop?", "is it the client's X-Request-ID?") is then a byte
// compare, instead of a case-insensitive compare per field for each question asked.
#pragma once

#include <cstdint>
#include <string_view>

namespace proxyd {

enum class FieldKind : uint8_t {
    kOther,
    // Hop-by-hop (RFC 9110 §7.6.1), kept together so is_hop_by_hop is one range check.
    kConnection,
    kKeepAlive,
    kProxyConnection,
    kTe,
    kTransferEncoding,
    kUpgrade,
    // End-to-end fields the core or a proxied head reads or rewrites.
    kHost,
    kContentLength,
    kExpect,
    kXRequestId,
    kXForwardedFor,
    kXForwardedProto,
    kXForwardedHost,
    kForwarded,
    kVia,
    // End-to-end (RFC 9110 §6.6.2), but it announces a trailer section: it goes on only where
    // the trailers themselves would.
    kTrailer,
};

// The kind of a field called name (ASCII case-insensitive); kOther for any other name.
FieldKind classify_field(std::string_view name);

constexpr bool is_hop_by_hop(FieldKind kind) {
    return kind >= FieldKind::kConnection && kind <= FieldKind::kUpgrade;
}

} // namespace proxyd
