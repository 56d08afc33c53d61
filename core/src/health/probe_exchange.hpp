// One http health check's conversation with a peer, without I/O: what to write once connected,
// what the peer's bytes mean, and the verdict. The socket around it is ProbeCheck's
// (peer_probe.cpp), which writes what this produces and hands in what it reads.
//
// To a peer that speaks TLS the conversation is TLS inside, with the TlsSession and the group's
// TlsClientContext that proxied requests use (verification, CA, SNI and the name checked, client
// certificate, protocols): the handshake, then the request. Every check makes a full handshake,
// resuming no session, so it sees the certificate a new connection would. A refused certificate
// or a failed handshake is a failed check whose reason is the one a proxied request's connect
// failure logs. The answer is read by the project's ResponseParser: its status must be in the
// expected range and its body hold the expected text.
//
// Checker thread only; one exchange per check.
#pragma once

#include "config/health_check_config.hpp"
#include "http/message_head.hpp"
#include "http/response_parser.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd {

class TlsClientContext;
class TlsSession;

struct ProbeVerdict {
    bool pass = false;
    std::string reason; // why the check failed; empty for a pass
};

class ProbeExchange final : private ResponseParser::Events {
  public:
    // request is the whole HTTP request, sent as it is. tls, when not null, makes the exchange
    // TLS: the peer's certificate is checked against tls_name (its IP address SANs when
    // tls_name_is_ip), which is sent as SNI unless it is an address. config and tls must outlive
    // the exchange.
    ProbeExchange(const HealthCheckConfig &config, std::string request, const TlsClientContext *tls,
                  const std::string &tls_name, bool tls_name_is_ip);
    ~ProbeExchange() override;
    ProbeExchange(const ProbeExchange &) = delete;
    ProbeExchange &operator=(const ProbeExchange &) = delete;

    // Once connected: appends what goes out first (the request, or a TLS ClientHello) to output.
    // A verdict when the exchange cannot begin.
    std::optional<ProbeVerdict> start(std::string &output);
    // Bytes the peer sent. Appends what goes out in answer (the handshake's next flight, then the
    // request) to output. A verdict once the answer is judged or TLS failed; nullopt: read on.
    std::optional<ProbeVerdict> receive(const char *data, size_t len, std::string &output);
    // The peer closed the connection: the verdict on what it sent.
    ProbeVerdict end_of_stream();
    // Still in the TLS handshake: a socket error now is the handshake's failure.
    bool in_tls_handshake() const { return tls_ != nullptr && !request_sent_; }

  private:
    std::optional<ProbeVerdict> judge(ResponseParser::Result result);
    static ProbeVerdict failed(std::string reason) { return {false, std::move(reason)}; }

    // ResponseParser::Events
    void on_interim_response() override {}
    bool on_response_head() override { return true; }
    void on_response_body(std::string_view data) override;
    void on_response_complete() override {}

    const HealthCheckConfig &config_;
    std::string request_;
    const TlsClientContext *tls_context_;
    std::unique_ptr<TlsSession> tls_; // null for a cleartext peer
    std::string tls_setup_error_;     // the peer's name could not be set on the session
    std::string plaintext_;           // what one read decrypted to
    bool request_sent_ = false;
    MessageHead head_;
    ResponseParser parser_;
    std::string body_; // kept only when expect_body is set, and bounded
};

} // namespace proxyd
