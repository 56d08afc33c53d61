// A client connection that speaks HTTP/2 (ALPN "h2", or the prior-knowledge preface on a
// cleartext listener with http2 on). The ClientConnection keeps its socket, TLS and timers and
// hands the plaintext it reads here; this owns the H2Session, writes its frames back through the
// connection, and serves each stream with a stream-backed ClientConnection (Apache mod_http2's
// model): the stream's request head goes into that connection's parser as the fields it came in
// (RequestParser::accept_head, no HTTP/1.1 text made and parsed back; a WebSocket's extended
// CONNECT as the fields of the Upgrade GET it stands for, h2/h2_websocket_upgrade) and its body as
// the bare DATA bytes (its trailers, if any, with its END_STREAM), so filters, routing, exchanges,
// limits and the access log run unchanged.
// The response needs no parser: its exchange writes the head as HTTP/2 fields (ResponseHeadWriter
// into ResponseFields, through the connection's end_head), submitted at once, then the bare body:
// the stream ends with the content-length's last byte, with the head when it has no body, or,
// without a length, when the exchange finishes (after its trailers, when the exchange gave some);
// a response cut short resets the stream.
//
// Backpressure both ways. Request bodies: a DATA frame's bytes are given to the stream's
// connection only while it reads (the exchange pauses it when the upstream is slow), and the
// client's window opens only as they are (H2Session::consume), so a slow backend holds the
// client to its window. Responses: a stream connection's queued_bytes() are its H2Session queue,
// so the exchange stops reading the upstream when the client's windows or the socket are full;
// frames are produced a round (H2Session::kRoundBytes) at a time, each written before the next,
// and only while the socket's own queue is at most the low-water mark: a large window never
// makes the connection build megabytes of frames in memory.
//
// Exchanges were written for a socket whose events come from the loop, never from inside their
// own calls: so what they set off here (a paused body resuming, a stream's end, its queue
// drained) runs on the next loop turn (an idle handle), not inside their call. Frames to write
// wait for it too, but for a stream given a frame's worth of body bytes: one round goes out at
// once, while the bytes are in the CPU's cache, and the events it sets off wait for the next
// turn (write_round_now).
//
// Drain (reload, stop): a shutdown notice and a PING, then GOAWAY with the last stream taken;
// the connection closes once its streams have finished.
//
// Timeouts, as nginx's send_timeout and keepalive_timeout: a stream whose response bytes wait
// for a window the client never opens (while its exchange runs, or after it completed) is reset
// with CANCEL after the listener's send_timeout without progress, its exchange released; a
// connection without streams gets GOAWAY(NO_ERROR) after keepalive_timeout and is closed. The
// stall deadline is kept here and the connection's one timer runs it (stall_deadline()), so a
// stream costs no timer. Worker thread only.
#pragma once

#include "h2/h2_session.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <uv.h>
#include <vector>

namespace proxyd {

class ClientConnection;
struct ListenerConfig;

class H2Connection final : private H2Events, private H2Output {
  public:
    H2Connection(ClientConnection &connection, const H2Limits &limits);
    ~H2Connection() override;
    H2Connection(const H2Connection &) = delete;
    H2Connection &operator=(const H2Connection &) = delete;

    // Plaintext bytes read from the client.
    void receive(const char *data, size_t len);
    // The socket's write queue fell to the low-water mark: frames held back go out.
    void on_socket_drained();
    // Reload or stop: no new streams; closes once the streams taken have finished.
    void drain();
    // The connection is closing: every stream still served is cut (its request is logged as one
    // the client left), and the scheduling handle is closed with on_closed, its data the connection.
    void close(uv_close_cb on_closed);
    // No stream is open: the connection's idle timeout runs.
    bool idle() const { return streams_.empty(); }
    // A stream was opened since the last call (the idle timeout restarts from its end, even when
    // it opened and ended within one read).
    bool take_stream_opened() { return std::exchange(stream_opened_, false); }
    // Loop time (ms) by which some stream's response has waited for a window for send_timeout,
    // to check then (it may have moved on); 0 when none waits.
    uint64_t stall_deadline() const { return stall_deadline_; }
    // The stall deadline passed: streams stuck for send_timeout are reset (CANCEL).
    void expire_stalled();
    // keepalive_timeout passed without a stream: GOAWAY(NO_ERROR), then the close.
    void expire_idle();
    // The connection went idle: buffers and tables sized for its busiest moment are freed, so an
    // idle connection holds only the session's own state.
    void trim();

  private:
    class Stream;
    friend class Stream;

    // H2Events
    void on_request_head(H2RequestHead head) override;
    void on_request_answered(int32_t stream_id, int status, std::string_view method,
                             std::string_view path) override;
    void on_request_data(int32_t stream_id, std::string_view data) override;
    void on_request_trailers(int32_t stream_id, std::vector<H2Field> &&fields) override;
    void on_request_end(int32_t stream_id) override;
    void on_stream_close(int32_t stream_id, uint32_t error_code, size_t unsent) override;
    void on_response_data_sent(int32_t stream_id, size_t queued) override;
    void on_response_read_failed(int32_t stream_id, int error) override;
    // H2Output: a round of frames, to the socket (or its TLS session) at once; over TLS in
    // parts, encrypted as they come and written with the round's last.
    void write_frames(const uv_buf_t *bufs, size_t count) override;
    bool takes_rounds_in_parts() const override;
    void write_frames_part(const uv_buf_t *bufs, size_t count) override;

    Stream *find(int32_t stream_id);
    // Frames and resumed request bodies on the next loop turn (see the top of this file).
    void schedule();
    static void on_scheduled(uv_idle_t *idle);
    // Rounds of frames while the socket takes them, a few per loop turn.
    void flush();
    // One round now, from inside an exchange's call: a stream was given a frame's worth of body
    // bytes, which leave while they are still in the CPU's cache instead of after every other
    // read of the loop turn. What the round sets off for exchanges (a stream's end, its queue
    // drained, a session error) waits for the next turn, as the top of this file says.
    void write_round_now();
    // The session's events held back during write_round_now(), replayed on the next turn.
    void replay_held_events();
    // After a session call: closes the connection when the session ended. False then.
    bool finish_round(H2Session::Status status);
    // The stream's response bytes still queued after a change: its stall clock starts, restarts
    // (progress) or stops.
    void track_stall(Stream &stream, size_t queued, bool progress);
    int64_t send_timeout_ms() const;

    ClientConnection &connection_;
    H2Session session_;
    ResponseFields head_fields_; // where a stream's connection writes its response head
    std::unordered_map<int32_t, Stream> streams_; // in the map's nodes: one allocation a stream
    uv_idle_t scheduled_{};
    bool scheduled_running_ = false;
    bool flush_wanted_ = false;
    bool in_session_ = false;
    bool closing_ = false;
    // Inside write_round_now(): the session's stream events are held here for the next turn.
    struct HeldEvent {
        int32_t stream_id;
        bool closed;   // on_stream_close, else on_response_data_sent
        size_t unsent; // on_stream_close's
    };
    bool holding_events_ = false;
    std::vector<HeldEvent> held_events_;
    std::vector<HeldEvent> replaying_;             // held_events_ while they are replayed
    std::optional<H2Session::Status> held_status_; // a round's end that closes the connection
    uint64_t stall_deadline_ = 0;
    bool stream_opened_ = false;
};

// The listener's HTTP/2 settings as the session's limits.
H2Limits h2_limits(const ListenerConfig &listener);

} // namespace proxyd
