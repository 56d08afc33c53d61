#include "exchange/tunnel.hpp"

#include "exchange/exchange_client.hpp"
#include "exchange/exchange_worker.hpp"
#include "http/header_rules.hpp"
#include "http/response_head_writer.hpp"
#include "http/websocket_key.hpp"

namespace proxyd {

namespace {

bool has_connection_option(const MessageHead &head, std::string_view option) {
    return ConnectionOptions(head).lists(option);
}

void append_upgrade_fields(const MessageHead &head, std::string &out) {
    out.append("Connection: upgrade\r\n");
    for (size_t i = 0; i < head.header_count(); ++i)
        if (head.header_kind(i) == FieldKind::kUpgrade)
            out.append("Upgrade: ").append(head.header_value(i)).append("\r\n");
}

// "websocket" of "websocket/13": protocols are told apart by name (RFC 9110 §7.8).
std::string_view protocol_name(std::string_view protocol) { return protocol.substr(0, protocol.find('/')); }

// Calls f with each protocol of head's Upgrade fields, in order.
template <class F> void for_each_protocol(const MessageHead &head, F &&f) {
    for (size_t i = 0; i < head.header_count(); ++i)
        if (head.header_kind(i) == FieldKind::kUpgrade) for_each_token(head.header_value(i), f);
}

// Calls f with each protocol of the request that proxyd passes on. HTTP/2 by upgrade ("h2c",
// RFC 9113 §3.1 deprecates it) is not: an origin that took it would talk HTTP/2 with the client
// through the tunnel, every request after the first past proxyd's routing and filters ("h2c
// smuggling"). HAProxy and Envoy drop it too.
template <class F> void for_each_forwarded_protocol(const MessageHead &request, F &&f) {
    for_each_protocol(request, [&f](std::string_view protocol) {
        if (!iequals(protocol_name(protocol), "h2c")) f(protocol);
    });
}

bool offers_forwarded_protocol(const MessageHead &request) {
    bool any = false;
    for_each_forwarded_protocol(request, [&any](std::string_view) { any = true; });
    return any;
}

} // namespace

bool wants_upgrade(const ExchangeClient &client) {
    const MessageHead &head = client.head();
    return client.http_minor() == 1 && client.method() == "GET" && !client.request_has_body() &&
           head.count(FieldKind::kUpgrade) > 0 && has_connection_option(head, "upgrade") &&
           offers_forwarded_protocol(head);
}

std::string upgrade_request_fields(const MessageHead &request) {
    std::string protocols;
    for_each_forwarded_protocol(request, [&protocols](std::string_view protocol) {
        protocols.append(protocols.empty() ? "" : ", ").append(protocol);
    });
    return "Connection: upgrade\r\nUpgrade: " + protocols + "\r\n";
}

std::string protocol_refusal(const MessageHead &request, const MessageHead &response) {
    // RFC 9110 §7.8: a server switches only to a protocol the request offered. One the request
    // did not offer upstream (h2c, left out) would open the tunnel proxyd meant to keep shut.
    std::string refusal;
    bool named = false;
    for_each_protocol(response, [&](std::string_view protocol) {
        named = true;
        bool offered = false;
        for_each_forwarded_protocol(request, [&](std::string_view candidate) {
            offered = offered || iequals(protocol_name(candidate), protocol_name(protocol));
        });
        if (!offered && refusal.empty())
            refusal = "its 101 switches to " + std::string(protocol) + ", which the request did not offer";
    });
    return named ? refusal : "its 101 names no protocol (Upgrade)";
}

std::string switching_protocols_head(const MessageHead &response) {
    if (response.count(FieldKind::kUpgrade) == 0) return {};
    ConnectionOptions connection_options(response);
    std::string out;
    ResponseHeadWriter head(out, 101, response.reason());
    for (size_t i = 0; i < response.header_count(); ++i) {
        std::string_view name = response.header_name(i);
        FieldKind kind = response.header_kind(i);
        // A tunnel has no trailer section for a Trailer field to announce.
        if (must_drop_when_forwarding(kind, name, connection_options) || kind == FieldKind::kContentLength ||
            kind == FieldKind::kTrailer)
            continue;
        head.field(name, response.header_value(i));
    }
    append_upgrade_fields(response, out);
    head.end_interim();
    return out;
}

std::string websocket_refusal(const MessageHead &request, const MessageHead &response) {
    // Every Upgrade field counts: a second one could name h2c beside "websocket".
    if (std::string refusal = protocol_refusal(request, response); !refusal.empty()) return refusal;
    std::optional<std::string_view> upgrade = response.find(FieldKind::kUpgrade);
    if (!upgrade || !iequals(*upgrade, "websocket")) return "its 101 does not switch to websocket";
    std::optional<std::string_view> key = request.find("sec-websocket-key");
    std::optional<std::string_view> accept = response.find("sec-websocket-accept");
    if (!key || !accept || *accept != websocket_accept(*key))
        return "its 101 does not answer the Sec-WebSocket-Key sent (Sec-WebSocket-Accept)";
    return {};
}

bool stream_tunnel_field(const MessageHead &response, size_t i, const ConnectionOptions &options) {
    FieldKind kind = response.header_kind(i);
    std::string_view name = response.header_name(i);
    return !must_drop_when_forwarding(kind, name, options) && kind != FieldKind::kContentLength &&
           kind != FieldKind::kTrailer && !iequals(name, "sec-websocket-accept");
}

Tunnel::Tunnel(ExchangeClient &client, UpstreamConnection &upstream, uint64_t idle_timeout_ms)
    : client_(client), upstream_(&upstream), idle_timeout_ms_(idle_timeout_ms) {
    upstream_->change_owner(this);
}

Tunnel::~Tunnel() {
    if (upstream_) upstream_->close();
}

void Tunnel::start(std::string_view from_upstream) {
    if (!from_upstream.empty()) client_.send(from_upstream);
    upstream_->read_start();
    activity();
    // The client's bytes that followed its request head were held back until now.
    client_.start_tunnel();
}

void Tunnel::activity() {
    if (upstream_) upstream_->arm_timeout(idle_timeout_ms_);
}

void Tunnel::from_client(std::string_view data) {
    if (!upstream_ || data.empty()) return;
    // The upstream reset its side: what the client sends goes nowhere, and is not activity.
    if (upstream_->write_failed()) return client_.pause_body();
    upstream_->send(data);
    activity();
    if (upstream_->queued_bytes() > UpstreamConnection::kHighWater) client_.pause_body();
}

void Tunnel::client_ended() {
    if (client_ended_) return;
    client_ended_ = true;
    // The client's half-close is passed on once what it sent before has been written.
    if (upstream_) upstream_->shutdown_write();
    end_if_both_closed();
}

void Tunnel::client_drained() {
    if (upstream_paused_ && upstream_ && client_.queued_bytes() <= ExchangeClient::kLowWater) {
        upstream_paused_ = false;
        upstream_->read_start();
    }
}

void Tunnel::on_upstream_read(const char *data, size_t len) {
    client_.send(std::string_view(data, len));
    client_.record().body_bytes += len; // the access log counts tunnelled bytes, as nginx does
    activity();
    if (client_.queued_bytes() > ExchangeClient::kHighWater && !upstream_paused_) {
        upstream_paused_ = true;
        upstream_->read_stop();
    }
}

void Tunnel::on_upstream_write_done() {
    activity();
    if (!client_ended_ && upstream_ && upstream_->queued_bytes() <= UpstreamConnection::kLowWater)
        client_.resume_body();
}

void Tunnel::on_upstream_closed(int status) {
    if (status != UV_EOF) {
        client_.worker().logger().info("tunnel for " + std::string(client_.client_ip()) + ": upstream " +
                                       uv_strerror(status) + ", closing both sides");
        return client_.abort();
    }
    upstream_ended_ = true;
    client_.shutdown_write();
    end_if_both_closed();
}

void Tunnel::on_upstream_timeout() {
    client_.worker().logger().info("tunnel for " + std::string(client_.client_ip()) + ": idle for " +
                                   std::to_string(idle_timeout_ms_) + " ms, closing both sides");
    client_.abort();
}

void Tunnel::end_if_both_closed() {
    // Must be the last thing the tunnel does: the connection deletes it.
    if (client_ended_ && upstream_ended_) client_.finish_exchange(false);
}

} // namespace proxyd
