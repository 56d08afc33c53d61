// A request forwarded to an upstream group: pick a peer through the balancer, take a pooled
// connection or connect, forward the head (hop-by-hop fields removed, X-Forwarded-*/Forwarded/Via
// added) and stream the body both ways with backpressure. A failure before any response byte is
// retried on another peer when that is safe; otherwise the client gets 502, or 504 on a timeout.
// Worker thread only.
#pragma once

#include "exchange/exchange.hpp"
#include "exchange/exchange_buffers.hpp"
#include "http/message_head.hpp"
#include "http/response_parser.hpp"
#include "net/output_slices.hpp"
#include "upstream/attempt.hpp"
#include "upstream/upstream_connection.hpp"
#include "upstream/upstream_pool.hpp"

#include <memory>
#include <proxyd/plugin.h>
#include <string>
#include <vector>

namespace proxyd {

class ExchangeClient;
class Tunnel;
class UpstreamPool;

class ProxyExchange final : public Exchange,
                            private UpstreamConnection::Owner,
                            private ResponseParser::Events,
                            private QueueWaiter {
  public:
    ProxyExchange(ExchangeClient &client, UpstreamPool &pool);
    ~ProxyExchange() override;

    void start() override;

    void on_request_body(std::string_view data) override;
    void on_request_complete() override;
    void on_client_drained() override;
    bool on_client_gone() override;
    void on_tunnel_bytes(std::string_view data) override;
    void on_tunnel_client_ended() override;

  private:
    // How far the current attempt got. Each attempt moves forward only, one step at a time:
    //
    //   kConnecting -> kAwaitingResponse -> kReadingHead -> kRelayingBody -> kComplete
    //                                                    \-> kTunnel (a 101)
    //
    // A retry on another peer goes back to kConnecting, and only from the first three phases: once
    // a final head went to the client, nothing can be retried. enter() asserts the step.
    //
    // Each attempt is one pick, held in attempt_, whose end the balancer hears exactly once:
    // kComplete ends it as SUCCESS; a failure before the head as CONNECT_FAILED, TIMEOUT or BROKEN
    // (a stale pooled connection too, though it is then retried on the same terms); a failure in
    // kRelayingBody as BROKEN or TIMEOUT with the status; a kTunnel as SUCCESS (status 101) when
    // the tunnel closes, however it closes; any other end (the client left, a stop or reload cut
    // the connection, a bad request body) as ABORTED, when the exchange goes.
    enum class Phase : uint8_t {
        kConnecting,       // connecting (a pooled connection skips this at once)
        kAwaitingResponse, // connected; the request goes out, no response byte yet
        kReadingHead,      // response bytes arrived (interim responses too), no final head yet
        kRelayingBody,     // the final head went to the client; the body follows
        kComplete,         // the whole response went to the client
        kTunnel,           // the peer switched protocols; the bytes are the tunnel's
    };
    void enter(Phase next);
    bool connected() const { return phase_ != Phase::kConnecting; }
    bool response_started() const { return phase_ >= Phase::kReadingHead; }
    bool head_sent() const { return phase_ >= Phase::kRelayingBody; }

    // How the response's body goes to the client. Bare: the payload alone, to a client that
    // frames it itself (an HTTP/2 stream), when the upstream's response gave no length.
    enum class Framing { None, ContentLength, Chunked, UntilClose, Bare };

    // queue_turn: called for the request's turn in the group's queue.
    void try_next_peer(bool queue_turn = false);
    bool any_untried() const;
    // Every peer it may use is at max_connections: wait in the queue, or 503 when it is full.
    void wait_in_queue(bool queue_turn);
    void on_queue_turn() override {
        queued_ = false;
        try_next_peer(true);
    }
    static void on_queue_timer(uv_timer_t *timer);
    void close_queue_timer();
    // 503 with Retry-After, the access log's upstream field saying why ("queue-full", "queue-timeout").
    void refuse_from_queue(const char *why, Counter &counter);
    // retry_on: whether this failure is one to retry, and a status worth another peer's answer.
    bool retry_wanted(proxyd_outcome outcome) const;
    bool retry_status(int status);
    void retry_after_status();
    // The forwarded request head, in buffers_->head_text.
    std::string_view build_request_head();
    void forward_to_upstream(std::string_view data);
    void forward_to_upstream(const uv_buf_t *bufs, size_t count);
    // The request's trailer section (and so its Trailer field, which announces it) goes on to
    // the upstream.
    bool request_trailers_go_on() const;
    // The last chunk, with the fields of the request's trailers that may go on.
    void forward_request_trailers(const MessageHead &trailers);
    void fail(proxyd_outcome outcome, int uv_status, const char *what);
    void cut_mid_response(proxyd_outcome outcome, const std::string &why);
    // The current peer's address as configured, for logs and a missing Host.
    const std::string &peer_address() const;
    // Adds an entry to the access log's upstream list: a peer about to be tried (a resend after a
    // pooled connection's close race too), or why none was. The entry before it moves its status
    // to the earlier statuses, so upstream= and upstream_status= stay in step.
    void log_upstream_entry(std::string_view entry);
    void finish_response();
    void release_upstream(bool reusable);
    void rearm_upstream_timer();

    // UpstreamConnection::Owner
    void on_upstream_connected(int status) override;
    void on_upstream_read(const char *data, size_t len) override;
    std::span<char> upstream_read_space() override;
    void on_upstream_read_nothing() override;
    void on_upstream_closed(int status) override;
    void on_upstream_timeout() override;
    void on_upstream_write_done() override;

    // ResponseParser::Events
    void on_interim_response() override;
    bool on_response_head() override;
    void on_response_body(std::string_view data) override;
    void on_response_complete() override;
    void send_response_head();
    // The response's trailer section (and so its Trailer field, which announces it) goes on to
    // the client; once send_response_head() has chosen the client's framing.
    bool response_trailers_go_on() const;
    // The end of the body with the fields of the response's trailers that may go on.
    void forward_response_trailers(const MessageHead &trailers);
    template <class Sink> void forward_response_fields(Sink &&sink);
    std::string upgrade_refusal() const;
    void refuse_upgrade_answer();
    void switch_protocols();
    void start_tunnel(const char *rest, const char *end);
    // Sends what one upstream read produced for the client (interim responses, the head, body
    // bytes, the chunked terminator) as one write, then applies backpressure.
    void flush_to_client();

    ExchangeClient *client_;
    UpstreamPool &pool_;
    ExchangeBufferPool &buffer_pool_;          // the worker's (the client may be gone at the end)
    std::unique_ptr<ExchangeBuffers> buffers_; // from buffer_pool_, given back at the end
    MessageHead &response_;
    OutputSlices &to_client_; // bytes for the client gathered during one llhttp_execute
    UpstreamConnection *upstream_ = nullptr;
    std::unique_ptr<bool[]> tried_;
    std::vector<std::string> unsent_; // request bytes waiting for the connection
    static constexpr size_t kUnsentPiece = 16 * 1024; // joined into pieces of about this size
    size_t unsent_bytes_ = 0;
    ResponseParser parser_;
    Attempt attempt_; // the current pick; reported when it ends, at the latest with the exchange
    unsigned tries_ = 0;
    unsigned logged_upstreams_ = 0;     // entries in the access log's upstream list
    bool counted_ = false;              // the retry budget counted the request
    bool queued_ = false;               // waiting in the pool's queue
    uv_timer_t *queue_timer_ = nullptr; // while queued: the deadline, and the look for other workers' frees
    uint64_t queue_deadline_ms_ = 0;    // loop time
    int retry_status_ = 0;              // a response head refused to retry elsewhere (retry_on)
    std::string unusable_upgrade_;      // why the answer to an upgrade was refused (upgrade_refusal)
    Framing client_framing_ = Framing::None;
    // The client's body space (upstream_read_space): how much to ask for, and what the last
    // read was offered (0: it read into the worker's buffer).
    size_t read_space_hint_ = 16 * 1024;
    size_t read_space_offered_ = 0;
    Phase phase_ = Phase::kConnecting;
    bool request_complete_ = false; // the client's whole request was read (independent of phase_)
    bool client_keep_alive_ = false;
    bool upstream_paused_ = false; // reading from the upstream waits for the client's queue to drain
    bool upgrade_ = false;         // the client asked to switch protocols; forwarded as asked
    std::unique_ptr<Tunnel> tunnel_;
};

} // namespace proxyd
