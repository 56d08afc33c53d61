// One client connection's HTTP/2 server side, without any I/O: the connection hands in the bytes
// it read and writes out the frames this hands to its H2Output, one bounded round at a time.
// Framing, HPACK, stream states and flow control are nghttp2's (its callback API); this class
// turns them into the events of an HTTP server: a stream's request head (pseudo-headers mapped,
// cookies joined), its body bytes under explicit flow control, its trailers, its end, its close;
// and it takes the response back: a head, then body bytes the owner appends when it has them, and
// trailers, if any, that end it.
//
// Flow control is the owner's: a request body's bytes are delivered at once, but the client may
// send more only as the owner calls consume() for what it has passed on, so a slow reader behind
// the owner bounds what a client can make us hold to the windows (H2Limits).
//
// Floods end the connection with a GOAWAY: SETTINGS and PING answers piling up unread
// (ENHANCE_YOUR_CALM), more SETTINGS entries per frame than allowed, too many CONTINUATION
// frames, RST_STREAM faster than the reset rate (Rapid Reset, CVE-2023-44487), and bursts of
// frames that carry nothing (PRIORITY, empty DATA without END_STREAM).
//
// Stream ids (RFC 9113 §5.1, §5.1.1): a HEADERS on a client stream id no higher than one already
// opened, for a stream no longer open, is a connection error (PROTOCOL_ERROR), where nghttp2
// alone ignores it; unless we reset that stream while the client could still send on it (its
// trailers may cross our RST_STREAM), or a GOAWAY went out (streams above its last id are ignored).
//
// One session per connection (server/h2_connection owns it), used on that connection's thread only.
#pragma once

#include "h2/h2_data_queue.hpp"
#include "http/response_fields.hpp"
#include "net/output_slices.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

struct nghttp2_session;

namespace proxyd {

class H2MemoryPool;

struct H2Limits {
    uint32_t max_concurrent_streams = 100;
    uint32_t initial_stream_window = 64 * 1024 - 1; // bytes a stream may send before we consume
    uint32_t connection_window = 1024 * 1024;       // the same, for all streams together
    uint32_t max_header_list_size = 64 * 1024;      // RFC 9113 §6.5.2 accounting (name + value + 32)
    size_t max_settings_entries = 32;               // per SETTINGS frame
    size_t max_outbound_ack = 1000;                 // SETTINGS/PING answers queued, not yet written
    size_t max_continuations = 8;                   // CONTINUATION frames after one HEADERS
    uint64_t reset_burst = 200;                     // RST_STREAM from the client: a token bucket
    uint64_t resets_per_second = 20;
    uint32_t idle_frame_burst = 1000; // PRIORITY and empty DATA frames, per idle_frame_window
    std::chrono::milliseconds idle_frame_window{1000};
    // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): the client may send an extended CONNECT
    // (:protocol); without it nghttp2 resets a stream that carries :protocol (PROTOCOL_ERROR).
    bool enable_connect_protocol = false;
};

using H2Field = std::pair<std::string, std::string>;

// A request head as an HTTP/1.1 request line and fields would carry it.
struct H2RequestHead {
    int32_t stream_id = 0;
    std::string method;
    std::string path;   // :path ("*" for OPTIONS *; empty for CONNECT)
    std::string scheme; // :scheme
    std::string protocol; // :protocol of an extended CONNECT (RFC 8441), else empty
    // Regular fields, names lower-case as HTTP/2 requires; `host` from :authority when the
    // request carried no Host field; the cookie crumbs joined into one `cookie` field with "; ".
    std::vector<H2Field> fields;
    bool has_body = false; // false: END_STREAM came with the head
    // When its first HEADERS frame arrived, CLOCK_MONOTONIC nanoseconds (steady_clock's on Linux,
    // the clock uv_hrtime reads): the request began then, however long its CONTINUATIONs took.
    uint64_t began_ns = 0;
};

// What the session tells its owner, from inside receive() (or flush()); the owner may call the
// session's submit/consume/reset functions from these, but must not destroy it there.
class H2Events {
  public:
    virtual ~H2Events() = default;
    virtual void on_request_head(H2RequestHead head) = 0;
    // Body bytes of the stream, to be consume()d once passed on; valid during the call only.
    virtual void on_request_data(int32_t stream_id, std::string_view data) = 0;
    // The trailer fields that end the stream's request (its HEADERS after the body, bounded as
    // the head is), just before on_request_end. Names lower-case, no pseudo-header (nghttp2
    // checks); valid during the call only.
    virtual void on_request_trailers(int32_t stream_id, std::vector<H2Field> &&fields) = 0;
    // The client's END_STREAM: no more body.
    virtual void on_request_end(int32_t stream_id) = 0;
    // The session answered the stream itself, with no on_request_head (a header list over
    // max_header_list_size: 431), or refused its head as malformed (RFC 9113 §8.1.1, §8.2, §8.3:
    // RST_STREAM PROTOCOL_ERROR, told as 400, nginx's answer), for the owner's access log and
    // metrics; the request's method and path as far as they came.
    virtual void on_request_answered(int32_t, int /*status*/, std::string_view /*method*/,
                                     std::string_view /*path*/) {}
    // The stream is gone (answered and ended, or reset by either side; error_code 0 after a
    // normal end, and after a client's RST_STREAM(NO_ERROR) too). No more calls about it; its
    // unconsumed bytes were given back to the window. unsent: its response bytes that never left
    // in a DATA frame (0 after a normal end).
    virtual void on_stream_close(int32_t stream_id, uint32_t error_code, size_t unsent) = 0;
    // The stream's queued response bytes went out into frames; `queued` are still waiting.
    virtual void on_response_data_sent(int32_t stream_id, size_t queued) = 0;
    // Reading the file queued for the stream's response (send_file) failed: error is an errno
    // value, or ENODATA when the file ended before its length. The stream is reset.
    virtual void on_response_read_failed(int32_t stream_id, int error) = 0;
};

// Where a session's frames go: the connection's socket (through TLS when it has it). A round's
// frames come in one call as a gather list: control frames copied, DATA frames borrowed from the
// streams' queues where they lie (header and payload together, or apart: H2DataQueue). Valid
// during the call only, so what the socket does not take at once must be copied.
class H2Output {
  public:
    virtual void write_frames(const uv_buf_t *bufs, size_t count) = 0;
    // An output that encrypts (TLS) takes a round in parts: write_frames_part() encrypts the
    // frames at once and keeps their records for the round's last call, write_frames(). The
    // session then writes a DATA frame's header over the end of the frame before it once that
    // one went, so that every frame is one span, one record sealed where it lies; an output
    // that takes rounds whole gets such a header as a slice of its own.
    virtual bool takes_rounds_in_parts() const { return false; }
    virtual void write_frames_part(const uv_buf_t *bufs, size_t count) { write_frames(bufs, count); }

  protected:
    ~H2Output() = default;
};

class H2Session {
  public:
    enum class Status {
        kOk,      // go on reading and writing
        kClosing, // a GOAWAY went out for a connection error: write the output, then close
        kError,   // not HTTP/2 at all (a bad preface) or the library failed: close now
    };

    // The server's SETTINGS (and the connection window) are queued at once: the first flush()
    // or receive() writes them, before the client's preface needs to have arrived. nghttp2's
    // memory comes from `memory` (the worker's, outliving the session) or else from malloc.
    H2Session(H2Events &events, const H2Limits &limits = {}, H2MemoryPool *memory = nullptr);
    ~H2Session();
    H2Session(const H2Session &) = delete;
    H2Session &operator=(const H2Session &) = delete;

    // What one round writes at most (it ends after the frame that reaches it): a large window
    // never makes the session build more than this in memory; the owner asks for the next round
    // (flush) once the socket took this one.
    static constexpr size_t kRoundBytes = 64 * 1024;

    // Bytes read from the connection, all of them taken. Events fire during the call; then one
    // round of frames to send (answers, responses submitted meanwhile) goes to output.
    Status receive(const char *data, size_t len, H2Output &output);
    // One round of the frames waiting (submissions made outside receive(), DATA a window let go).
    Status flush(H2Output &output);
    // Frames wait beyond the last round: the owner calls flush() again when the socket has room.
    bool output_pending() const;
    // As above, with every round's frames appended to output (tests and the fuzzer).
    Status receive(const char *data, size_t len, std::string &output);
    Status flush(std::string &output);

    // A final response head for the stream (200..999), as ResponseHeadWriter wrote it (names
    // lower-case, connection-specific fields dropped): its names and values go to nghttp2 as they
    // lie, no copy made here. With has_body, the body follows through send_data(); without, the
    // stream ends with the head. False if the stream is gone or already answered.
    bool submit_response(int32_t stream_id, const ResponseFields &head, bool has_body);
    // The same from a status and fields in any case (proxyd's own short answers, tests): they go
    // through ResponseFields' rules first.
    bool submit_response(int32_t stream_id, int status, const std::vector<H2Field> &fields, bool has_body);
    // An interim (1xx, not 101) head before the final response, e.g. 103 Early Hints. False if
    // the stream is gone or already answered.
    bool submit_interim(int32_t stream_id, const ResponseFields &head);
    // Body bytes of a response submitted with has_body, copied into the stream's queue (as the
    // DATA frames will carry them: H2DataQueue), or taken where they lie if they were read into
    // body_space(); `end` with the last (possibly empty) piece. They leave as the client's
    // windows allow. False if the stream is gone, not answered, answered without a body or
    // already ended, or for bytes behind a file (send_file).
    bool send_data(int32_t stream_id, std::string_view bytes, bool end);
    // length body bytes from the file fd at offset, behind those sent so far, read only as their
    // DATA frames are made (H2DataQueue::append_file); `end` when they end the body. On true the
    // session owns fd (it closes it), and no bytes may follow (send_data refuses them). False,
    // fd left with the caller, where send_data() would refuse bytes or a file is queued already.
    bool send_file(int32_t stream_id, int fd, uint64_t offset, uint64_t length, bool end);
    // Space in the stream's queue to read about hint body bytes into (H2DataQueue::reserve), so
    // that send_data() takes them without a copy; empty where send_data() would refuse them.
    std::span<char> body_space(int32_t stream_id, size_t hint);
    // The read into the space body_space() handed out is done, its bytes sent: the rest of it is
    // no longer reserved, and a block left empty is freed (H2DataQueue::unreserve).
    void return_body_space(int32_t stream_id);
    // Trailer fields for a response submitted with has_body, not yet ended: after its last DATA
    // frame they go as a HEADERS frame that ends the stream (RFC 9113 §8.1) instead of that
    // frame's END_STREAM. Names lower-case, none connection-specific (the caller's rule). False
    // if the stream is gone, not answered, answered without a body (HEAD, 204, 304: its head
    // ended the stream) or already ended; nothing is kept then.
    bool send_trailers(int32_t stream_id, std::vector<H2Field> fields);
    // Response bytes of the stream still queued (the owner's backpressure mark).
    size_t queued(int32_t stream_id) const;
    // The stream's queued response bytes are more than the client's windows (the stream's and
    // the connection's) let us send now: they wait for its WINDOW_UPDATE, not for the socket.
    bool waits_for_window(int32_t stream_id) const;
    // Body bytes of the stream wait for more than the socket: for the client's windows
    // (waits_for_window), or to be read from the file queued with send_file().
    bool body_waits(int32_t stream_id) const;
    // The owner passed on n body bytes of the stream: the client may send as many more.
    void consume(int32_t stream_id, size_t n);
    // RST_STREAM with error_code (an RFC 9113 §7 code).
    void reset_stream(int32_t stream_id, uint32_t error_code);
    // A graceful end (reload, stop): GOAWAY(NO_ERROR) naming the last stream taken; streams up
    // to it finish, later ones are refused. finished() once they have.
    void drain();
    // The gentle start of a drain (RFC 9113 §6.8): a GOAWAY naming the largest stream id, so the
    // client opens no new streams, and a PING; drain() follows two PING round trips later, so
    // that streams the client sent before it read the notice are still served, not refused.
    void notice_shutdown();
    // The connection stayed without streams for its idle timeout: GOAWAY(NO_ERROR) naming the
    // last stream taken; finished() once it is written.
    void goaway_idle();

    // Nothing more to read or write: the owner closes the connection once output is written.
    bool finished() const;
    // Why the session ended with kClosing or kError, for the error log.
    const std::string &error_text() const { return error_; }
    size_t open_streams() const { return streams_.size(); }
    // No stream is open: the stream table's buckets are freed (they are made again on the next).
    void trim();

  private:
    struct Stream;
    struct Callbacks;
    Stream *find(int32_t stream_id);
    // The stream, if it was answered with a body that has not ended: body bytes, a file or
    // trailers may still go to it.
    Stream *body_open(int32_t stream_id);
    const Stream *find(int32_t stream_id) const;
    int finish_head(Stream &stream, bool end_stream);
    // A malformed request head: the stream is reset (PROTOCOL_ERROR) and the owner told, once.
    void refuse_head(Stream &stream, int32_t stream_id, bool reset);
    int add_trailer(Stream &stream, const uint8_t *name, size_t name_len, const uint8_t *value,
                    size_t value_len);
    int submit_trailers(int32_t stream_id, const std::vector<H2Field> &fields);
    bool waits_for_window(const Stream &stream, int32_t stream_id) const;
    // The stream's data provider said NGHTTP2_ERR_DEFERRED: it has bytes again.
    void resume(Stream &stream, int32_t stream_id);
    Status produce(H2Output &output);
    // Rounds after a first one that ended with status, until nothing more is pending.
    Status produce_all(std::string &output, Status status);
    void terminate(uint32_t error_code, std::string why);
    bool count_idle_frame();
    bool take_reset_token();
    // A HEADERS frame on a client stream id: false after ending the connection for a reused or
    // lower stream id.
    bool check_stream_id(int32_t stream_id);

    H2Events &events_;
    H2Limits limits_;
    nghttp2_session *session_ = nullptr;
    std::unordered_map<int32_t, Stream> streams_; // in the map's nodes: one allocation a stream
    // The round being produced (produce()'s own, so an idle session holds none): its frames,
    // their size, and the queues of streams that closed during it (their frames are borrowed
    // until the round is written).
    OutputSlices *round_ = nullptr;
    size_t round_bytes_ = 0;
    // Where the round is cut, for an output that takes rounds in parts (else null; like round_,
    // produce()'s own during the call): the frame from slice `slice` on gets its header at `at`
    // once the slices before it were written.
    struct RoundCut {
        size_t slice;
        char *at;
        std::array<uint8_t, H2DataQueue::kFrameHeader> header;
    };
    std::vector<RoundCut> *round_cuts_ = nullptr;
    std::vector<H2DataQueue> closed_queues_;
    std::string error_;
    bool terminated_ = false;
    int drain_pings_ = 0; // notice_shutdown(): PING answers still awaited before the GOAWAY
    uint32_t idle_frames_ = 0;
    std::chrono::steady_clock::time_point idle_window_start_{};
    int32_t highest_client_stream_ = 0;
    bool goaway_sent_ = false;
    // The last streams we reset before the client ended its side (its frames may still come), as
    // many as may be open at once.
    std::vector<int32_t> reset_while_open_;
    double reset_tokens_ = 0;
    std::chrono::steady_clock::time_point reset_tokens_refilled_{};
};

} // namespace proxyd
