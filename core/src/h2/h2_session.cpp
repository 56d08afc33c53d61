#include "h2/h2_session.hpp"

#include "h2/h2_memory_pool.hpp"
#include "http/header_rules.hpp"

#include <algorithm>
#include <cstring>
#include <nghttp2/nghttp2.h>

namespace proxyd {
namespace {

std::string_view view(const uint8_t *data, size_t len) { return {reinterpret_cast<const char *>(data), len}; }

nghttp2_nv field(std::string_view name, std::string_view value) {
    // nghttp2 copies every name and value when the response is submitted.
    return {reinterpret_cast<uint8_t *>(const_cast<char *>(name.data())),
            reinterpret_cast<uint8_t *>(const_cast<char *>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

// A head's :status and fields as nghttp2 takes them, valid while the head is: on the stack for
// the usual head, on the heap for one with more fields.
class HeadNva {
  public:
    explicit HeadNva(const ResponseFields &head) {
        int status = head.status();
        status_[0] = static_cast<char>('0' + status / 100);
        status_[1] = static_cast<char>('0' + status / 10 % 10);
        status_[2] = static_cast<char>('0' + status % 10);
        size_ = head.size() + 1;
        if (size_ > kInline) more_.resize(size_);
        nghttp2_nv *nva = data();
        nva[0] = field(":status", std::string_view(status_, 3));
        for (size_t i = 0; i < head.size(); ++i)
            nva[i + 1] = field(head.name(i), head.value(i));
    }
    // A header block without pseudo-headers: trailers (RFC 9113 §8.1).
    explicit HeadNva(const std::vector<H2Field> &fields) : size_(fields.size()) {
        if (size_ > kInline) more_.resize(size_);
        nghttp2_nv *nva = data();
        for (size_t i = 0; i < size_; ++i)
            nva[i] = field(fields[i].first, fields[i].second);
    }
    HeadNva(const HeadNva &) = delete;
    HeadNva &operator=(const HeadNva &) = delete;
    nghttp2_nv *data() { return size_ > kInline ? more_.data() : inline_; }
    size_t size() const { return size_; }

  private:
    static constexpr size_t kInline = 24;
    char status_[3];
    size_t size_;
    nghttp2_nv inline_[kInline];
    std::vector<nghttp2_nv> more_;
};

} // namespace

struct H2Session::Stream {
    H2RequestHead head;
    std::string authority;
    std::string host;
    std::string cookie;
    size_t header_list_size = 0;
    bool head_too_large = false;
    bool head_refused = false; // refuse_head() told the owner
    bool delivered = false; // the owner heard of it: it hears of its close too
    size_t unconsumed = 0;  // body bytes delivered, not yet consumed
    bool answered = false;
    H2DataQueue response; // body bytes waiting for the client's window
    bool response_end = false;
    bool deferred = false; // the data provider said NGHTTP2_ERR_DEFERRED
    bool sent_notice = false;
    bool extended_connect = false;     // its request carried :protocol (RFC 8441)
    bool tunnel = false;               // a 2xx answered its extended CONNECT: END_STREAM half-closes
    std::vector<H2Field> trailers_in;  // the request's trailer fields, as they came
    size_t trailer_list_size = 0;      // theirs, counted as header_list_size
    std::vector<H2Field> trailers_out; // the response's, sent after its last DATA
};

// nghttp2's callbacks, each a static forwarding into the session named by user_data.
struct H2Session::Callbacks {
    static H2Session &self(void *user_data) { return *static_cast<H2Session *>(user_data); }

    static int on_begin_headers(nghttp2_session *, const nghttp2_frame *frame, void *user_data) {
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        auto [it, fresh] = self(user_data).streams_.try_emplace(frame->hd.stream_id);
        if (!fresh) it->second = Stream{};
        Stream &stream = it->second;
        stream.head.stream_id = frame->hd.stream_id;
        stream.head.began_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                         std::chrono::steady_clock::now().time_since_epoch())
                                                         .count());
        // Room for a usual request's fields and the host and cookie finish_head adds: one
        // allocation instead of a vector growing through 1, 2, 4, 8.
        stream.head.fields.reserve(8);
        return 0;
    }

    static int on_header(nghttp2_session *, const nghttp2_frame *frame, const uint8_t *name_data,
                         size_t name_len, const uint8_t *value_data, size_t value_len, uint8_t,
                         void *user_data) {
        H2Session &s = self(user_data);
        Stream *stream = s.find(frame->hd.stream_id);
        if (!stream) return 0;
        if (frame->headers.cat == NGHTTP2_HCAT_HEADERS)
            return s.add_trailer(*stream, name_data, name_len, value_data, value_len);
        if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        // The block is decoded to its end whatever its size, or HPACK's table would go out of
        // step; past the limit its fields are only counted.
        stream->header_list_size += name_len + value_len + 32;
        if (stream->header_list_size > s.limits_.max_header_list_size) stream->head_too_large = true;
        if (stream->head_too_large) return 0;
        std::string_view name = view(name_data, name_len);
        std::string_view value = view(value_data, value_len);
        H2RequestHead &head = stream->head;
        if (name == ":method")
            head.method = value;
        else if (name == ":path")
            head.path = value;
        else if (name == ":scheme")
            head.scheme = value;
        else if (name == ":protocol")
            head.protocol = value; // nghttp2 lets it through only with the setting on (RFC 8441 §3)
        else if (name == ":authority")
            stream->authority = value;
        else if (name == "host")
            stream->host = value;
        else if (name == "cookie") {
            // RFC 9113 §8.2.3: crumbs in separate fields are joined for HTTP/1.1.
            if (!stream->cookie.empty()) stream->cookie += "; ";
            stream->cookie += value;
        } else
            head.fields.emplace_back(name, value);
        return 0;
    }

    static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
        H2Session &s = self(user_data);
        bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        switch (frame->hd.type) {
        case NGHTTP2_HEADERS: {
            Stream *stream = s.find(frame->hd.stream_id);
            if (!stream) return 0;
            if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) return s.finish_head(*stream, end_stream);
            // Trailers (nghttp2 has checked that they end the stream and carry no pseudo-header).
            if (!end_stream || !stream->delivered) return 0;
            if (!stream->trailers_in.empty())
                s.events_.on_request_trailers(frame->hd.stream_id, std::move(stream->trailers_in));
            if (s.find(frame->hd.stream_id)) s.events_.on_request_end(frame->hd.stream_id);
            return 0;
        }
        case NGHTTP2_DATA: {
            Stream *stream = s.find(frame->hd.stream_id);
            if (end_stream && stream && stream->delivered) s.events_.on_request_end(frame->hd.stream_id);
            return 0;
        }
        case NGHTTP2_RST_STREAM:
            // Rapid Reset (CVE-2023-44487): each reset stream cost us its setup, and the client
            // nothing. nghttp2's own bound ends such a session with INTERNAL_ERROR after reading
            // all of what came; this one stops reading at once and says why.
            return s.take_reset_token() ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
        case NGHTTP2_PING:
            if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && s.drain_pings_ > 0) {
                // The client answers a PING before it sends the requests it queued meanwhile
                // (nghttp2 sends answers first): only the second answer follows every request
                // made before the notice.
                if (--s.drain_pings_ > 0)
                    nghttp2_submit_ping(session, NGHTTP2_FLAG_NONE, nullptr);
                else
                    s.drain();
            }
            return 0;
        default:
            (void)session;
            return 0;
        }
    }

    // nghttp2's HTTP messaging checks refused a request's head (a field RFC 9113 §8.2 forbids, a
    // pseudo-header missing, a content-length END_STREAM contradicts at once): it resets the
    // stream itself, and the head never reaches on_frame_recv.
    static int on_invalid_frame_recv(nghttp2_session *, const nghttp2_frame *frame, int error,
                                     void *user_data) {
        H2Session &s = self(user_data);
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST ||
            (error != NGHTTP2_ERR_HTTP_HEADER && error != NGHTTP2_ERR_HTTP_MESSAGING))
            return 0;
        if (Stream *stream = s.find(frame->hd.stream_id); stream && !stream->delivered)
            s.refuse_head(*stream, frame->hd.stream_id, false);
        return 0;
    }

    static int on_begin_frame(nghttp2_session *, const nghttp2_frame_hd *hd, void *user_data) {
        H2Session &s = self(user_data);
        if (s.terminated_) return NGHTTP2_ERR_CALLBACK_FAILURE;
        bool empty_data =
            hd->type == NGHTTP2_DATA && hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM);
        if (empty_data || hd->type == NGHTTP2_PRIORITY)
            return s.count_idle_frame() ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
        if (hd->type == NGHTTP2_HEADERS && (hd->stream_id & 1))
            return s.check_stream_id(hd->stream_id) ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
    }

    static int on_data_chunk_recv(nghttp2_session *session, uint8_t, int32_t stream_id, const uint8_t *data,
                                  size_t len, void *user_data) {
        H2Session &s = self(user_data);
        Stream *stream = s.find(stream_id);
        if (!stream || !stream->delivered) {
            // Nobody takes these bytes: the window is given back at once.
            nghttp2_session_consume(session, stream_id, len);
            return 0;
        }
        stream->unconsumed += len;
        s.events_.on_request_data(stream_id, view(data, len));
        return 0;
    }

    static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                               void *user_data) {
        H2Session &s = self(user_data);
        auto it = s.streams_.find(stream_id);
        if (it == s.streams_.end()) return 0;
        auto node = s.streams_.extract(it); // the stream lives on in it until the end of this call
        Stream &stream = node.mapped();
        size_t unsent = stream.response.size(); // bytes taken into frames have left, or leave in this round
        // Its last frames may be in the round being produced, borrowed from its queue.
        if (s.round_) s.closed_queues_.push_back(std::move(stream.response));
        // Bytes the owner never consumed would shrink the connection's window for good.
        if (stream.unconsumed > 0) nghttp2_session_consume_connection(session, stream.unconsumed);
        if (stream.delivered) s.events_.on_stream_close(stream_id, error_code, unsent);
        return 0;
    }

    static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
        H2Session &s = self(user_data);
        if (frame->hd.type == NGHTTP2_GOAWAY) s.goaway_sent_ = true;
        // RFC 9113 §8.1: a response that ended before its request did (an answer before the
        // upload's end, a 413 to Expect) is followed by RST_STREAM(NO_ERROR), as nginx and nghttpx
        // do: nobody reads the rest of the body, and a client that never ends its side would
        // otherwise hold the stream, and the connection with no timer running, for good. Not a
        // tunnel's: its END_STREAM is a half-close, the client's side goes on.
        if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0)
            if (const Stream *stream = s.find(frame->hd.stream_id); stream && !stream->tunnel)
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
        // Called before nghttp2 closes the stream: whether the client had ended its side is known.
        if (frame->hd.type == NGHTTP2_RST_STREAM &&
            nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) != 1) {
            // As many as may be open at once (within reason): each answered early (RST_STREAM
            // NO_ERROR after its response) may have its trailers on the way.
            if (s.reset_while_open_.size() >= std::clamp<size_t>(s.limits_.max_concurrent_streams, 16, 1024))
                s.reset_while_open_.erase(s.reset_while_open_.begin());
            s.reset_while_open_.push_back(frame->hd.stream_id);
        }
        if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
            !s.terminated_) {
            s.terminated_ = true;
            if (s.error_.empty())
                s.error_ = std::string("HTTP/2 connection error ") +
                           nghttp2_http2_strerror(frame->goaway.error_code) + " sent to the client";
        }
        return 0;
    }

    // NGHTTP2_DATA_FLAG_NO_COPY: the payload is not copied into nghttp2's buffer; send_data()
    // below puts the frame into the round where the stream's queue holds it.
    static ssize_t read_response(nghttp2_session *, int32_t stream_id, uint8_t *, size_t length,
                                 uint32_t *data_flags, nghttp2_data_source *, void *user_data) {
        H2Session &s = self(user_data);
        Stream *stream = s.find(stream_id);
        if (!stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        // A file's bytes are read here, as their frames are made (H2DataQueue::append_file); a
        // failed read resets the stream (INTERNAL_ERROR): its head said a length it cannot have.
        if (int error = stream->response.fill(); error != 0) {
            s.events_.on_response_read_failed(stream_id, error);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        size_t n = stream->response.next_payload(length);
        if (n == stream->response.size() && stream->response_end) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            // RFC 9113 §8.1: the trailers are a HEADERS frame after the last DATA, and end the stream.
            if (!stream->trailers_out.empty()) {
                if (s.submit_trailers(stream_id, stream->trailers_out) != 0)
                    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
                *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        } else if (n == 0) {
            stream->deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
        *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        return static_cast<ssize_t>(n);
    }

    // A DATA frame read_response() measured, written now: its 9-byte header and its payload
    // (no padding: the session asks for none).
    static int send_data(nghttp2_session *, nghttp2_frame *frame, const uint8_t *header, size_t length,
                         nghttp2_data_source *, void *user_data) {
        H2Session &s = self(user_data);
        Stream *stream = s.find(frame->hd.stream_id);
        if (!stream || !s.round_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        H2DataQueue::Frame out = stream->response.take_frame(header, length);
        if (out.header_in_place) {
            s.round_->borrow(out.data, out.len);
        } else if (s.round_cuts_ && out.len > 0) {
            // The frame before ends where this header goes: written over once that one went. (An
            // empty frame, the END_STREAM of a body without a length, has no payload to precede.)
            char *at = out.data - H2DataQueue::kFrameHeader;
            RoundCut &cut = s.round_cuts_->emplace_back(RoundCut{s.round_->count(), at, {}});
            std::memcpy(cut.header.data(), header, H2DataQueue::kFrameHeader);
            s.round_->borrow(at, H2DataQueue::kFrameHeader + out.len);
        } else {
            s.round_->own({reinterpret_cast<const char *>(header), H2DataQueue::kFrameHeader});
            s.round_->borrow(out.data, out.len);
        }
        s.round_bytes_ += H2DataQueue::kFrameHeader + length;
        stream->sent_notice = true;
        return s.round_bytes_ >= kRoundBytes ? NGHTTP2_ERR_PAUSE : 0;
    }
};

H2Session::H2Session(H2Events &events, const H2Limits &limits, H2MemoryPool *memory)
    : events_(events), limits_(limits) {
    nghttp2_session_callbacks *callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, Callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, Callbacks::on_begin_frame);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, Callbacks::on_invalid_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Callbacks::on_frame_send);
    nghttp2_session_callbacks_set_send_data_callback(callbacks, Callbacks::send_data);

    nghttp2_option *options = nullptr;
    nghttp2_option_new(&options);
    nghttp2_option_set_no_auto_window_update(options, 1);
    nghttp2_option_set_max_settings(options, limits_.max_settings_entries);
    nghttp2_option_set_max_outbound_ack(options, limits_.max_outbound_ack);
    nghttp2_option_set_max_continuations(options, limits_.max_continuations);
    // nghttp2's own Rapid Reset bound stays as a backstop behind take_reset_token().
    nghttp2_option_set_stream_reset_rate_limit(options, 2 * limits_.reset_burst,
                                               2 * limits_.resets_per_second);

    nghttp2_session_server_new3(&session_, callbacks, this, options, memory ? memory->mem() : nullptr);
    nghttp2_option_del(options);
    nghttp2_session_callbacks_del(callbacks);

    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.initial_stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list_size},
        // No RFC 7540 priority tree: nghttp2 then keeps no closed streams for it either.
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    size_t count = sizeof settings / sizeof settings[0] - (limits_.enable_connect_protocol ? 0 : 1);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, count);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(limits_.connection_window));
}

H2Session::~H2Session() { nghttp2_session_del(session_); }

H2Session::Stream *H2Session::find(int32_t stream_id) {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? nullptr : &it->second;
}

const H2Session::Stream *H2Session::find(int32_t stream_id) const {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? nullptr : &it->second;
}

int H2Session::finish_head(Stream &stream, bool end_stream) {
    int32_t id = stream.head.stream_id;
    if (stream.head_too_large) {
        // As HTTP/1.1's 431; the stream's body, if any, is taken and dropped.
        submit_response(id, 431, {{"content-length", "0"}}, false);
        events_.on_request_answered(id, 431, stream.head.method, stream.head.path);
        return 0;
    }
    // RFC 9113 §8.3.1: a Host that names another authority than :authority makes it malformed.
    if (!stream.authority.empty() && !stream.host.empty() && !iequals(stream.authority, stream.host)) {
        refuse_head(stream, id, true);
        return 0;
    }
    // RFC 9113 §8.3.1: :path is origin-form, or '*' for OPTIONS. nghttp2 checks it only when
    // :scheme is http or https; under any other an absolute-form :path would name its own
    // authority, in place of the :authority and Host checked above.
    const std::string &path = stream.head.path;
    if (!path.empty() && path[0] != '/' && !(path == "*" && stream.head.method == "OPTIONS")) {
        refuse_head(stream, id, true);
        return 0;
    }
    std::string &host = stream.authority.empty() ? stream.host : stream.authority;
    if (!host.empty()) stream.head.fields.emplace_back("host", std::move(host));
    if (!stream.cookie.empty()) stream.head.fields.emplace_back("cookie", std::move(stream.cookie));
    stream.head.has_body = !end_stream;
    stream.extended_connect = !stream.head.protocol.empty();
    stream.delivered = true;
    events_.on_request_head(std::move(stream.head));
    if (end_stream && find(id)) events_.on_request_end(id);
    return 0;
}

void H2Session::refuse_head(Stream &stream, int32_t stream_id, bool reset) {
    if (reset) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_PROTOCOL_ERROR);
    if (std::exchange(stream.head_refused, true)) return;
    events_.on_request_answered(stream_id, 400, stream.head.method, stream.head.path);
}

// The request's trailers are bounded as its head is; over the bound the stream is reset
// (INTERNAL_ERROR, as nghttpx does) rather than answered 431: its request has gone on already,
// and a response may be under way. nghttp2 goes on decoding the block, so HPACK stays in step.
int H2Session::add_trailer(Stream &stream, const uint8_t *name, size_t name_len, const uint8_t *value,
                           size_t value_len) {
    if (!stream.delivered) return 0;
    stream.trailer_list_size += name_len + value_len + 32;
    if (stream.trailer_list_size > limits_.max_header_list_size) {
        stream.trailers_in.clear();
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    stream.trailers_in.emplace_back(view(name, name_len), view(value, value_len));
    return 0;
}

int H2Session::submit_trailers(int32_t stream_id, const std::vector<H2Field> &fields) {
    HeadNva nva(fields);
    return nghttp2_submit_trailer(session_, stream_id, nva.data(), nva.size());
}

bool H2Session::count_idle_frame() {
    auto now = std::chrono::steady_clock::now();
    if (now - idle_window_start_ > limits_.idle_frame_window) {
        idle_window_start_ = now;
        idle_frames_ = 0;
    }
    if (++idle_frames_ <= limits_.idle_frame_burst) return true;
    terminate(NGHTTP2_ENHANCE_YOUR_CALM, "more than " + std::to_string(limits_.idle_frame_burst) +
                                             " PRIORITY or empty DATA frames within " +
                                             std::to_string(limits_.idle_frame_window.count()) + " ms");
    return false;
}

bool H2Session::take_reset_token() {
    // A token bucket: reset_burst at most, refilled at resets_per_second.
    auto now = std::chrono::steady_clock::now();
    if (reset_tokens_refilled_ == std::chrono::steady_clock::time_point{}) {
        reset_tokens_ = static_cast<double>(limits_.reset_burst);
    } else {
        std::chrono::duration<double> elapsed = now - reset_tokens_refilled_;
        reset_tokens_ =
            std::min(static_cast<double>(limits_.reset_burst),
                     reset_tokens_ + elapsed.count() * static_cast<double>(limits_.resets_per_second));
    }
    reset_tokens_refilled_ = now;
    if (reset_tokens_ >= 1) {
        reset_tokens_ -= 1;
        return true;
    }
    terminate(NGHTTP2_ENHANCE_YOUR_CALM,
              "streams reset faster than " + std::to_string(limits_.resets_per_second) +
                  " a second after a burst of " + std::to_string(limits_.reset_burst) + " (Rapid Reset)");
    return false;
}

bool H2Session::check_stream_id(int32_t stream_id) {
    if (stream_id > highest_client_stream_) {
        highest_client_stream_ = stream_id; // a new stream: nghttp2 checks the rest
        return true;
    }
    if (goaway_sent_ || nghttp2_session_find_stream(session_, stream_id) != nullptr) return true;
    if (std::find(reset_while_open_.begin(), reset_while_open_.end(), stream_id) != reset_while_open_.end())
        return true;
    terminate(NGHTTP2_PROTOCOL_ERROR,
              "HEADERS on stream " + std::to_string(stream_id) + ", closed or below stream " +
                  std::to_string(highest_client_stream_) + " already opened (RFC 9113 5.1.1)");
    return false;
}

void H2Session::terminate(uint32_t error_code, std::string why) {
    if (terminated_) return;
    terminated_ = true;
    error_ = std::move(why);
    nghttp2_session_terminate_session(session_, error_code);
}

H2Session::Status H2Session::receive(const char *data, size_t len, H2Output &output) {
    if (terminated_) return produce(output); // a client's bytes after our GOAWAY are not read
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t *>(data), len);
    if (rv < 0) {
        switch (rv) {
        case NGHTTP2_ERR_CALLBACK_FAILURE:
            if (terminated_) break; // a flood bound stopped the reading
            terminate(NGHTTP2_INTERNAL_ERROR, "HTTP/2 session failed in a callback");
            break;
        case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
            error_ = "not an HTTP/2 client: the connection preface is missing";
            return Status::kError;
        case NGHTTP2_ERR_FLOODED:
            terminate(NGHTTP2_ENHANCE_YOUR_CALM,
                      "the client does not read the answers to its SETTINGS or PING "
                      "frames (more than " +
                          std::to_string(limits_.max_outbound_ack) + " queued)");
            break;
        case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
            terminate(NGHTTP2_ENHANCE_YOUR_CALM, "more than " + std::to_string(limits_.max_continuations) +
                                                     " CONTINUATION frames in a row");
            break;
        default:
            terminate(NGHTTP2_PROTOCOL_ERROR,
                      std::string("HTTP/2 input refused: ") + nghttp2_strerror(static_cast<int>(rv)));
            break;
        }
    }
    return produce(output);
}

H2Session::Status H2Session::flush(H2Output &output) { return produce(output); }

bool H2Session::output_pending() const { return nghttp2_session_want_write(session_) != 0; }

namespace {

class StringOutput final : public H2Output {
  public:
    explicit StringOutput(std::string &text) : text_(text) {}
    void write_frames(const uv_buf_t *bufs, size_t count) override {
        for (size_t i = 0; i < count; ++i)
            text_.append(bufs[i].base, bufs[i].len);
    }

  private:
    std::string &text_;
};

} // namespace

H2Session::Status H2Session::receive(const char *data, size_t len, std::string &output) {
    StringOutput out(output);
    return produce_all(output, receive(data, len, out));
}

H2Session::Status H2Session::flush(std::string &output) { return produce_all(output, Status::kOk); }

H2Session::Status H2Session::produce_all(std::string &output, Status status) {
    StringOutput out(output);
    for (;;) {
        size_t before = output.size();
        if (status == Status::kError || !output_pending()) return status;
        status = produce(out);
        if (output.size() == before) return status;
    }
}

// One round: frames until kRoundBytes, written in one call; then the owner hears which streams'
// bytes left, after they did, so that what it sends from there (a resumed upstream read, the
// next piece of a file) goes into the queues for the next round, not inside nghttp2's send.
H2Session::Status H2Session::produce(H2Output &output) {
    OutputSlices round;
    round_ = &round;
    round_bytes_ = 0;
    std::vector<RoundCut> cuts;
    round_cuts_ = output.takes_rounds_in_parts() ? &cuts : nullptr;
    ssize_t failed = 0;
    while (round_bytes_ < kRoundBytes) {
        const uint8_t *frames = nullptr;
        ssize_t n = nghttp2_session_mem_send(session_, &frames);
        if (n <= 0) {
            failed = n;
            break;
        }
        round.own({reinterpret_cast<const char *>(frames), static_cast<size_t>(n)});
        round_bytes_ += static_cast<size_t>(n);
    }
    round_ = nullptr;
    round_cuts_ = nullptr;
    if (!round.empty()) {
        const std::vector<uv_buf_t> &bufs = round.bufs();
        size_t first = 0;
        for (const RoundCut &cut : cuts) {
            output.write_frames_part(bufs.data() + first, cut.slice - first);
            std::memcpy(cut.at, cut.header.data(), cut.header.size());
            first = cut.slice;
        }
        output.write_frames(bufs.data() + first, bufs.size() - first);
    }
    closed_queues_.clear();
    std::vector<std::pair<int32_t, size_t>> notices;
    for (auto &[id, stream] : streams_)
        if (stream.sent_notice) {
            stream.sent_notice = false;
            stream.response.release_sent();
            notices.emplace_back(id, stream.response.size());
        }
    if (failed < 0) {
        if (error_.empty())
            error_ = std::string("HTTP/2 send: ") + nghttp2_strerror(static_cast<int>(failed));
        return Status::kError;
    }
    if (!terminated_)
        for (auto &[id, queued] : notices)
            if (find(id)) events_.on_response_data_sent(id, queued);
    return terminated_ ? Status::kClosing : Status::kOk;
}

bool H2Session::submit_response(int32_t stream_id, int status, const std::vector<H2Field> &fields,
                                bool has_body) {
    ResponseFields head;
    head.clear(status);
    for (const auto &[name, value] : fields)
        head.add(name, value);
    head.finish(std::nullopt);
    return submit_response(stream_id, head, has_body);
}

bool H2Session::submit_response(int32_t stream_id, const ResponseFields &head, bool has_body) {
    Stream *stream = find(stream_id);
    if (!stream || stream->answered || head.status() < 200 || head.status() > 999) return false;
    HeadNva nva(head);
    nghttp2_data_provider provider{};
    provider.read_callback = Callbacks::read_response;
    if (nghttp2_submit_response(session_, stream_id, nva.data(), nva.size(),
                                has_body ? &provider : nullptr) != 0)
        return false;
    stream->answered = true;
    stream->tunnel = stream->extended_connect && has_body && head.status() / 100 == 2;
    // A head without a body ended the stream: nothing may follow it (send_data, send_trailers).
    stream->response_end = !has_body;
    return true;
}

bool H2Session::submit_interim(int32_t stream_id, const ResponseFields &head) {
    Stream *stream = find(stream_id);
    if (!stream || stream->answered || head.status() < 100 || head.status() > 199 || head.status() == 101)
        return false;
    HeadNva nva(head);
    return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream_id, nullptr, nva.data(), nva.size(),
                                  nullptr) == 0;
}

H2Session::Stream *H2Session::body_open(int32_t stream_id) {
    Stream *stream = find(stream_id);
    return stream && stream->answered && !stream->response_end ? stream : nullptr;
}

bool H2Session::send_data(int32_t stream_id, std::string_view bytes, bool end) {
    Stream *stream = body_open(stream_id);
    if (!stream) return false;
    if (!bytes.empty() && stream->response.reads_file()) return false; // they would pass the file
    stream->response.append(bytes);
    stream->response_end = end;
    resume(*stream, stream_id);
    return true;
}

bool H2Session::send_file(int32_t stream_id, int fd, uint64_t offset, uint64_t length, bool end) {
    Stream *stream = body_open(stream_id);
    if (!stream || stream->response.reads_file()) return false;
    stream->response.append_file(fd, offset, length);
    stream->response_end = end;
    resume(*stream, stream_id);
    return true;
}

void H2Session::resume(Stream &stream, int32_t stream_id) {
    if (!stream.deferred) return;
    stream.deferred = false;
    nghttp2_session_resume_data(session_, stream_id);
}

std::span<char> H2Session::body_space(int32_t stream_id, size_t hint) {
    Stream *stream = body_open(stream_id);
    if (!stream || stream->response.reads_file()) return {};
    return stream->response.reserve(hint);
}

void H2Session::return_body_space(int32_t stream_id) {
    if (Stream *stream = find(stream_id)) stream->response.unreserve();
}

bool H2Session::send_trailers(int32_t stream_id, std::vector<H2Field> fields) {
    Stream *stream = body_open(stream_id);
    if (!stream || fields.empty()) return false;
    stream->trailers_out = std::move(fields);
    return true;
}

size_t H2Session::queued(int32_t stream_id) const {
    const Stream *stream = find(stream_id);
    return stream ? stream->response.size() : 0;
}

bool H2Session::body_waits(int32_t stream_id) const {
    const Stream *stream = find(stream_id);
    return stream && (stream->response.reads_file() || waits_for_window(*stream, stream_id));
}

bool H2Session::waits_for_window(int32_t stream_id) const {
    const Stream *stream = find(stream_id);
    return stream && waits_for_window(*stream, stream_id);
}

bool H2Session::waits_for_window(const Stream &stream, int32_t stream_id) const {
    size_t pending = stream.response.size();
    if (pending == 0) return false;
    int32_t window = std::min(nghttp2_session_get_stream_remote_window_size(session_, stream_id),
                              nghttp2_session_get_remote_window_size(session_));
    return window < 0 || pending > static_cast<size_t>(window);
}

void H2Session::consume(int32_t stream_id, size_t n) {
    Stream *stream = find(stream_id);
    if (!stream) return; // its bytes went back to the connection's window when it closed
    n = std::min(n, stream->unconsumed);
    stream->unconsumed -= n;
    nghttp2_session_consume(session_, stream_id, n);
}

void H2Session::reset_stream(int32_t stream_id, uint32_t error_code) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code);
}

void H2Session::drain() {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
}

void H2Session::notice_shutdown() {
    if (drain_pings_ > 0 || terminated_) return;
    if (nghttp2_submit_shutdown_notice(session_) != 0 ||
        nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr) != 0)
        return drain();
    drain_pings_ = 2;
}

void H2Session::trim() {
    if (streams_.empty()) decltype(streams_)().swap(streams_);
    if (closed_queues_.empty()) closed_queues_.shrink_to_fit();
}

void H2Session::goaway_idle() {
    if (!terminated_) nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
}

bool H2Session::finished() const {
    return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

} // namespace proxyd
