// A client (downstream) connection: feeds what it reads to a RequestParser (which owns llhttp, the
// limits and the framing rules), dispatches each request to an Exchange, and writes responses in
// order. Keep-alive and pipelining: after a request's message ends the parser pauses until its
// response is complete, keeping any pipelined bytes for later. Its life, timers and closing are in
// client_connection.cpp; its input in client_reading.cpp, the end of a request and its own
// answers in client_finishing.cpp, its output in client_writing.cpp, the filter phases in
// client_filters.cpp.
//
// Its state is three phases, each changed only through a set_*_phase() that asserts the step is
// one of those below, and a few flags that are independent of them.
//
// RequestPhase, the request message as the parser has seen it, goes round once per request:
//
//   kIdle --first byte--> kHead --valid head, dispatched--> kBody --message end--> kComplete
//     ^                                                                               |
//     +--------------- response complete, connection kept (start_next_request) -------+
//
//   In kComplete the parser is paused: bytes read meanwhile are pipelined requests and wait in
//   pending_ until resume_parsing() after the step back to kIdle. kBody covers an empty body too.
//   A response may complete in kBody; the connection then closes after it, unless the rest of the
//   body is being discarded (start_discarding_body): then the step back to kIdle comes when the
//   body's last byte has been read and dropped.
//
// ResponsePhase: kPending, or kFinishedInParser when the exchange finished inside a parser
// callback (a content handler answering at once, a 404): the parser must not be reset under
// llhttp_execute, so execute() completes the exchange once the parser has returned. It is apart
// from RequestPhase because a response may end before its request's body has arrived (the
// connection then closes after it).
//
//   kPending --finish_exchange() inside the parser--> kFinishedInParser --execute() returns--> kPending
//
// ConnectionPhase only moves forward; any step may skip the phases in between:
//
//   kOpen -> kTunnel -> kClosingAfterFlush -> kLingering -> kClosed
//
//   kOpen               requests and responses
//   kTunnel             after a 101: the client's bytes go unparsed to the exchange (start_tunnel)
//   kClosingAfterFlush  no further request: the last response is queued and the write side is shut
//                       once it is out; until then reads still finish the current message
//   kLingering          the write side is shut (after the last response, or a write failed): reads
//                       are discarded until the client's EOF or the linger timer
//   kClosed             uv_close was called; deleted in the last handle's close callback
//
// The flags: reading_ (uv_read_start in effect: off for request-body backpressure, for too many
// held pipelined bytes, after EOF); body_paused_ (the exchange asked for request-body
// backpressure, in any phase); write_shut_ and read_ended_, the two directions of a tunnel ending
// each on its own (the upstream's EOF passed on to the client; the client's EOF); in_parser_,
// inside the parser's execute(): a guard against re-entry, not a phase. The timer's mode (TimerMode)
// says which timeout is running and is set by arm_timer().
//
// HTTP/2 (h2_connection.hpp): a connection that negotiated h2 hands what it reads to its
// H2Connection (h2_) and parses nothing itself; each of its streams is served by a stream-backed
// ClientConnection (open_stream) that has no socket: its request head comes as fields
// (start_stream_request) and its body or tunnel bytes from feed_stream(), its response head goes
// to its StreamPeer as fields (end_head) and what it send()s after it as the bare body, it serves
// one request and never keeps alive, lingers or shuts down. The phases above hold for it as for a
// socket.
//
// The request's state (parser, view, arena, access record, filters: client_request.hpp) is taken
// from the worker when bytes of a request are to be parsed and given back on the step to kIdle,
// so an idle keep-alive connection holds only what the connection itself needs.
//
// Lifetime: created on accept, deleted in the close callback of its last handle. Worker thread.
#pragma once

#include "admin/metrics.hpp"
#include "config/config.hpp"
#include "exchange/exchange.hpp"
#include "exchange/exchange_client.hpp"
#include "exchange/request_filters.hpp"
#include "exchange/request_handle.hpp"
#include "http/header_rules.hpp"
#include "http/message_head.hpp"
#include "http/request_parser.hpp"
#include "net/backpressure.hpp"
#include "net/lazy_timer.hpp"
#include "net/stream_writer.hpp"
#include "server/client_request.hpp"
#include "server/worker.hpp"
#include "tls/tls_session.hpp"

#include <memory>
#include <optional>
#include <proxyd/plugin.h>
#include <span>
#include <string>
#include <uv.h>

namespace proxyd {

class H2Connection;
struct AccessEntry;
struct H2RequestHead;

// What the end of a request adds to its listener's metrics (the duration histogram, the
// requests counter), told when its last body byte left rather than when its response was made.
struct FinishedRequest {
    ListenerMetrics *metrics;
    size_t target_slot;
    int status;
    uint64_t start_ns; // uv_hrtime() when the request began
    void observe() const { metrics->request_finished(target_slot, status, uv_hrtime() - start_ns); }
};

// The HTTP/2 stream behind a stream-backed ClientConnection (H2Connection's side of it).
class StreamPeer {
  public:
    virtual ~StreamPeer() = default;
    // Where the connection writes a response head as fields (end_head): reused, one per
    // HTTP/2 connection.
    virtual ResponseFields &stream_head_fields() = 0;
    // The final head, written there: without has_body it ends the stream; with it, the body
    // follows through stream_response(), as long as the head's content-length says, or until
    // stream_closed(true) when it gives none.
    virtual void stream_head(const ResponseFields &head, bool has_body) = 0;
    // The head about to go to stream_head() opens a WebSocket tunnel (HeadEnding::opens_tunnel).
    virtual void stream_tunnel_opens() = 0;
    // An interim head (a 103, or a 100 its client's Expect asked for), written there; a 100
    // goes out once, and only while the client's body has not all come.
    virtual void stream_interim_head(const ResponseFields &head) = 0;
    // Response body bytes, bare (no chunk framing); copied before the call returns, unless they
    // lie in stream_body_space(), where they stay.
    virtual void stream_response(const uv_buf_t *bufs, size_t count) = 0;
    // Space to read about hint response body bytes into, that stream_response() then takes
    // without a copy (H2Session::body_space); empty when the stream takes no body bytes now.
    // The bytes of one read go in one stream_response() (ExchangeClient::body_space).
    virtual std::span<char> stream_body_space(size_t hint) = 0;
    // The read into stream_body_space() is done (ExchangeClient::return_body_space).
    virtual void stream_return_body_space() = 0;
    // length body bytes of the file fd from offset, read by the stream as its frames are made
    // (H2Session::send_file): true, and the stream owns fd; false, and the caller sends them.
    virtual bool stream_file(int fd, uint64_t offset, uint64_t length) = 0;
    // The response body's trailer fields (those trailer_fields.hpp lets through go on, lower-cased):
    // after its last bytes, they end the stream. Borrowed for the call.
    virtual void stream_trailers(const MessageHead &trailers, const ConnectionOptions &options) = 0;
    // Response bytes not yet sent to the client (the connection's queued_bytes()).
    virtual size_t stream_queued() const = 0;
    // The connection reads again (its request body was paused): held request bytes may come.
    virtual void stream_resume_input() = 0;
    // The connection closed: complete, its response was written whole (else it was cut).
    virtual void stream_closed(bool complete) = 0;
    // A tunnel's upstream ended (shutdown_write): the stream ends after the bytes sent before.
    virtual void stream_end_response() = 0;
    // Body bytes of the response wait for more than the socket: for the client's window, or to
    // be read from a file as their frames are made (stream_file).
    virtual bool stream_body_waits() const = 0;
    // The response is complete but body bytes of it still wait (stream_body_waits): the request
    // ends when the stream does. Then the stream tells the metrics and writes the request's
    // access-log line (a copy of entry; none when entry is null, the log being off), with the
    // body bytes that reached the client and the time until then.
    virtual void stream_end_when_sent(const AccessEntry *entry, const FinishedRequest &finished) = 0;
};

class ClientConnection final : private RequestParser::Events,
                               private StreamWriter::Listener,
                               public ExchangeClient {
  public:
    static void accept(Worker &worker, const ListenerConfig &listener, uv_stream_t *server);

    Worker &worker() override { return worker_; }
    const ListenerConfig &listener() const override { return listener_; }
    // The request in progress: these are for its exchange, its filters and host calls about it,
    // only while one is (the connection holds no request state while idle).
    const MessageHead &head() const override { return request_->parser.head(); }
    const proxyd_request &request() const override { return request_->view; }
    proxyd_request &request() override { return request_->view; }
    // The method as filters left it (request_set_method), else as sent.
    std::string_view method() const override {
        const RequestFilters *f = request_->filters.get();
        return f && f->method_edited ? std::string_view(f->method) : request_->parser.method();
    }
    uint8_t http_minor() const override { return request_->view.http_minor; }
    bool wants_keep_alive() const override;
    // A routing plugin or a filter replaced request().path (and maybe its query).
    bool path_rewritten() const override { return request_->path_rewritten; }
    bool request_has_body() const override { return request_->parser.has_body(); }
    bool request_body_in_input() const override { return request_->parser.body_in_input(); }
    std::string_view received_host() const override { return request_->parser.view().host; }
    bool discard_request_body() override {
        start_discarding_body();
        return discarding_body_;
    }
    void drop_request_body(size_t bytes) override;
    bool request_chunked() const override { return request_->parser.chunked(); }
    const MessageHead *request_trailers() const override { return request_->parser.trailers(); }
    int64_t request_content_length() const override { return request_->parser.content_length(); }
    std::string_view client_ip() const override { return client_ip_; }
    AccessRecord &record() override { return request_->record; }

    ListenerMetrics &metrics() override { return metrics_; }

    // Writes bytes to the client; what the socket does not take at once is copied and queued,
    // so the caller's buffers are free on return. Ignored once the connection is closing.
    ResponseHeadWriter start_head(std::string &out, int status, std::string_view reason) override;
    void end_head(ResponseHeadWriter &head, std::string_view date, const HeadEnding &ending) override;
    void end_interim_head(ResponseHeadWriter &head) override;
    bool frames_body() const override { return h2_stream_; }
    void send(std::string_view data) override;
    void send(const uv_buf_t *bufs, size_t count) override;
    std::span<char> body_space(size_t hint) override;
    void return_body_space() override;
    bool send_file(int fd, uint64_t offset, uint64_t length) override;
    // Over TLS: bytes encrypted now, their records written with the next send()'s (the caller
    // reuses the bytes in between); without TLS, sent at once.
    void encrypt_for_next_send(const uv_buf_t *bufs, size_t count);
    void send_trailers(const MessageHead &trailers, const ConnectionOptions &options) override;
    size_t queued_bytes() const override { return peer_ ? peer_->stream_queued() : writer_.queued_bytes(); }
    // A body the exchange writes to the socket itself (sendfile) waits for room: the client has
    // send_timeout to make some, as for bytes queued here.
    void await_writable() override;
    int fd() const override;
    // The connection speaks TLS: bytes for the client go through send() only (never written to
    // fd() directly, never sendfile).
    bool encrypted() const override { return tls_ != nullptr || (parent_ && parent_->encrypted()); }
    // The response's bytes may be written to fd() and sendfile'd: neither TLS nor an HTTP/2 stream.
    bool sendfile_allowed() const override { return !tls_ && !h2_stream_; }
    // An HTTPS connection's TLS session (null in cleartext): what was negotiated, for plugins.
    const TlsSession *tls_session() const override {
        if (h2_stream_) return parent_ ? parent_->tls_session() : nullptr;
        return tls_ ? &tls_->session : nullptr;
    }
    // What the client's certificate proved, read from OpenSSL once per connection; only on an
    // HTTPS connection whose handshake completed.
    const TlsClientCertificate &tls_client_certificate() override;
    bool closing() const { return connection_phase_ == ConnectionPhase::kClosed; }
    // send() still delivers: neither closing nor shut down after a failed write.
    bool writable() const override { return connection_phase_ < ConnectionPhase::kLingering; }

    // The exchange's response is completely queued (or sent). keep_alive false closes the
    // connection once the queue has drained.
    void finish_exchange(bool keep_alive) override;
    // The response broke after its head went out: close at once so the client sees a truncated
    // message, never a complete-looking one.
    void abort() override;
    void abort_with_reset() override;
    // A response for a request that could not be dispatched, or whose exchange failed before any
    // response byte: status, a small HTML body, and Connection: close when close is true.
    void send_error(int status, bool close) override;
    // 503 with Retry-After: seconds (an upstream group's queue was full or timed out).
    void send_unavailable(unsigned retry_after_seconds, bool close) override;
    // No request is in progress (nor an HTTP/2 stream) and nothing waits to be written.
    bool idle() const;
    // Closes the connection if it is idle.
    void close_if_idle();

    // The exchange switched protocols: from now on the client's bytes (first those held back
    // after the request head) go unparsed to the exchange's on_tunnel_bytes, and its EOF to
    // on_tunnel_client_ended instead of closing the connection.
    void start_tunnel() override;
    // Half-closes towards the client once the queued bytes are out; reading goes on.
    void shutdown_write() override;

    // An orphaned content exchange (its ABI 1.0 plugin may read the request until it finishes)
    // keeps this object, and so its request (view, head and arena), past the connection's close:
    // the connection is then deleted by release_request_hold(), not by its close callback.
    void hold_request() override { request_held_ = true; }
    void release_request_hold() override;

    // -- filters (client_filters.cpp; the filter kind of plugin.h) --
    // The request's filter state, made on first use: a chain to run, a plugin keeping state.
    RequestFilters &filters() override;
    // Null also while no request is in progress.
    RequestFilters *filters_if_any() const { return request_ ? request_->filters.get() : nullptr; }
    // The request's fields as filters left them; nullptr when none changed any (then head()).
    const HeaderList *edited_headers() const override {
        const RequestFilters *f = filters_if_any();
        return f ? f->headers() : nullptr;
    }
    // The request waits on a plugin that may resume or answer it: a filter's request_head,
    // running or pending, or a content plugin's answer (subrequest_start is only for these).
    bool in_plugin_phase() const {
        const RequestFilters *f = filters_if_any();
        return (f && f->editable()) || (exchange_ && exchange_->plugin_answering());
    }
    // A filter changed the method, path or a field: the request view follows.
    void refresh_request_view();
    // Final response heads go through response-head filters: some filter's chain was reached.
    bool filters_response_heads() const override {
        const RequestFilters *f = filters_if_any();
        return f && f->filters_response_heads();
    }
    // The request went through a filter's request_head hook.
    bool filters_request_heads() const override {
        const RequestFilters *f = filters_if_any();
        return f && f->filters_request_heads();
    }
    // Runs the reached filters' response_head hooks, last first, on head.
    void filter_response_head(FilteredResponseHead &head) override;
    // filter_resume: the pending filter is done, with what its hook would have returned.
    // PROXYD_ESTATE when no filter of this request is pending.
    int resume_filters(int status);

    // -- HTTP/2 (h2_connection.cpp) --
    // A stream-backed connection for one stream of parent's HTTP/2 connection.
    static ClientConnection *open_stream(ClientConnection &parent, StreamPeer &peer);
    // The stream's request head, served as it came (RequestParser::accept_head): its body's bytes
    // follow through feed_stream() as they are, and its END_STREAM through end_stream_body().
    void start_stream_request(const H2RequestHead &head);
    // The stream's request bytes: its body's, or, for a WebSocket stream, the tunnel's.
    void feed_stream(std::string_view bytes);
    // The stream's END_STREAM after a head from start_stream_request(): a body without a
    // content-length ends (once the bytes fed before it are parsed), with the trailer fields
    // that came before it (RequestParser::accept_trailers).
    void end_stream_body(std::span<const std::pair<std::string, std::string>> trailers = {});
    // The stream's END_STREAM, for a WebSocket stream (RFC 8441): the tunnel's client side ended
    // (passed on once the tunnel runs).
    void stream_input_ended();
    // The stream connection takes request bytes (its body is not paused).
    bool stream_reading() const { return reading_; }
    // A stream of this HTTP/2 connection answered without a stream connection (431 for a header
    // list over its bound, 501 for CONNECT, 500 for a WebSocket without a key): counted and
    // logged as every other answer is.
    void log_answered_stream(std::string_view method, std::string_view target, int status);
    // Response bytes of the stream left for the client; queued are still waiting.
    void stream_drained(size_t queued);
    // The HTTP/2 connection ended (a finished drain, a connection error): close once its
    // frames are written.
    void close_after_output();
    // The HTTP/2 connection read or finished something: its idle timer follows.
    void h2_activity();
    // The worker began to drain this connection's listener (reload, stop).
    void drain_started();

    // Request-body flow control for exchanges that forward it.
    void pause_body() override;
    void resume_body() override;

    // Pipelined bytes held while a response is in progress before reading stops.
    static constexpr size_t kMaxPending = 256 * 1024;

  private:
    // The phases and their legal steps are described at the top of this file.
    enum class RequestPhase : uint8_t { kIdle, kHead, kBody, kComplete };
    enum class ResponsePhase : uint8_t { kPending, kFinishedInParser };
    enum class ConnectionPhase : uint8_t { kOpen, kTunnel, kClosingAfterFlush, kLingering, kClosed };
    enum TimerMode : uint8_t {
        kTimerNone,
        kTimerHandshake,
        kTimerHeader,
        kTimerBody,
        kTimerIdle,
        kTimerLinger,
        kTimerSend,
        kTimerH2Stall // HTTP/2: a stream's response waits for a window (H2Connection::stall_deadline)
    };

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
    // Writes bytes as they go on the wire (ciphertext on a TLS connection), counting them.
    void write_to_socket(const uv_buf_t *bufs, size_t count);
    // TLS: decrypts what was read into the worker's tls_buffers().plaintext and writes what the
    // handshake answers. False when the connection was closed (a failed handshake, a bad record,
    // close_notify).
    bool decrypt(const char *data, size_t len);
    // Writes the worker's tls_buffers().records to the socket.
    void flush_tls_output();
    void send_encrypted(const uv_buf_t *bufs, size_t count);
    // Records appended to the worker's tls_buffers().records; false (the connection failing) on
    // a TLS error.
    bool encrypt(const uv_buf_t *bufs, size_t count);
    void send_close_notify();

    // Switches to HTTP/2: what is read from here on goes to h2_.
    void start_h2();
    // A cleartext listener with http2: false while the first bytes may still be the HTTP/2
    // preface (h2c_matched_ of its bytes held, or handed to h2_ once whole), true to parse them as
    // HTTP/1.1.
    bool probe_h2c(const char *data, size_t len);
    // A stream connection's response ended: the peer hears it, the connection closes.
    void finish_stream();

    static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
    static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
    static void on_timer(void *owner);
    // uv_read_start/uv_read_stop unless already so; reading_ says which is in effect.
    void start_reading();
    void stop_reading();

    void set_request_phase(RequestPhase next);
    void set_response_phase(ResponsePhase next);
    void set_connection_phase(ConnectionPhase next);

    // Parses what was read, or holds it in pending_ while the parser is busy or paused.
    void feed(const char *data, size_t len);
    // Parses the held pipelined bytes, request after request, until the parser pauses again.
    void resume_parsing();
    void execute(const char *data, size_t len);
    // What follows a parser call: the bytes after a message's end held (data, len: its input),
    // an error answered, an exchange that finished inside it completed.
    void after_parse(RequestParser::Result result, const char *data, size_t len);
    // The request's state from the worker's pool, when bytes of a request are to be parsed; given
    // back when the connection goes idle (or is deleted), filter state first.
    void take_request();
    void release_request();
    // When this request began: a stream's first HEADERS frame, else now (an HTTP/1.x request's
    // first byte, when called as it begins; an answer to a head refused before it began).
    uint64_t request_began_ns() const {
        return h2_stream_ && stream_began_ns_ ? stream_began_ns_ : uv_hrtime();
    }
    void dispatch();
    // The listener's router (or a filter's route_to) picks the target; its filters run next.
    void route_request();
    void start_exchange(Target target);
    // An OPTIONS or TRACE bound for an upstream whose Max-Forwards is 0 is answered here, this
    // proxy being its final recipient (RFC 9110 §7.6.2): true when it was.
    bool answer_last_hop();
    // request_head hooks of the reached chain, from the next due one on, until one answers or
    // pends, or the chain ends (then routing, or the exchange).
    void run_request_filters();
    // A filter's request_head ended with status (RESPONDED, or a failure: 500).
    void finish_filters(const PluginInstance &filter, int status);
    void send_filter_answer();
    // A final response of proxyd's own (fields without Date, body) through response-head filters.
    void send_filtered_response(int status, HeaderList fields, std::string body, bool close);
    // Body bytes that arrive while a filter is pending wait for the exchange.
    void hold_request_body(std::string_view data);
    void cancel_pending_filter();
    // A filter is pending and reading is stopped: a reset (or an error) on the socket still ends
    // the request now, not when reading resumes after the filter (which would forward it).
    void watch_hangup();
    void stop_hangup_watch();
    // A pending filter has the listener's filter_timeout to resume or answer; past it the request
    // is answered 500 and the filter hears its cancelled hook, as when the client leaves.
    void start_pending_deadline();
    void stop_pending_deadline();
    void pending_filter_timed_out();
    // The reached filters' log hooks, last first, then the request's states are freed.
    void run_log_filters(int sent_status, bool completed);
    void fill_request_view();
    // `OPTIONS *`: the server's own answer, for no resource in particular.
    void answer_server_options();
    // The answer of a listener with redirect_https, to every request.
    void send_https_redirect();
    // A routing plugin's PROXYD_ROUTE_REDIRECT: 301 (GET, HEAD) or 308 to location.
    void send_route_redirect(proxyd_str location);
    // Both redirects' answer: "Moved to <location>", the unread body dropped after it.
    void send_redirect(int status, std::string_view location);
    // Before an answer that does not use the request's body, while some of it is still to come:
    // the rest is to be read and dropped after the answer, and the connection kept for the next
    // request (nginx's ngx_http_discard_request_body), when the connection may be kept and the
    // body's declared length is within discard_limit(). Otherwise nothing changes, and the answer
    // closes the connection (send_own_response).
    void start_discarding_body();
    // The most of a body that is read and dropped: the listener's max_body_size, or
    // kMaxDiscardedBodyBytes when it sets none.
    uint64_t discard_limit() const;
    // After parsing while a body is discarded: the next request once its last byte came; an
    // orderly close once it grew past discard_limit() (a chunked body's size shows as it comes).
    void check_discarded_body();
    // Past the discard limit: the body is no longer read (nor its timeout run), for good; the
    // connection closes after the answer.
    void stop_reading_body();
    // A response proxyd writes itself: an error page or a redirect (location non-empty), with a
    // Retry-After when retry_after is non-empty; no Content-Type when content_type is empty.
    void send_own_response(int status, std::string_view content_type, std::string_view location,
                           std::string body, bool close, std::string_view retry_after = {});
    // Logs and releases the finished exchange, then starts the next request (true) or heads for
    // closing (false).
    bool complete_exchange();
    void start_next_request();
    void write_access_log();
    AccessEntry access_entry() const;
    void write_access_entry(const AccessEntry &entry);
    void begin_close();
    // No byte from the client waits unread in the kernel (FIONREAD).
    bool receive_queue_empty() const;
    void close_now();
    void arm_timer(uint64_t ms, TimerMode mode);
    void release_exchange();
    void arm_body_timer();

    Worker &worker_;
    const ListenerConfig &listener_;
    ListenerMetrics &metrics_;
    uv_tcp_t tcp_{};
    LazyTimer timer_;
    // The request in progress (client_request.hpp): taken when its bytes are to be parsed, given
    // back when the connection goes idle; never null outside RequestPhase::kIdle.
    std::unique_ptr<ClientRequest> request_;
    std::string client_ip_;
    std::string pending_; // bytes read but not parsed while the parser is paused
    std::unique_ptr<Exchange> exchange_;
    StreamWriter writer_;
    // On an HTTPS listener only, so a cleartext connection pays one pointer for TLS.
    struct TlsState {
        explicit TlsState(SSL_CTX *ctx) : session(ctx) {}
        TlsSession session;
        std::optional<TlsClientCertificate> client_certificate; // once asked for
    };
    std::unique_ptr<TlsState> tls_;
    int handles_open_ = 0;
    uint32_t requests_served_ = 0;
    RequestPhase request_phase_ = RequestPhase::kIdle;
    ResponsePhase response_phase_ = ResponsePhase::kPending;
    ConnectionPhase connection_phase_ = ConnectionPhase::kOpen;
    TimerMode timer_mode_ = kTimerNone;
    bool finished_keep_alive_ = false; // what the last finish_exchange() was told
    bool in_parser_ = false;
    bool reading_ = false;
    bool body_paused_ = false;
    bool write_shut_ = false; // shutdown_write() was called (a tunnel)
    bool read_ended_ = false; // a tunnelled client sent EOF
    bool request_held_ = false; // hold_request()
    bool reset_on_close_ = false;  // abort_with_reset(): the close sends a reset, not a FIN
    bool discarding_body_ = false; // start_discarding_body(): body bytes are read and dropped
    uint64_t discarded_bytes_ = 0; // the request's body bytes read and dropped, in any state
    bool body_reading_stopped_ = false; // stop_reading_body(): resume_body() does not read again
    // HTTP/2: the TCP connection's session, once negotiated; or, on a stream connection, its peer
    // (null once closed), the TCP connection (null once that closed) and the mark that it is one.
    std::unique_ptr<H2Connection> h2_;
    StreamPeer *peer_ = nullptr;
    ClientConnection *parent_ = nullptr;
    bool h2_stream_ = false;
    uint64_t stream_began_ns_ = 0;     // a stream's first HEADERS frame (H2RequestHead::began_ns)
    bool stream_body_end_due_ = false; // end_stream_body() came, behind bytes not parsed yet
    bool h2c_possible_ = false; // the preface may still come (cleartext, http2 on, nothing read)
    uint8_t h2c_matched_ = 0;   // the preface's bytes read so far (they are the preface's own)
};

} // namespace proxyd
