// A client (downstream) connection: feeds what it reads to a RequestParser (which owns llhttp, the
// limits and the framing rules), dispatches each request to an Exchange, and writes responses in
// order. Keep-alive and
// pipelining: after a request's message ends the parser pauses until its response is complete,
// keeping any pipelined bytes for later.
//
// Lifetime: created on accept, deleted in the close callback of its last handle. Worker thread.
#pragma once

#include "admin/metrics.hpp"
#include "config/config.hpp"
#include "http/message_head.hpp"
#include "http/request_parser.hpp"
#include "net/backpressure.hpp"
#include "net/lazy_timer.hpp"
#include "net/stream_writer.hpp"
#include "server/exchange.hpp"
#include "server/request_handle.hpp"

#include <memory>
#include <proxyd/plugin.h>
#include <string>
#include <uv.h>

namespace proxyd {

class Worker;

class ClientConnection final : private RequestParser::Events, private StreamWriter::Listener {
  public:
    static void accept(Worker &worker, const ListenerConfig &listener, uv_stream_t *server);

    Worker &worker() { return worker_; }
    const ListenerConfig &listener() const { return listener_; }
    const MessageHead &head() const { return parser_.head(); }
    const proxyd_request &request() const { return request_; }
    proxyd_request &request() { return request_; }
    std::string_view method() const { return parser_.method(); }
    uint8_t http_minor() const { return request_.http_minor; }
    bool wants_keep_alive() const;
    // A routing plugin replaced request().path.
    bool path_rewritten() const { return path_rewritten_; }
    bool request_has_body() const { return parser_.has_body(); }
    bool request_chunked() const { return parser_.chunked(); }
    int64_t request_content_length() const { return parser_.content_length(); }
    std::string_view client_ip() const { return client_ip_; }
    AccessRecord &record() { return record_; }

    ListenerMetrics &metrics() { return metrics_; }

    // Writes bytes to the client; what the socket does not take at once is copied and queued,
    // so the caller's buffers are free on return. Ignored once the connection is closing.
    void send(std::string_view data);
    void send(const uv_buf_t *bufs, size_t count);
    size_t queued_bytes() const { return writer_.queued_bytes(); }
    // A body the exchange writes to the socket itself (sendfile) waits for room: the client has
    // send_timeout to make some, as for bytes queued here.
    void await_writable();
    int fd() const;
    bool closing() const { return closing_; }
    // send() still delivers: neither closing nor shut down after a failed write.
    bool writable() const { return !closing_ && !shut_down_; }

    // The exchange's response is completely queued (or sent). keep_alive false closes the
    // connection once the queue has drained.
    void finish_exchange(bool keep_alive);
    // The response broke after its head went out: close at once so the client sees a truncated
    // message, never a complete-looking one.
    void abort();
    // A response for a request that could not be dispatched, or whose exchange failed before any
    // response byte: status, a small HTML body, and Connection: close when close is true.
    void send_error(int status, bool close);
    // Closes the connection if no request is in progress and nothing waits to be written.
    void close_if_idle();

    // The exchange switched protocols: from now on the client's bytes (first those held back
    // after the request head) go unparsed to the exchange's on_tunnel_bytes, and its EOF to
    // on_tunnel_client_ended instead of closing the connection.
    void start_tunnel();
    // Half-closes towards the client once the queued bytes are out; reading goes on.
    void shutdown_write();

    // Request-body flow control for exchanges that forward it.
    void pause_body();
    void resume_body();

    // Queued response bytes: above kHighWater the producer pauses, at kLowWater it resumes.
    static constexpr size_t kHighWater = Backpressure::kHighWater;
    static constexpr size_t kLowWater = Backpressure::kLowWater;
    // Pipelined bytes held while a response is in progress before reading stops.
    static constexpr size_t kMaxPending = 256 * 1024;

  private:
    ClientConnection(Worker &worker, const ListenerConfig &listener);
    ~ClientConnection() override;

    // RequestParser::Events
    void on_request_begin() override;
    void on_head_received() override;
    void on_request_head() override;
    void on_request_body(std::string_view data) override;
    void on_request_complete() override;

    // StreamWriter::Listener
    void on_write_done(int status, size_t bytes) override;
    void write_failed();

    static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
    static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
    static void on_timer(void *owner);
    // uv_read_start/uv_read_stop unless already so; reading_ says which is in effect.
    void start_reading();
    void stop_reading();

    void feed(const char *data, size_t len);
    void execute(const char *data, size_t len);
    void dispatch();
    void fill_request_view();
    void complete_exchange();
    void start_next_request();
    void write_access_log();
    void begin_close();
    // No byte from the client waits unread in the kernel (FIONREAD).
    bool receive_queue_empty() const;
    void close_now();
    void arm_timer(uint64_t ms, int mode);
    void release_exchange();
    void arm_body_timer();

    enum TimerMode { kTimerNone, kTimerHeader, kTimerBody, kTimerIdle, kTimerLinger, kTimerSend };

    Worker &worker_;
    const ListenerConfig &listener_;
    ListenerMetrics &metrics_;
    uv_tcp_t tcp_{};
    LazyTimer timer_;
    RequestLimits limits_;
    RequestParser parser_;
    RequestArena arena_;
    proxyd_request_handle request_handle_{};
    proxyd_request request_{};
    std::string client_ip_;
    std::string pending_; // bytes read but not parsed while the parser is paused
    std::unique_ptr<Exchange> exchange_;
    AccessRecord record_;
    StreamWriter writer_;
    int timer_mode_ = kTimerNone;
    int handles_open_ = 0;
    uint32_t requests_served_ = 0;
    bool path_rewritten_ = false;
    bool in_request_ = false;        // a request's first byte arrived, its exchange not finished
    bool message_complete_ = false;  // the current request's message ended
    bool exchange_finished_ = false; // the exchange finished its response (maybe while parsing)
    bool finished_keep_alive_ = false;
    bool in_parser_ = false;
    bool paused_ = false; // the parser holds a finished message; pipelined bytes wait in pending_
    bool reading_ = false;
    bool body_paused_ = false;
    bool closing_ = false;
    bool close_after_flush_ = false;
    bool shut_down_ = false;
    bool tunnel_ = false;
    bool write_shut_ = false; // shutdown_write() was called
    bool read_ended_ = false; // a tunnelled client sent EOF
};

} // namespace proxyd
