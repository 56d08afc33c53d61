// The h2 DATA path without copies: H2DataQueue's frame layout, and H2Session writing a large
// response in bounded rounds whose DATA frames are each one buffer, header and payload together.
#include "h2/h2_data_queue.hpp"
#include "h2/h2_session.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <nghttp2/nghttp2.h>
#include <string>
#include <vector>

using namespace proxyd;

namespace {

std::string pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (i * 7) % 26);
    return s;
}

const uint8_t kHeader[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

// Answers every request with the same body, queued whole at once.
struct Answerer : H2Events {
    H2Session *session = nullptr;
    std::string body;
    void on_request_head(H2RequestHead) override {}
    void on_request_data(int32_t id, std::string_view data) override { session->consume(id, data.size()); }
    void on_request_trailers(int32_t, std::vector<H2Field> &&) override {}
    void on_request_end(int32_t id) override {
        REQUIRE(session->submit_response(id, 200, {{"content-type", "application/pdf"}}, true));
        REQUIRE(session->send_data(id, body, true));
    }
    void on_stream_close(int32_t, uint32_t, size_t) override {}
    void on_response_data_sent(int32_t, size_t) override {}
};

// Each round as the connection would get it.
struct Rounds final : H2Output {
    std::vector<std::vector<std::string>> rounds;
    void write_frames(const uv_buf_t *bufs, size_t count) override {
        auto &round = rounds.emplace_back();
        for (size_t i = 0; i < count; ++i)
            round.emplace_back(bufs[i].base, bufs[i].len);
    }
};

// nghttp2's client with windows as large as h2load's (1 GiB), collecting one stream's body.
struct BigWindowClient {
    nghttp2_session *session = nullptr;
    std::string body;
    bool closed = false;
    BigWindowClient() {
        nghttp2_session_callbacks *cb = nullptr;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session *, uint8_t, int32_t, const uint8_t *data, size_t len, void *ud) {
                static_cast<BigWindowClient *>(ud)->body.append(reinterpret_cast<const char *>(data), len);
                return 0;
            });
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, [](nghttp2_session *, int32_t, uint32_t, void *ud) {
                static_cast<BigWindowClient *>(ud)->closed = true;
                return 0;
            });
        nghttp2_session_client_new(&session, cb, this);
        nghttp2_session_callbacks_del(cb);
        nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 30) - 1}};
        nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);
        nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
        std::string names[] = {":method", "GET",         ":scheme",    "https",
                               ":path",   "/report.pdf", ":authority", "h"};
        std::vector<nghttp2_nv> nva;
        for (size_t i = 0; i < 8; i += 2)
            nva.push_back({reinterpret_cast<uint8_t *>(names[i].data()),
                           reinterpret_cast<uint8_t *>(names[i + 1].data()), names[i].size(),
                           names[i + 1].size(), NGHTTP2_NV_FLAG_NONE});
        REQUIRE(nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), nullptr, nullptr) == 1);
    }
    ~BigWindowClient() { nghttp2_session_del(session); }
    std::string send() {
        std::string out;
        const uint8_t *data = nullptr;
        for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;)
            out.append(reinterpret_cast<const char *>(data), static_cast<size_t>(n));
        return out;
    }
    void receive(const std::string &bytes) {
        REQUIRE(nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t *>(bytes.data()),
                                         bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
};

} // namespace

TEST_CASE("h2 data queue: a frame's header goes in front of its payload, one span per frame") {
    H2DataQueue queue;
    std::string bytes = pattern(40000);
    queue.append(bytes);
    CHECK(queue.size() == 40000);
    // A frame never spans two blocks, and a full one is exactly one TLS record.
    CHECK(queue.next_payload(1 << 20) == H2DataQueue::kMaxPayload);
    CHECK(queue.next_payload(100) == 100);

    H2DataQueue::Frame first = queue.take_frame(kHeader, H2DataQueue::kMaxPayload);
    REQUIRE(first.header_in_place);
    CHECK(first.len == H2DataQueue::kBlockBytes);
    CHECK(std::memcmp(first.data, kHeader, 9) == 0);
    CHECK(std::string_view(first.data + 9, H2DataQueue::kMaxPayload) ==
          bytes.substr(0, H2DataQueue::kMaxPayload));

    // A short frame (a small window) from the next block, then in the same round the rest of
    // that block: its header would land on the first frame's tail, so it comes apart.
    H2DataQueue::Frame part = queue.take_frame(kHeader, 1000);
    REQUIRE(part.header_in_place);
    CHECK(std::string_view(part.data + 9, 1000) == bytes.substr(H2DataQueue::kMaxPayload, 1000));
    size_t rest = queue.next_payload(1 << 20);
    CHECK(rest == H2DataQueue::kMaxPayload - 1000);
    H2DataQueue::Frame apart = queue.take_frame(kHeader, rest);
    CHECK_FALSE(apart.header_in_place);
    CHECK(std::string_view(apart.data, rest) == bytes.substr(H2DataQueue::kMaxPayload + 1000, rest));
    queue.release_sent();

    // A block a frame came from takes no more bytes: what follows starts a block of its own.
    size_t left = queue.size();
    CHECK(left == 40000 - 2 * H2DataQueue::kMaxPayload);
    H2DataQueue::Frame cut = queue.take_frame(kHeader, 100);
    CHECK(cut.header_in_place);
    queue.release_sent();
    queue.append("tail");
    // The next round's frame continues the cut block, its header over bytes already written.
    H2DataQueue::Frame after_cut = queue.take_frame(kHeader, queue.next_payload(1 << 20));
    CHECK(after_cut.header_in_place);
    CHECK(std::string_view(after_cut.data + 9, after_cut.len - 9) == bytes.substr(40000 - left + 100));
    CHECK(queue.next_payload(1 << 20) == 4);
    H2DataQueue::Frame tail = queue.take_frame(kHeader, 4);
    CHECK(std::string_view(tail.data + 9, 4) == "tail");
    CHECK(queue.size() == 0);
    queue.release_sent();
    CHECK(queue.capacity() == 0);
}

TEST_CASE("h2 output: a large response under a large window leaves in bounded rounds, a frame a buffer") {
    Answerer owner;
    owner.body = pattern(548797); // the demo PDF's size
    H2Session server(owner);
    owner.session = &server;
    BigWindowClient client;
    Rounds rounds;

    std::string preface = client.send();
    REQUIRE(server.receive(preface.data(), preface.size(), rounds) == H2Session::Status::kOk);
    for (int i = 0; i < 100 && server.output_pending(); ++i)
        REQUIRE(server.flush(rounds) == H2Session::Status::kOk);
    CHECK_FALSE(server.output_pending());

    size_t data_frames = 0;
    for (const auto &round : rounds.rounds) {
        size_t bytes = 0;
        for (const std::string &buf : round) {
            bytes += buf.size();
            client.receive(buf);
            // A DATA frame (type 0) is its header and its payload in one buffer, at most a record.
            if (buf.size() > 9 && buf[3] == 0) {
                ++data_frames;
                size_t len =
                    (size_t(uint8_t(buf[0])) << 16) | (size_t(uint8_t(buf[1])) << 8) | uint8_t(buf[2]);
                CHECK(buf.size() == 9 + len);
                CHECK(len <= H2DataQueue::kMaxPayload);
            }
        }
        // A round ends with the frame that reaches kRoundBytes.
        CHECK(bytes < H2Session::kRoundBytes + H2DataQueue::kBlockBytes);
    }
    CHECK(client.closed);
    CHECK(client.body == owner.body);
    CHECK(data_frames == (548797 + H2DataQueue::kMaxPayload - 1) / H2DataQueue::kMaxPayload);
    CHECK(rounds.rounds.size() >= 548797 / H2Session::kRoundBytes);
}
