// libFuzzer target: a client's bytes to H2Session (after the connection preface, which the
// target adds so that every input reaches the frame layer), in pieces of 1..64 bytes. The first
// input byte picks the piece size; the second how the owner behaves: whether it consumes body
// bytes at once, answers each request when it ends (with a body sent in two parts, or one larger
// than the client's initial stream window, so that the rest waits for its WINDOW_UPDATE), drains
// halfway through, resets a stream with a body as soon as its head came (a refused upload),
// whether nghttp2's memory comes from a worker's H2MemoryPool or malloc, and whether extended
// CONNECT (RFC 8441) is on, its streams answered 200 at once and their DATA echoed as a tunnel's. Whatever
// the bytes: the output is whole frames, the open streams never exceed the limit, a connection error's output
// ends in a GOAWAY, nothing is read after it, and the owner hears of a stream only between its
// head and its close (one end at most, no body after it). Each stream's request also goes where
// proxyd serves it, a RequestParser (accept_head, its body, end_body; a WebSocket's extended
// CONNECT as the Upgrade GET it stands for, whose message ends with its head), which must report
// one request at most, its head before its body, and nothing after its message ended or an error.
//
// With the mode's top bit the rest of the input is a script instead (Script below; the first
// byte then says whether answers end with trailers, whether they are 204s, which no trailers
// may follow, whether their bodies are read into the streams' own space (body_space), and
// whether the socket takes rounds in parts, as TLS does, a DATA frame's header written over the
// end of the frame before it once that one went, and whether a body's second part is a file the
// stream reads itself, send_file, whole or a byte short of its length, the body's end with it
// or in an empty piece after it): steps that feed client bytes, let the
// client's socket take part or all of the output (the session's rounds wait in a socket queue; above a
// high-water mark the connection stops reading, at a low-water mark it flushes the next rounds, as
// server/h2_connection does), submit a 100 or 103 on the newest stream, begin a graceful shutdown or drain,
// consume part of a stream's body, or let the connection go idle (GOAWAY). Besides the rules above: no stream
// above a written GOAWAY's last stream id reaches the owner, a session told to go idle is finished once its
// output is taken, and send_trailers is taken for an answered response with a body until its last byte, and
// refused after it or for a bodiless answer.
#include "h2/h2_memory_pool.hpp"
#include "h2/h2_session.hpp"
#include "h2/h2_websocket_upgrade.hpp"
#include "http/request_parser.hpp"
#include "http/response_fields.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using proxyd::H2Events;
using proxyd::H2RequestHead;
using proxyd::H2Session;

[[noreturn]] void broken(const char *what) {
    std::fprintf(stderr, "H2Session broke a rule: %s\n", what);
    std::abort();
}

// One stream's request as a stream-backed connection's parser takes it, the events checked.
struct StreamRequest final : proxyd::RequestParser::Events {
    explicit StreamRequest(const proxyd::RequestLimits &limits) : parser(limits, *this) {}
    proxyd::RequestParser parser;
    int begun = 0;
    bool head = false;
    bool complete = false;
    bool failed = false;

    void on_request_begin() override {
        if (++begun > 1) broken("a second request begun on a stream's parser");
    }
    void on_head_received() override {}
    void on_request_head() override {
        if (head || !begun) broken("a request head twice, or before its beginning");
        head = true;
        // Origin-form, or '*' for OPTIONS (RFC 9113 §8.3.1; the session refuses other forms).
        std::string_view path = parser.view().path;
        bool asterisk = path == "*" && parser.method() == "OPTIONS";
        if (!asterisk && (path.empty() || path[0] != '/')) broken("a path without its '/'");
    }
    void on_request_body(std::string_view) override {
        if (!head || complete) broken("request body bytes outside the body");
    }
    void on_request_complete() override {
        if (!head || complete) broken("a request completed twice, or without its head");
        complete = true;
    }
    void take(proxyd::RequestParser::Result result) {
        if (failed && result != proxyd::RequestParser::Result::kError)
            broken("the parser went on after an error");
        if (result == proxyd::RequestParser::Result::kError) {
            failed = true;
            if (parser.error_status() < 400 || parser.error_text().empty())
                broken("an error without its status");
        }
        if (result == proxyd::RequestParser::Result::kMessageEnd && !complete)
            broken("a message end unannounced");
    }
};

// Larger than the client's initial stream window (65535 until its SETTINGS say otherwise).
constexpr size_t kLargeBodyPiece = 40000;

struct Owner : H2Events {
    H2Session *session = nullptr;
    bool consume = true;
    bool answer = true;
    bool large_body = false;
    bool reset_uploads = false;
    bool trailers = false;        // answers end with trailers (script mode)
    bool bodiless = false;        // answers are 204s, which no trailers may follow (script mode)
    bool websocket = false;       // extended CONNECT allowed (RFC 8441): such streams are echoed
    bool read_into_space = false; // answers' bodies are read into body_space() (script mode)
    // Answers' second parts are a file queued by reference (send_file), a byte shorter than the
    // length given when short_file (script mode): the stream is then reset with a read error.
    bool from_file = false;
    bool short_file = false;
    bool end_apart = false; // the body's end follows the file in an empty send_data
    // Streams whose file was queued: its descriptor and inode (a closed descriptor's number may
    // come back for another stream's file).
    std::map<int32_t, std::pair<int, ino_t>> files;
    std::vector<std::pair<int, ino_t>> closed_files; // those of streams closed since the last check

    // After a session call: a closed stream's file is closed (after its last read, or with it).
    void check_files_closed() {
        for (auto [fd, inode] : closed_files) {
            struct stat st {};
            if (::fstat(fd, &st) == 0 && st.st_ino == inode) broken("a closed stream's file left open");
        }
        closed_files.clear();
    }
    std::map<int32_t, bool> live; // streams the owner heard of and not yet closed: ended or not
    std::map<int32_t, bool> tunnels; // extended CONNECT streams answered 200, open both ways
    proxyd::RequestLimits request_limits;
    std::map<int32_t, std::unique_ptr<StreamRequest>> requests;
    std::map<int32_t, size_t> unconsumed; // body bytes not consumed yet (without `consume`)
    // The lowest last stream id of the GOAWAY frames written so far: no later stream may come.
    int32_t goaway_last = std::numeric_limits<int32_t>::max();

    void on_request_head(H2RequestHead head) override {
        if (head.method.empty()) broken("a request head without a method");
        for (const auto &[name, value] : head.fields)
            if (name.empty() || name[0] == ':') broken("a pseudo-header among the fields");
        if (!head.protocol.empty() && (!websocket || head.method != "CONNECT"))
            broken("a :protocol the session should have refused");
        if (!live.emplace(head.stream_id, false).second) broken("a second head for an open stream");
        if (head.stream_id > goaway_last) broken("a stream above the last stream id of a GOAWAY sent");
        if (head.method != "CONNECT") {
            auto &request = requests[head.stream_id] = std::make_unique<StreamRequest>(request_limits);
            request->take(request->parser.accept_head(head.method, head.path, head.fields, head.has_body));
        } else if (proxyd::is_websocket_connect(head)) {
            // As proxyd serves it: the Upgrade GET it stands for, a message that ends with its head.
            H2RequestHead upgrade = head;
            if (proxyd::make_websocket_upgrade(upgrade)) {
                auto &request = requests[head.stream_id] = std::make_unique<StreamRequest>(request_limits);
                proxyd::RequestParser::Result result = request->parser.accept_head(
                    upgrade.method, upgrade.path, upgrade.fields, upgrade.has_body);
                request->take(result);
                if (result == proxyd::RequestParser::Result::kNeedMore)
                    broken("a WebSocket's request that did not end with its head");
            }
        }
        if (reset_uploads && head.has_body) return session->reset_stream(head.stream_id, 8 /* CANCEL */);
        if (!head.protocol.empty() && answer) {
            // As a WebSocket tunnel: 200 without END_STREAM, then the client's DATA echoed.
            session->submit_response(head.stream_id, 200, {}, true);
            tunnels[head.stream_id] = true;
        }
    }
    void on_request_data(int32_t id, std::string_view data) override {
        auto it = live.find(id);
        if (it == live.end()) broken("body bytes for a stream without a head");
        if (it->second) broken("body bytes after the request's end");
        if (tunnels.contains(id)) session->send_data(id, data, false);
        if (auto request = requests.find(id); request != requests.end())
            request->second->take(request->second->parser.execute(data.data(), data.size()));
        if (consume)
            session->consume(id, data.size());
        else
            unconsumed[id] += data.size();
    }
    void on_request_trailers(int32_t id, std::vector<proxyd::H2Field> &&) override {
        auto it = live.find(id);
        if (it == live.end()) broken("trailers for a stream without a head");
        if (it->second) broken("trailers after the request's end");
    }
    void on_request_end(int32_t id) override {
        auto it = live.find(id);
        if (it == live.end()) broken("a request end for a stream without a head");
        if (it->second) broken("a request ended twice");
        it->second = true;
        if (auto request = requests.find(id); request != requests.end())
            request->second->take(request->second->parser.end_body());
        if (tunnels.contains(id)) { // the client's END_STREAM half-closes: the tunnel ends too
            session->send_data(id, {}, true);
            return;
        }
        if (!answer) return;
        if (bodiless) {
            if (session->submit_response(id, 204, {}, false) && session->send_trailers(id, {{"x-sum", "1"}}))
                broken("trailers taken for a response without a body");
            return;
        }
        bool answered = session->submit_response(id, 200, {{"content-type", "text/plain"}}, true);
        std::string piece = large_body ? std::string(kLargeBodyPiece, 'x') : std::string("half ");
        send(id, piece, false);
        if (trailers && session->send_trailers(id, {{"grpc-status", "0"}, {"x-sum", "2"}}) != answered)
            broken("trailers refused for an open answer with a body, or taken for a stream not answered");
        std::string rest = large_body ? piece : std::string("and the rest");
        if (from_file && answered)
            send_file(id, rest);
        else
            send(id, rest, true);
        if (trailers && session->send_trailers(id, {{"x-late", "1"}}))
            broken("trailers taken after the last byte");
    }
    // The rest of the body from a file of its bytes (a byte short with short_file), which the
    // stream reads as its frames are made; nothing may follow it.
    void send_file(int32_t id, const std::string &bytes) {
        int fd = ::memfd_create("h2-fuzz-body", MFD_CLOEXEC);
        if (fd < 0) broken("no memfd for a file body");
        size_t stored = short_file ? bytes.size() - 1 : bytes.size();
        if (::write(fd, bytes.data(), stored) != static_cast<ssize_t>(stored)) broken("memfd write");
        struct stat st {};
        if (::fstat(fd, &st) != 0) broken("fstat of a memfd");
        if (!session->send_file(id, fd, 0, bytes.size(), !end_apart))
            broken("a file refused for an open answer");
        files[id] = {fd, st.st_ino};
        if (session->send_data(id, "late", false)) broken("body bytes taken behind a file");
        if (!session->body_space(id, 100).empty()) broken("space for body bytes behind a file");
        if (end_apart && !session->send_data(id, {}, true)) broken("the body's end refused after a file");
    }
    // Body bytes as given, or read into the stream's own space piece by piece, as proxyd reads
    // an upstream's socket or a file.
    void send(int32_t id, const std::string &bytes, bool end) {
        if (!read_into_space) {
            session->send_data(id, bytes, end);
            return;
        }
        std::string_view rest = bytes;
        do {
            std::span<char> space = session->body_space(id, rest.size());
            if (space.empty()) {
                session->send_data(id, rest, end); // refused as well: the stream takes no body
                return;
            }
            size_t n = std::min(space.size(), rest.size());
            std::copy_n(rest.data(), n, space.data());
            rest.remove_prefix(n);
            if (!session->send_data(id, {space.data(), n}, end && rest.empty()))
                broken("body bytes refused from the space the stream handed out");
            // The read is done, as proxyd's producers say after each one: the rest is freed.
            session->return_body_space(id);
        } while (!rest.empty());
    }
    void on_stream_close(int32_t id, uint32_t, size_t) override {
        if (live.erase(id) == 0) broken("a close for a stream without a head, or closed before");
        // Its queue, and with it the file, may live until the round being made was written.
        if (auto file = files.find(id); file != files.end()) {
            closed_files.push_back(file->second);
            files.erase(file);
        }
        tunnels.erase(id);
        requests.erase(id);
        unconsumed.erase(id);
    }
    void on_response_data_sent(int32_t id, size_t) override {
        if (!live.contains(id)) broken("response progress for a stream without a head, or closed");
    }
    void on_response_read_failed(int32_t id, int error) override {
        if (!live.contains(id)) broken("a file read for a stream without a head, or closed");
        if (!short_file || error != ENODATA) broken("a read failure other than the short file's end");
    }
};

// The output must be a sequence of whole frames; returns the type of the last one (or -1).
int check_frames(std::string_view out) {
    int last = -1;
    size_t at = 0;
    while (at < out.size()) {
        if (out.size() - at < 9) broken("output ends inside a frame header");
        auto b = [&](size_t i) { return static_cast<uint8_t>(out[at + i]); };
        size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
        if (len > 16384) broken("a frame longer than SETTINGS_MAX_FRAME_SIZE's default");
        if (out.size() - at - 9 < len) broken("output ends inside a frame");
        last = b(3);
        at += 9 + len;
    }
    return last;
}

// The connection's socket as the script drives it: the session's rounds queue in `output`, of
// which the client has read the first `taken` bytes.
struct Socket final : proxyd::H2Output {
    // Scaled down from net/backpressure.hpp's (the session never sees them), so that short
    // inputs cross them.
    static constexpr size_t kHighWater = 4096;
    static constexpr size_t kLowWater = 1024;
    std::string output;
    size_t taken = 0;
    size_t scanned = 0;    // frames before this were looked at for a GOAWAY
    bool in_parts = false; // takes rounds in parts, as a TLS connection does

    void write_frames(const uv_buf_t *bufs, size_t count) override {
        for (size_t i = 0; i < count; ++i)
            output.append(bufs[i].base, bufs[i].len);
    }
    bool takes_rounds_in_parts() const override { return in_parts; }
    void write_frames_part(const uv_buf_t *bufs, size_t count) override { write_frames(bufs, count); }
    size_t queued() const { return output.size() - taken; }
    // The last stream id of each whole GOAWAY frame written since the last call.
    void note_goaways(Owner &owner) {
        while (output.size() - scanned >= 9) {
            auto b = [&](size_t i) { return static_cast<uint8_t>(output[scanned + i]); };
            size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
            if (output.size() - scanned - 9 < len) return;
            if (b(3) == 7 /* GOAWAY */ && len >= 8) {
                int32_t last = static_cast<int32_t>(((uint32_t{b(9)} & 0x7f) << 24) |
                                                    (uint32_t{b(10)} << 16) | (uint32_t{b(11)} << 8) | b(12));
                owner.goaway_last = std::min(owner.goaway_last, last);
            }
            scanned += 9 + len;
        }
    }
};

enum class Step : uint8_t {
    kFeed,        // 1..32 client bytes
    kFeedMore,    // 16..512 client bytes
    kTake,        // the client reads 2^n bytes of the output, 1 byte to 64 KiB
    kTakeAll,     // the client reads all of it
    kInterim,     // a 100 Continue or a 103 Early Hints on the newest stream
    kShutdown,    // notice_shutdown(), or drain() at once
    kConsumePart, // part of the oldest stream's unconsumed body consumed
    kIdle,        // the idle timeout, when no stream is open and nothing queued: goaway_idle()
};

// Runs the script after the first two bytes: each step a byte (its low three bits the Step, the
// rest its argument), a feed followed by its client bytes. A connection error ends it.
struct Script {
    Script(Owner &owner_, H2Session &session_, const proxyd::H2Limits &limits_)
        : owner(owner_), session(session_), limits(limits_) {}
    Owner &owner;
    H2Session &session;
    const proxyd::H2Limits &limits;
    Socket socket;
    std::string held; // client bytes read from the script, not yet given to the session
    bool ended = false;
    bool went_idle = false;

    // As server/h2_connection's flush(): rounds while the socket's queue is at its low-water mark.
    void flush() {
        for (int round = 0; round < 4 && !ended && socket.queued() <= Socket::kLowWater; ++round) {
            if (!session.output_pending()) return;
            settle(session.flush(socket));
        }
    }
    void settle(H2Session::Status status) {
        socket.note_goaways(owner);
        owner.check_files_closed();
        if (session.open_streams() > limits.max_concurrent_streams + 1)
            broken("more streams open than allowed");
        if (status == H2Session::Status::kClosing) {
            if (check_frames(socket.output) == -1) broken("a connection error without any frame");
            if (session.error_text().empty()) broken("a connection error without a reason");
            ended = true;
        } else if (status == H2Session::Status::kError) {
            if (session.error_text().empty()) broken("an error without a reason");
            ended = true;
        }
    }
    // Above the high-water mark the connection does not read: the bytes wait in `held`.
    void read() {
        if (held.empty() || ended || socket.queued() > Socket::kHighWater) return;
        std::string bytes;
        bytes.swap(held);
        settle(session.receive(bytes.data(), bytes.size(), socket));
        if (!ended && session.output_pending()) flush();
    }
    void take(size_t n) {
        socket.taken += std::min(n, socket.queued());
        flush();
        read();
    }
    void interim(bool early_hints) {
        if (owner.live.empty()) return;
        proxyd::ResponseFields head;
        head.clear(early_hints ? 103 : 100);
        if (early_hints) head.add("link", "</style.css>; rel=preload; as=style");
        head.finish(std::nullopt);
        session.submit_interim(owner.live.rbegin()->first, head);
        flush();
    }
    void consume_part(unsigned share) {
        for (auto &[id, bytes] : owner.unconsumed) {
            if (bytes == 0) continue;
            size_t n = std::max<size_t>(1, bytes * (share + 1) / 32);
            bytes -= n;
            session.consume(id, n);
            break;
        }
        flush();
    }

    void run(const uint8_t *data, size_t size) {
        size_t at = 0;
        while (at < size && !ended) {
            uint8_t byte = data[at++];
            unsigned arg = byte >> 3;
            switch (static_cast<Step>(byte & 7)) {
            case Step::kFeed:
            case Step::kFeedMore: {
                size_t n = (byte & 7) == 0 ? 1 + arg : 16 * (1 + arg);
                n = std::min(n, size - at);
                held.append(reinterpret_cast<const char *>(data + at), n);
                at += n;
                read();
                break;
            }
            case Step::kTake:
                take(size_t{1} << (arg % 17));
                break;
            case Step::kTakeAll:
                take(socket.queued());
                break;
            case Step::kInterim:
                interim((arg & 1) == 0);
                break;
            case Step::kShutdown:
                if (arg & 1)
                    session.drain();
                else
                    session.notice_shutdown();
                flush();
                break;
            case Step::kConsumePart:
                consume_part(arg);
                break;
            case Step::kIdle:
                if (session.open_streams() == 0 && socket.queued() == 0) {
                    session.goaway_idle();
                    went_idle = true;
                    flush();
                }
                break;
            }
        }
        // The client reads everything left, as long as the session has anything to say.
        for (int turns = 0; !ended && turns < 64 && (socket.queued() > 0 || session.output_pending());
             ++turns)
            take(socket.queued());
        check_frames(socket.output);
        if (went_idle && !ended && !session.output_pending() && !session.finished())
            broken("a session gone idle is not finished once its GOAWAY is written");
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t piece = 1 + data[0] % 64;
    uint8_t mode = data[1];
    std::string input = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    input.append(reinterpret_cast<const char *>(data + 2), size - 2);

    proxyd::H2Limits limits;
    limits.max_concurrent_streams = 8;
    Owner owner;
    owner.consume = (mode & 1) == 0;
    owner.answer = (mode & 2) == 0;
    bool drain = (mode & 4) != 0;
    owner.large_body = (mode & 16) != 0;
    owner.reset_uploads = (mode & 32) != 0;
    owner.websocket = limits.enable_connect_protocol = (mode & 64) != 0;
    proxyd::H2MemoryPool pool;
    H2Session session(owner, limits, (mode & 8) != 0 ? &pool : nullptr);
    owner.session = &session;

    if (mode & 128) {
        owner.trailers = (data[0] & 1) != 0;
        owner.bodiless = (data[0] & 2) != 0;
        owner.read_into_space = (data[0] & 8) != 0;
        owner.from_file = (data[0] & 16) != 0;
        owner.short_file = (data[0] & 32) != 0;
        owner.end_apart = (data[0] & 64) != 0;
        Script script{owner, session, limits};
        script.socket.in_parts = (data[0] & 4) != 0;
        std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        script.held = preface;
        script.read();
        script.run(data + 2, size - 2);
        return 0;
    }

    std::string output;
    bool ended = false;
    for (size_t at = 0; at < input.size() && !ended; at += piece) {
        std::string out;
        size_t n = std::min(piece, input.size() - at);
        H2Session::Status status = session.receive(input.data() + at, n, out);
        if (status == H2Session::Status::kOk) status = session.flush(out);
        output += out;
        if (drain && at >= input.size() / 2) {
            session.drain();
            drain = false;
        }
        if (session.open_streams() > limits.max_concurrent_streams + 1)
            broken("more streams open than allowed");
        if (status == H2Session::Status::kClosing) {
            if (check_frames(output) == -1) broken("a connection error without any frame");
            if (session.error_text().empty()) broken("a connection error without a reason");
            ended = true;
        } else if (status == H2Session::Status::kError) {
            if (session.error_text().empty()) broken("an error without a reason");
            ended = true;
        }
    }
    check_frames(output);
    return 0;
}
