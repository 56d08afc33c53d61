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
// proxyd serves it, a RequestParser (accept_head, its body, end_body), which must report one
// request at most, its head before its body, and nothing after its message ended or an error.
#include "h2/h2_memory_pool.hpp"
#include "h2/h2_session.hpp"
#include "http/request_parser.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
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
        if (parser.view().path.empty() || parser.view().path[0] != '/') broken("a path without its '/'");
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
    bool websocket = false;       // extended CONNECT allowed (RFC 8441): such streams are echoed
    std::map<int32_t, bool> live; // streams the owner heard of and not yet closed: ended or not
    std::map<int32_t, bool> tunnels; // extended CONNECT streams answered 200, open both ways
    proxyd::RequestLimits request_limits;
    std::map<int32_t, std::unique_ptr<StreamRequest>> requests;

    void on_request_head(H2RequestHead head) override {
        if (head.method.empty()) broken("a request head without a method");
        for (const auto &[name, value] : head.fields)
            if (name.empty() || name[0] == ':') broken("a pseudo-header among the fields");
        if (!head.protocol.empty() && (!websocket || head.method != "CONNECT"))
            broken("a :protocol the session should have refused");
        if (!live.emplace(head.stream_id, false).second) broken("a second head for an open stream");
        if (head.method != "CONNECT") {
            auto &request = requests[head.stream_id] = std::make_unique<StreamRequest>(request_limits);
            request->take(request->parser.accept_head(head.method, head.path, head.fields, head.has_body));
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
        if (consume) session->consume(id, data.size());
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
        session->submit_response(id, 200, {{"content-type", "text/plain"}}, true);
        if (large_body) {
            std::string piece(kLargeBodyPiece, 'x');
            session->send_data(id, piece, false);
            session->send_data(id, piece, true);
            return;
        }
        session->send_data(id, "half ", false);
        session->send_data(id, "and the rest", true);
    }
    void on_stream_close(int32_t id, uint32_t, size_t) override {
        if (live.erase(id) == 0) broken("a close for a stream without a head, or closed before");
        tunnels.erase(id);
        requests.erase(id);
    }
    void on_response_data_sent(int32_t id, size_t) override {
        if (!live.contains(id)) broken("response progress for a stream without a head, or closed");
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
