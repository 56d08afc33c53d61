// Protocol switching (RFC 9110 §7.8, WebSocket's opening handshake): a client's GET that asks to
// upgrade is forwarded with its Upgrade field; when the backend answers 101 the proxy relays that
// head and from then on copies bytes both ways, unparsed, until both sides have closed. A side's
// end (EOF) is passed on as a half-close; an error or read_timeout without traffic either way ends
// both. The upstream connection is closed afterwards, never pooled.
// Worker thread only.
#pragma once

#include "http/header_rules.hpp"
#include "http/message_head.hpp"
#include "upstream/upstream_connection.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace proxyd {

class ExchangeClient;

// The request asks to switch protocols in a way proxyd tunnels: HTTP/1.1, GET, no body, an Upgrade
// field naming a protocol other than h2c and the "upgrade" Connection option.
bool wants_upgrade(const ExchangeClient &client);
// The Connection and Upgrade fields that forward the client's upgrade request upstream (both are
// hop-by-hop, so the ordinary forwarding dropped them), h2c left out.
std::string upgrade_request_fields(const MessageHead &request);
// Why an upstream's 101 cannot be relayed: it switches to a protocol the request did not offer
// upstream (an h2c the request offered was left out); empty when it can.
std::string protocol_refusal(const MessageHead &request, const MessageHead &response);
// The 101 head for the client: the backend's end-to-end fields, Connection: upgrade and its
// Upgrade field. Empty when the backend's 101 names no protocol (RFC 9110 §15.2.2: it must).
std::string switching_protocols_head(const MessageHead &response);
// An HTTP/2 stream's WebSocket (RFC 8441) has a handshake of proxyd's own with the upstream: its
// 101 must name websocket and answer the Sec-WebSocket-Key proxyd sent (RFC 6455 §4.2.2), checked
// here in the client's stead. Empty when it does; else why not, for the error log.
std::string websocket_refusal(const MessageHead &request, const MessageHead &response);
// The fields of that 101 the stream's 200 carries: end-to-end ones, less the accept (RFC 8441 §5).
bool stream_tunnel_field(const MessageHead &response, size_t i, const ConnectionOptions &options);

class Tunnel final : private UpstreamConnection::Owner {
  public:
    // Takes upstream over (its owner becomes this tunnel); idle_timeout_ms ends a tunnel in which
    // nothing moved either way for that long.
    Tunnel(ExchangeClient &client, UpstreamConnection &upstream, uint64_t idle_timeout_ms);
    ~Tunnel();
    Tunnel(const Tunnel &) = delete;
    Tunnel &operator=(const Tunnel &) = delete;

    // from_upstream: bytes the backend sent after its 101 head in the same read.
    void start(std::string_view from_upstream);
    void from_client(std::string_view data);
    void client_ended();
    void client_drained();

  private:
    void on_upstream_connected(int) override {}
    void on_upstream_read(const char *data, size_t len) override;
    void on_upstream_closed(int status) override;
    void on_upstream_timeout() override;
    void on_upstream_write_done() override;
    void activity();
    void end_if_both_closed();

    ExchangeClient &client_;
    UpstreamConnection *upstream_;
    uint64_t idle_timeout_ms_;
    bool client_ended_ = false;
    bool upstream_ended_ = false;
    bool upstream_paused_ = false;
};

} // namespace proxyd
