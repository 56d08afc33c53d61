#include "server/h2_connection.hpp"

#include "h2/h2_websocket_upgrade.hpp"
#include "http/request_parser.hpp"
#include "http/trailer_fields.hpp"
#include "log/held_access_entry.hpp"
#include "server/client_connection.hpp"
#include "server/worker.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <vector>

namespace proxyd {

H2Limits h2_limits(const ListenerConfig &listener) {
    H2Limits limits;
    limits.max_concurrent_streams = listener.http2_max_concurrent_streams;
    limits.max_header_list_size = listener.http2_max_header_list_size;
    limits.max_continuations = listener.http2_max_continuations;
    limits.reset_burst = listener.http2_reset_burst;
    limits.resets_per_second = listener.http2_resets_per_second;
    limits.idle_frame_burst = listener.http2_idle_frame_burst;
    limits.enable_connect_protocol = listener.http2_websocket;
    return limits;
}

// One stream: the request bytes for its connection, and the response head and body it gives.
class H2Connection::Stream final : public StreamPeer {
  public:
    Stream(H2Connection &owner, int32_t id) : owner_(owner), id_(id) {}

    // The stream's connection is made and takes the request head as it came.
    void start(const H2RequestHead &head) {
        if (head.has_body && !websocket_) declared_left_ = declared_length(head);
        connection_ = ClientConnection::open_stream(owner_.connection_, *this);
        connection_->start_stream_request(head);
    }
    // The same for a WebSocket's request, made the Upgrade GET it stands for: its DATA are the
    // tunnel's bytes, and its END_STREAM ends the tunnel's client side.
    void start_websocket(const H2RequestHead &head) {
        websocket_ = true;
        start(head);
    }
    // RFC 9113 §8.1.1: DATA past the content-length make the request malformed, and nghttp2
    // resets the stream when they come; but the body goes on as it arrives, and an origin that
    // had the declared bytes would take the request as complete. So the last declared byte waits
    // for the END_STREAM (in the same frame, usually): a stream reset before it leaves the
    // upstream with a request that never ended, and its connection is closed, not pooled.
    void data(std::string_view bytes) {
        if (declared_left_ && !bytes.empty()) {
            *declared_left_ -= std::min<uint64_t>(*declared_left_, bytes.size());
            if (*declared_left_ == 0) {
                withheld_ = bytes.back();
                declared_left_.reset();
                bytes.remove_suffix(1);
                if (bytes.empty()) return;
            }
        }
        pass(bytes);
    }
    void end() {
        if (withheld_) {
            char last = *std::exchange(withheld_, std::nullopt);
            pass(std::string_view(&last, 1));
        }
        if (!connection_) return;
        input_ended_ = true; // told the connection once the bytes held before it have gone
        feed_held();
    }
    void pass(std::string_view bytes) {
        if (!connection_) return owner_.session_.consume(id_, bytes.size()); // nobody reads it
        if (!holding() && connection_->stream_reading()) {
            // The usual case: parsed at once, without a copy.
            owner_.session_.consume(id_, bytes.size());
            return connection_->feed_stream(bytes);
        }
        // Joined into the last piece while it is small: DATA frames of a byte each, a string
        // each, would cost many times the bytes the client's window lets it send.
        if (holding() && held_.back().size() < kHeldPiece)
            held_.back().append(bytes);
        else
            held_.emplace_back(bytes);
        feed_held();
    }
    // The client's bytes go to the connection while it reads; the window opens as they do.
    void feed_held() {
        while (holding() && connection_ && connection_->stream_reading()) {
            std::string piece = std::move(held_[held_front_++]);
            if (!holding()) drop_held();
            if (!piece.empty()) {
                owner_.session_.consume(id_, piece.size());
                connection_->feed_stream(piece);
            }
        }
        // Pieces taken leave empty slots at the front: dropped once they are half of the queue.
        if (held_front_ >= 16 && 2 * held_front_ >= held_.size()) {
            held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(held_front_));
            held_front_ = 0;
        }
        if (input_ended_ && !holding() && connection_) {
            input_ended_ = false;
            if (websocket_)
                connection_->stream_input_ended();
            else
                connection_->end_stream_body(trailers_);
            std::vector<H2Field>().swap(trailers_); // the parser keeps its own copy
        }
    }
    // The HTTP/2 stream is gone (ended, or reset by either side), unsent of its response bytes
    // never having left in DATA frames: a connection still serving it is cut, and the access log
    // line (its or the held one) counts the body bytes that reached the client, not those made.
    void h2_closed(size_t unsent) {
        h2_closed_ = true;
        uint64_t delivered = body_bytes_ - unsent;
        if (ClientConnection *c = std::exchange(connection_, nullptr)) {
            // A response is under way (its head went out), so the connection holds its request.
            if (response_ != Response::kNone) {
                uint64_t &logged = c->record().body_bytes;
                logged = std::min(logged, delivered);
            }
            c->abort();
        }
        end_held_request(delivered);
    }
    void cut() { h2_closed(owner_.session_.queued(id_)); }
    // The stream closed in the session: ended by both sides (nothing unsent), or reset by either,
    // a client's RST_STREAM(NO_ERROR) in the middle of the body included. A PROTOCOL_ERROR before
    // any answer is a malformed request (nghttp2's reset: DATA past or short of content-length),
    // logged as the 400 nginx answers it with, not as a client that left (499).
    void session_closed(uint32_t error_code, size_t unsent) {
        if (error_code == NGHTTP2_PROTOCOL_ERROR && connection_ && response_ == Response::kNone &&
            connection_->record().status == 0)
            connection_->record().status = 400;
        h2_closed(unsent);
    }
    // Reset for a window that never opened.
    void timed_out() { h2_closed(owner_.session_.queued(id_)); }
    void drained(size_t queued) {
        if (connection_) connection_->stream_drained(queued);
    }
    // The request's trailer fields, given to its connection with the END_STREAM that follows.
    void set_trailers(std::vector<H2Field> &&fields) { trailers_ = std::move(fields); }
    int32_t id() const { return id_; }
    bool resume_due = false;
    uint64_t stalled_since = 0; // loop time its queued response bytes last moved; 0: none queued

    // StreamPeer
    ResponseFields &stream_head_fields() override { return owner_.head_fields_; }
    void stream_tunnel_opens() override { tunnel_ = true; }
    void stream_head(const ResponseFields &head, bool has_body) override {
        if (broken_ || response_ != Response::kNone) return fail("a second response head");
        if (websocket_ && !tunnel_ && head.status() / 100 == 2) return refuse_false_success(head.status());
        if (!owner_.session_.submit_response(id_, head, has_body)) return fail("its head was refused");
        response_ = has_body ? Response::kBody : Response::kEnded;
        remaining_ = head.content_length();
        owner_.schedule();
    }
    void stream_interim_head(const ResponseFields &head) override {
        if (response_ != Response::kNone) return; // nothing interim follows the final head
        if (head.status() == 100) {
            // Said once: a second 100 would come from an upstream retried with the Expect proxyd
            // sent it, a 1xx proxyd asked for (RFC 9110 §15.2 lets it keep those).
            if (continue_sent_) return;
            continue_sent_ = true;
        }
        owner_.session_.submit_interim(id_, head); // a hint lost is no error
        owner_.schedule();
    }
    void stream_response(const uv_buf_t *bufs, size_t count) override {
        for (size_t i = 0; i < count && !broken_; ++i)
            if (bufs[i].len > 0) body({bufs[i].base, bufs[i].len});
        after_body_queued();
    }
    bool stream_file(int fd, uint64_t offset, uint64_t length) override {
        if (broken_ || response_ != Response::kBody) return false;
        // A file longer than the head said is left to the caller, which cuts it where body() does.
        if (remaining_ && *remaining_ < length) return false;
        bool last = remaining_ && *remaining_ == length;
        if (!owner_.session_.send_file(id_, fd, offset, length, last)) return false;
        if (remaining_) *remaining_ -= length;
        queued_body(length, last);
        after_body_queued();
        return true;
    }
    std::span<char> stream_body_space(size_t hint) override {
        if (broken_ || response_ != Response::kBody) return {};
        if (remaining_) hint = static_cast<size_t>(std::min<uint64_t>(hint, *remaining_));
        return owner_.session_.body_space(id_, hint);
    }
    void stream_return_body_space() override { owner_.session_.return_body_space(id_); }
    size_t stream_queued() const override { return owner_.session_.queued(id_); }
    void stream_resume_input() override {
        resume_due = true;
        owner_.schedule();
    }
    // The upstream ended the tunnel (its EOF): END_STREAM after the bytes queued.
    void stream_end_response() override {
        if (broken_ || response_ != Response::kBody || remaining_) return;
        send({}, true);
        owner_.schedule();
    }
    void stream_trailers(const MessageHead &trailers, const ConnectionOptions &options) override {
        if (broken_ || response_ != Response::kBody || remaining_) return;
        std::vector<H2Field> fields;
        for_each_forwardable_trailer(
            trailers, options, [&fields](std::string_view name, std::string_view value) {
                std::string &lower = fields.emplace_back(std::string(name), std::string(value)).first;
                for (char &c : lower)
                    c = ascii_lower(c);
            });
        if (!fields.empty()) owner_.session_.send_trailers(id_, std::move(fields));
    }
    void stream_closed(bool complete) override {
        connection_ = nullptr;
        for (size_t i = held_front_; i < held_.size(); ++i)
            if (!held_[i].empty()) owner_.session_.consume(id_, held_[i].size());
        drop_held();
        if (h2_closed_ || owner_.closing_ || broken_ || response_ == Response::kEnded) return;
        // A body without a length ends with its exchange; any other unfinished response was cut.
        if (!complete || response_ == Response::kNone || remaining_) return fail("the response ended early");
        send({}, true);
        owner_.schedule();
    }
    bool stream_body_waits() const override { return owner_.session_.body_waits(id_); }
    void stream_end_when_sent(const AccessEntry *entry, const FinishedRequest &finished) override {
        if (entry) held_line_ = std::make_unique<HeldAccessEntry>(*entry);
        held_request_ = finished;
    }

  private:
    enum class Response : uint8_t {
        kNone,  // no head yet
        kBody,  // the head went out, its body follows
        kEnded, // the last byte (or a bodiless head) went out: the rest is ignored
    };
    // A full frame goes out at once; smaller pieces (a small response) wait for the loop turn's
    // round, which carries the pieces of many streams in one write.
    void after_body_queued() {
        if (owner_.session_.queued(id_) >= H2DataQueue::kMaxPayload && !owner_.session_.waits_for_window(id_))
            return owner_.write_round_now();
        owner_.schedule();
    }
    static constexpr size_t kHeldPiece = 16 * 1024;
    // The request's content-length (nghttp2 checked it is one number), if it has one.
    static std::optional<uint64_t> declared_length(const H2RequestHead &head) {
        for (const auto &[name, value] : head.fields) {
            int64_t length = -1;
            if (name == "content-length" && read_content_length(value, length) == HPE_OK)
                return static_cast<uint64_t>(length);
        }
        return std::nullopt;
    }
    bool holding() const { return held_front_ < held_.size(); }
    void drop_held() {
        held_.clear();
        held_front_ = 0;
    }

    // Body bytes, as many as the head's content-length says at most; the last one ends the stream.
    void body(std::string_view bytes) {
        if (response_ == Response::kEnded) return; // nothing follows a response on a stream
        if (response_ == Response::kNone) return fail("body bytes before its head");
        bool last = false;
        if (remaining_) {
            bytes = bytes.substr(0, static_cast<size_t>(std::min<uint64_t>(*remaining_, bytes.size())));
            *remaining_ -= bytes.size();
            last = *remaining_ == 0;
        }
        send(bytes, last);
    }
    void send(std::string_view bytes, bool end) {
        owner_.session_.send_data(id_, bytes, end);
        queued_body(bytes.size(), end);
    }
    // Bytes the session took for the response (bytes or a file's): the last ends it, they count
    // for the access log, and the queue they joined for the send timeout.
    void queued_body(uint64_t length, bool end) {
        if (end) response_ = Response::kEnded;
        body_bytes_ += length;
        owner_.track_stall(*this, owner_.session_.queued(id_), false);
    }

    // The response cannot be carried on (an invalid one, or cut short): the stream is reset, so
    // the client never takes a truncated body as complete.
    void fail(const char *why) {
        if (broken_) return;
        broken_ = true;
        if (owner_.connection_.worker().logger().enabled(PROXYD_LOG_INFO))
            owner_.connection_.worker().logger().info(
                "client " + std::string(owner_.connection_.client_ip()) + ": HTTP/2 stream " +
                std::to_string(id_) + ": " + why + ", resetting it");
        // A WebSocket's tunnel broken under it (the upstream's reset or error, its idle timeout)
        // is the TCP reset RFC 8441 §5 carries as CANCEL.
        owner_.session_.reset_stream(id_, websocket_ && tunnel_ ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
        owner_.schedule();
    }

    // A 2xx to an extended CONNECT tells the client its WebSocket is open (RFC 8441 §5): one that
    // no upstream's 101 made would be taken for the tunnel, so the client gets 502 instead. The
    // proxy exchange refuses an upstream's 2xx itself (and closes its connection); this catches
    // a content handler's, whose body is dropped. The access log says 502: exchanges record their
    // status before the head goes out.
    void refuse_false_success(int status) {
        if (owner_.connection_.worker().logger().enabled(PROXYD_LOG_INFO))
            owner_.connection_.worker().logger().info(
                "client " + std::string(owner_.connection_.client_ip()) + ": HTTP/2 stream " +
                std::to_string(id_) + ": a " + std::to_string(status) +
                " without an upstream's 101 to a WebSocket request, answering 502");
        if (connection_) connection_->record().status = 502;
        owner_.session_.submit_response(id_, 502, {{"content-length", "0"}}, false);
        response_ = Response::kEnded;
        owner_.schedule();
    }

    // The request the stream's connection left (stream_end_when_sent), once the stream has
    // ended: its metrics, and its line with the body bytes that left in DATA frames.
    void end_held_request(uint64_t delivered) {
        std::optional<FinishedRequest> finished = std::exchange(held_request_, std::nullopt);
        if (!finished) return;
        // The request lasted until its last bytes left (or the stream's reset), not until its
        // response was made: a large file handed to the stream whole is made at once.
        finished->observe();
        std::unique_ptr<HeldAccessEntry> held = std::move(held_line_);
        if (!held) return;
        AccessEntry &entry = held->entry();
        entry.body_bytes = std::min(entry.body_bytes, delivered);
        entry.request_time = static_cast<double>(uv_hrtime() - finished->start_ns) / 1e9;
        Worker &worker = owner_.connection_.worker();
        worker.access_log().write_line(format_access_line(entry, worker.config().log.access_format));
    }

    H2Connection &owner_;
    int32_t id_;
    ClientConnection *connection_ = nullptr; // null once it finished or was cut
    std::vector<H2Field> trailers_;          // the request's (on_request_trailers)
    std::optional<uint64_t> declared_left_;  // body bytes its content-length still expects
    std::optional<char> withheld_;           // its last declared byte, until its END_STREAM
    // A queue (fed from held_front_ on) that allocates only once something is held: a std::deque
    // would allocate for every stream, most of which never hold a byte.
    std::vector<std::string> held_; // the client's DATA bytes, consumed once fed
    size_t held_front_ = 0;
    Response response_ = Response::kNone;
    std::optional<uint64_t> remaining_; // body bytes the head's content-length still expects
    uint64_t body_bytes_ = 0;           // response body bytes handed to the session
    // A request that ends with its stream (stream_end_when_sent): its line, when the log is on.
    std::optional<FinishedRequest> held_request_;
    std::unique_ptr<HeldAccessEntry> held_line_;
    bool h2_closed_ = false;
    bool broken_ = false;
    bool websocket_ = false;
    bool tunnel_ = false;      // the upstream switched protocols: its 200 opens the tunnel
    bool input_ended_ = false; // the stream's END_STREAM, not yet told to its connection
    bool continue_sent_ = false; // a 100 went out
};

H2Connection::H2Connection(ClientConnection &connection, const H2Limits &limits)
    : connection_(connection), session_(*this, limits, &connection.worker().h2_memory()) {
    uv_idle_init(connection.worker().loop(), &scheduled_);
    scheduled_.data = this;
}

H2Connection::~H2Connection() = default;

H2Connection::Stream *H2Connection::find(int32_t stream_id) {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? nullptr : &it->second;
}

namespace {
// Rounds one flush() writes before it lets the loop serve other connections: a fast reader with
// large windows gets a quarter of a megabyte per loop turn.
constexpr int kRoundsPerTurn = 4;
} // namespace

void H2Connection::receive(const char *data, size_t len) {
    if (closing_ || held_status_) return; // a round that ended the session: closing on the next turn
    in_session_ = true;
    H2Session::Status status = session_.receive(data, len, *this);
    in_session_ = false;
    if (finish_round(status) && session_.output_pending()) flush();
}

void H2Connection::flush() {
    if (closing_ || in_session_) return;
    for (int round = 0;; ++round) {
        // Above the low-water mark the frames wait in the session, until the socket's queue
        // drains to it (on_socket_drained): the streams' queues fill and their exchanges pause,
        // rather than the socket's queue growing without bound.
        flush_wanted_ = connection_.queued_bytes() > ClientConnection::kLowWater;
        if (flush_wanted_) return;
        if (round == kRoundsPerTurn) return schedule();
        in_session_ = true;
        H2Session::Status status = session_.flush(*this);
        in_session_ = false;
        if (!finish_round(status) || !session_.output_pending()) return;
    }
}

void H2Connection::write_frames(const uv_buf_t *bufs, size_t count) {
    if (!closing_) connection_.send(bufs, count);
}

bool H2Connection::takes_rounds_in_parts() const { return connection_.encrypted(); }

void H2Connection::write_frames_part(const uv_buf_t *bufs, size_t count) {
    if (!closing_) connection_.encrypt_for_next_send(bufs, count);
}

bool H2Connection::finish_round(H2Session::Status status) {
    if (closing_) return false;
    bool ends = status != H2Session::Status::kOk || session_.finished();
    // Inside write_round_now() the close that cuts streams would run inside an exchange's call:
    // it waits for the next turn, which calls this again.
    if (ends && holding_events_) {
        held_status_ = status;
        return false;
    }
    if (ends) held_status_.reset(); // said here, not again on the next turn
    if (status != H2Session::Status::kOk) {
        if (connection_.worker().logger().enabled(PROXYD_LOG_INFO))
            connection_.worker().logger().info("client " + std::string(connection_.client_ip()) + ": " +
                                               session_.error_text() + ", closing");
        // The streams still served end now; the GOAWAY (if any) goes out before the close.
        for (auto &[id, stream] : streams_)
            stream.cut();
        connection_.close_after_output();
        return false;
    }
    if (session_.finished()) {
        connection_.close_after_output();
        return false;
    }
    connection_.h2_activity();
    return true;
}

void H2Connection::on_socket_drained() {
    if (flush_wanted_) flush();
}

void H2Connection::drain() {
    if (closing_) return;
    session_.notice_shutdown();
    schedule();
}

// An idle handle rather than a zero timer: libuv 1.44 runs a zero timer started inside its own
// callback again in the same pass, so a flush that yields after kRoundsPerTurn would go on at
// once, and one fast reader could keep the loop from every other connection until its socket
// filled. An idle handle started inside its callback runs on the next loop turn.
void H2Connection::schedule() {
    if (scheduled_running_ || closing_) return;
    scheduled_running_ = true;
    uv_idle_start(&scheduled_, on_scheduled);
}

void H2Connection::write_round_now() {
    if (closing_ || in_session_ || held_status_ || connection_.queued_bytes() > ClientConnection::kLowWater)
        return schedule();
    holding_events_ = true;
    in_session_ = true;
    H2Session::Status status = session_.flush(*this);
    in_session_ = false;
    finish_round(status);
    holding_events_ = false;
    schedule();
}

void H2Connection::replay_held_events() {
    // Swapped, not moved: both lists keep their capacity, so holding events allocates no more
    // once a connection has held some.
    replaying_.swap(held_events_);
    for (const HeldEvent &event : replaying_) {
        if (closing_) break;
        if (event.closed)
            on_stream_close(event.stream_id, 0, event.unsent);
        else
            on_response_data_sent(event.stream_id, session_.queued(event.stream_id));
    }
    replaying_.clear();
}

void H2Connection::on_scheduled(uv_idle_t *idle) {
    auto *self = static_cast<H2Connection *>(idle->data);
    uv_idle_stop(idle);
    self->scheduled_running_ = false;
    self->replay_held_events();
    if (std::optional<H2Session::Status> status = std::exchange(self->held_status_, std::nullopt))
        if (!self->finish_round(*status)) return;
    // A stream's connection that reads again takes what its client sent meanwhile.
    std::vector<int32_t> due;
    for (auto &[id, stream] : self->streams_)
        if (stream.resume_due) due.push_back(id);
    for (int32_t id : due)
        if (Stream *stream = self->find(id)) {
            stream->resume_due = false;
            stream->feed_held();
        }
    self->flush();
}

void H2Connection::close(uv_close_cb on_closed) {
    closing_ = true;
    for (auto &[id, stream] : streams_)
        stream.cut();
    uv_idle_stop(&scheduled_);
    // The connection counts this handle among its own: its close callback finds the connection.
    scheduled_.data = &connection_;
    uv_close(reinterpret_cast<uv_handle_t *>(&scheduled_), on_closed);
}

// ---- H2Events (from inside session_.receive() or flush()) -----------------------------------

void H2Connection::on_request_head(H2RequestHead head) {
    int32_t id = head.stream_id;
    stream_opened_ = true;
    auto [it, fresh] = streams_.try_emplace(id, *this, id);
    if (!fresh) return; // the session hands each stream's head over once
    Stream &stream = it->second;
    if (is_websocket_connect(head)) {
        // RFC 8441 (only with http2_websocket on: nghttp2 refuses :protocol otherwise).
        if (!make_websocket_upgrade(head)) {
            connection_.worker().logger().error("HTTP/2 WebSocket: no random bytes for a Sec-WebSocket-Key, "
                                                "answering 500");
            session_.submit_response(id, 500, {{"content-length", "0"}}, false);
            return connection_.log_answered_stream(head.method, head.path, 500);
        }
        stream.start_websocket(head);
    } else if (head.method == "CONNECT") {
        // Neither plain CONNECT tunnels nor other extended CONNECT protocols are served.
        session_.submit_response(id, 501, {{"content-length", "0"}}, false);
        // A CONNECT's target is its authority (RFC 9113 §8.5), which the head carries as Host.
        std::string_view target = head.path;
        for (const H2Field &field : head.fields)
            if (target.empty() && field.first == "host") target = field.second;
        connection_.log_answered_stream(head.method, target, 501);
    } else {
        stream.start(head);
    }
}

void H2Connection::on_request_answered(int32_t, int status, std::string_view method, std::string_view path) {
    connection_.log_answered_stream(method, path, status);
}

void H2Connection::on_request_data(int32_t stream_id, std::string_view data) {
    if (Stream *stream = find(stream_id))
        stream->data(data);
    else
        session_.consume(stream_id, data.size());
}

void H2Connection::on_request_trailers(int32_t stream_id, std::vector<H2Field> &&fields) {
    if (Stream *stream = find(stream_id)) stream->set_trailers(std::move(fields));
}

void H2Connection::on_request_end(int32_t stream_id) {
    if (Stream *stream = find(stream_id)) stream->end();
}

void H2Connection::on_stream_close(int32_t stream_id, uint32_t error_code, size_t unsent) {
    if (holding_events_) return held_events_.push_back({stream_id, true, unsent});
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;
    auto node = streams_.extract(it); // the stream lives on in it until the end of this call
    node.mapped().session_closed(error_code, unsent);
}

void H2Connection::on_response_data_sent(int32_t stream_id, size_t queued) {
    if (holding_events_) return held_events_.push_back({stream_id, false, 0});
    if (Stream *stream = find(stream_id)) {
        track_stall(*stream, queued, true);
        stream->drained(queued);
    }
}

void H2Connection::on_response_read_failed(int32_t stream_id, int error) {
    connection_.worker().logger().warn(
        "reading a file for client " + std::string(connection_.client_ip()) + ": HTTP/2 stream " +
        std::to_string(stream_id) + ": " +
        (error == ENODATA ? "the file shrank while being sent" : std::strerror(error)) + ", resetting it");
}

// ---- timeouts (the connection's timer calls these) ------------------------------------------

void H2Connection::track_stall(Stream &stream, size_t queued, bool progress) {
    if (queued == 0) {
        stream.stalled_since = 0;
        return;
    }
    if (progress || stream.stalled_since == 0) stream.stalled_since = uv_now(connection_.worker().loop());
    // An earlier deadline is still due first; the check finds this stream's when it runs.
    if (stall_deadline_ == 0)
        stall_deadline_ = stream.stalled_since + static_cast<uint64_t>(send_timeout_ms());
}

void H2Connection::expire_stalled() {
    stall_deadline_ = 0;
    if (closing_) return;
    uint64_t now = uv_now(connection_.worker().loop());
    uint64_t timeout = static_cast<uint64_t>(send_timeout_ms());
    std::vector<Stream *> expired;
    for (auto &[id, stream] : streams_) {
        if (stream.stalled_since == 0) continue;
        uint64_t due = stream.stalled_since + timeout;
        if (due <= now)
            expired.push_back(&stream);
        else if (stall_deadline_ == 0 || due < stall_deadline_)
            stall_deadline_ = due;
    }
    for (Stream *stream : expired) {
        if (connection_.worker().logger().enabled(PROXYD_LOG_INFO))
            connection_.worker().logger().info(
                "client " + std::string(connection_.client_ip()) + ": HTTP/2 stream " +
                std::to_string(stream->id()) + ": no window for its " +
                std::to_string(session_.queued(stream->id())) +
                " queued response bytes within send_timeout, resetting it (CANCEL)");
        stream->stalled_since = 0;
        session_.reset_stream(stream->id(), NGHTTP2_CANCEL);
        stream->timed_out(); // an exchange still serving it is released, its request logged
    }
    if (!expired.empty()) flush();
    if (!closing_) connection_.h2_activity();
}

void H2Connection::expire_idle() {
    if (closing_) return;
    session_.goaway_idle();
    flush();
}

void H2Connection::trim() {
    if (!streams_.empty() || in_session_ || closing_) return;
    decltype(streams_)().swap(streams_);
    session_.trim();
}

int64_t H2Connection::send_timeout_ms() const {
    return static_cast<int64_t>(connection_.listener().limits.send_timeout.count());
}

} // namespace proxyd
