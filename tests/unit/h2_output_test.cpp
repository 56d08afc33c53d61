// The h2 DATA path without copies: H2DataQueue's frame layout and its reserved space, and
// H2Session writing a large response in bounded rounds whose DATA frames are each one buffer,
// header and payload together (an output that takes rounds in parts, as TLS does), or header and
// payload apart (one that takes them whole), the payload where the stream's queue holds it; and
// a file queued by reference, read a block at a time as its frames are made.
#include "h2/h2_data_queue.hpp"
#include "h2/h2_session.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <span>
#include <string>
#include <unistd.h>
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

// Answers every request with the same body, queued whole at once; with empty_end, not ended
// (the test ends it later with an empty piece, as a body without a length ends).
struct Answerer : H2Events {
    H2Session *session = nullptr;
    std::string body;
    bool empty_end = false;
    void on_request_head(H2RequestHead) override {}
    void on_request_data(int32_t id, std::string_view data) override { session->consume(id, data.size()); }
    void on_request_trailers(int32_t, std::vector<H2Field> &&) override {}
    void on_request_end(int32_t id) override {
        REQUIRE(session->submit_response(id, 200, {{"content-type", "application/pdf"}}, true));
        REQUIRE(session->send_data(id, body, !empty_end));
    }
    void on_stream_close(int32_t, uint32_t, size_t) override {}
    void on_response_data_sent(int32_t, size_t) override {}
    void on_response_read_failed(int32_t, int) override {}
};

// Each round as the connection would get it (copied at each call, as TLS encrypts it), with the
// address each buffer lay at.
struct Rounds final : H2Output {
    explicit Rounds(bool parts) : in_parts(parts) {}
    bool in_parts;
    bool part_pending = false;
    std::vector<std::vector<std::string>> rounds;
    std::vector<const char *> addresses;
    void take(const uv_buf_t *bufs, size_t count) {
        if (!part_pending) rounds.emplace_back();
        for (size_t i = 0; i < count; ++i) {
            rounds.back().emplace_back(bufs[i].base, bufs[i].len);
            addresses.push_back(bufs[i].base);
        }
    }
    void write_frames(const uv_buf_t *bufs, size_t count) override {
        take(bufs, count);
        part_pending = false;
    }
    bool takes_rounds_in_parts() const override { return in_parts; }
    void write_frames_part(const uv_buf_t *bufs, size_t count) override {
        REQUIRE(in_parts);
        take(bufs, count);
        part_pending = true;
    }
};

// Answers every request with a body read into the stream's own space (as an upstream's socket
// or a file is), pieces of at most `piece` bytes; remembers where each piece lay.
struct Reader : H2Events {
    H2Session *session = nullptr;
    std::string body;
    size_t piece = 0;
    std::vector<std::span<char>> spaces;
    void on_request_head(H2RequestHead) override {}
    void on_request_data(int32_t, std::string_view) override {}
    void on_request_trailers(int32_t, std::vector<H2Field> &&) override {}
    void on_request_end(int32_t id) override {
        REQUIRE(session->submit_response(id, 200, {{"content-length", std::to_string(body.size())}}, true));
        for (size_t at = 0; at < body.size();) {
            std::span<char> space = session->body_space(id, body.size() - at);
            REQUIRE(space.size() >= 1);
            size_t n = std::min({space.size(), piece, body.size() - at});
            std::memcpy(space.data(), body.data() + at, n);
            spaces.push_back(space.first(n));
            at += n;
            REQUIRE(session->send_data(id, {space.data(), n}, at == body.size()));
        }
    }
    void on_stream_close(int32_t, uint32_t, size_t) override {}
    void on_response_data_sent(int32_t, size_t) override {}
    void on_response_read_failed(int32_t, int) override {}
};

// An unlinked temporary file holding bytes; each open_fd() a descriptor of its own.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string &bytes) {
        char name[] = "/tmp/proxyd-h2-file-XXXXXX";
        int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        path = name;
        REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    }
    ~TempFile() { ::unlink(path.c_str()); }
    int open_fd() const {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        return fd;
    }
};

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Answers every request with length bytes of a file from offset, queued by reference.
struct FileAnswerer : H2Events {
    H2Session *session = nullptr;
    const TempFile *file = nullptr;
    uint64_t offset = 0;
    uint64_t length = 0;
    bool end_apart = false; // the body's end comes later, in an empty send_data
    int fd = -1;
    std::vector<int> read_errors;
    void on_request_head(H2RequestHead) override {}
    void on_request_data(int32_t, std::string_view) override {}
    void on_request_trailers(int32_t, std::vector<H2Field> &&) override {}
    void on_request_end(int32_t id) override {
        REQUIRE(session->submit_response(id, 200, {{"content-length", std::to_string(length)}}, true));
        fd = file->open_fd();
        REQUIRE(session->send_file(id, fd, offset, length, !end_apart));
        // Nothing may pass the file, nor a second file; the end may follow it.
        CHECK_FALSE(session->send_data(id, "behind", false));
        CHECK(session->body_space(id, 100).empty());
        int second = file->open_fd();
        CHECK_FALSE(session->send_file(id, second, 0, 10, true));
        ::close(second);
        if (end_apart) CHECK(session->send_data(id, {}, true));
    }
    void on_stream_close(int32_t, uint32_t, size_t) override {}
    void on_response_data_sent(int32_t, size_t) override {}
    void on_response_read_failed(int32_t, int error) override { read_errors.push_back(error); }
};

// nghttp2's client with windows as large as h2load's (1 GiB), collecting one stream's body.
struct BigWindowClient {
    nghttp2_session *session = nullptr;
    std::string body;
    bool closed = false;
    uint32_t close_error = 0;
    BigWindowClient() {
        nghttp2_session_callbacks *cb = nullptr;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session *, uint8_t, int32_t, const uint8_t *data, size_t len, void *ud) {
                static_cast<BigWindowClient *>(ud)->body.append(reinterpret_cast<const char *>(data), len);
                return 0;
            });
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, [](nghttp2_session *, int32_t, uint32_t error, void *ud) {
                static_cast<BigWindowClient *>(ud)->closed = true;
                static_cast<BigWindowClient *>(ud)->close_error = error;
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

// The client's request reaches the server, and the server's rounds go out until none is left.
void answer_request(H2Session &server, BigWindowClient &client, Rounds &rounds) {
    std::string preface = client.send();
    REQUIRE(server.receive(preface.data(), preface.size(), rounds) == H2Session::Status::kOk);
    for (int i = 0; i < 200 && server.output_pending(); ++i)
        REQUIRE(server.flush(rounds) == H2Session::Status::kOk);
}

// The payload length a DATA frame's header (a buffer's first 9 bytes) gives, or -1 when the
// buffer does not start with a DATA frame's header.
long data_frame_length(const std::string &buf) {
    if (buf.size() < 9 || buf[3] != 0) return -1;
    return long((size_t(uint8_t(buf[0])) << 16) | (size_t(uint8_t(buf[1])) << 8) | uint8_t(buf[2]));
}

} // namespace

TEST_CASE("h2 data queue: a frame's header goes in front of its payload, one span per frame") {
    H2DataQueue queue;
    std::string bytes = pattern(40000);
    queue.append(bytes);
    CHECK(queue.size() == 40000);
    // A full frame is exactly one TLS record.
    CHECK(queue.next_payload(1 << 20) == H2DataQueue::kMaxPayload);
    CHECK(queue.next_payload(100) == 100);

    H2DataQueue::Frame first = queue.take_frame(kHeader, H2DataQueue::kMaxPayload);
    REQUIRE(first.header_in_place);
    CHECK(first.len == H2DataQueue::kRecordBytes);
    CHECK(std::memcmp(first.data, kHeader, 9) == 0);
    CHECK(std::string_view(first.data + 9, H2DataQueue::kMaxPayload) ==
          bytes.substr(0, H2DataQueue::kMaxPayload));

    // The next frame of the same block in the same round: its header would land on the first
    // frame's tail, not yet written, so it comes apart, and the tail is left as it was.
    H2DataQueue::Frame second = queue.take_frame(kHeader, 1000);
    CHECK_FALSE(second.header_in_place);
    CHECK(std::string_view(second.data, 1000) == bytes.substr(H2DataQueue::kMaxPayload, 1000));
    CHECK(std::string_view(first.data + 9, H2DataQueue::kMaxPayload) ==
          bytes.substr(0, H2DataQueue::kMaxPayload));
    queue.release_sent();

    // In the next round the header goes over bytes already written.
    size_t rest = queue.next_payload(1 << 20);
    CHECK(rest == H2DataQueue::kMaxPayload);
    H2DataQueue::Frame third = queue.take_frame(kHeader, rest);
    REQUIRE(third.header_in_place);
    CHECK(std::memcmp(third.data, kHeader, 9) == 0);
    CHECK(std::string_view(third.data + 9, rest) == bytes.substr(H2DataQueue::kMaxPayload + 1000, rest));
    queue.release_sent();

    // A block a frame came from takes no more bytes: what follows starts a block of its own.
    size_t left = queue.size();
    CHECK(left == 40000 - 2 * H2DataQueue::kMaxPayload - 1000);
    queue.append("tail");
    H2DataQueue::Frame last = queue.take_frame(kHeader, queue.next_payload(1 << 20));
    CHECK(last.header_in_place);
    CHECK(std::string_view(last.data + 9, last.len - 9) == bytes.substr(40000 - left));
    CHECK(queue.next_payload(1 << 20) == 4);
    H2DataQueue::Frame tail = queue.take_frame(kHeader, 4);
    CHECK(tail.header_in_place);
    CHECK(std::string_view(tail.data + 9, 4) == "tail");
    CHECK(queue.size() == 0);
    queue.release_sent();
    CHECK(queue.capacity() == 0);
}

TEST_CASE("h2 data queue: bytes read into reserved space are taken where they lie") {
    H2DataQueue queue;
    std::string bytes = pattern(100000);

    // A block's payload at most, sized to the hint, never under the smallest block.
    std::span<char> space = queue.reserve(1 << 20);
    CHECK(space.size() == H2DataQueue::kBlockPayload);
    CHECK(queue.reserve(10).data() == space.data()); // the same free space, handed out again
    CHECK(H2DataQueue().reserve(10).size() == H2DataQueue::kMinBlockPayload);
    CHECK(H2DataQueue().reserve(3000).size() == 3000);

    SECTION("read at its start: no copy at all") {
        std::memcpy(space.data(), bytes.data(), 20000);
        queue.append({space.data(), 20000});
        CHECK(queue.size() == 20000);
        // More read behind them into what is left of the block.
        std::span<char> more = queue.reserve(1 << 20);
        CHECK(more.data() == space.data() + 20000);
        std::memcpy(more.data(), bytes.data() + 20000, 5000);
        queue.append({more.data(), 5000});
        H2DataQueue::Frame frame = queue.take_frame(kHeader, H2DataQueue::kMaxPayload);
        REQUIRE(frame.header_in_place);
        CHECK(frame.data + 9 == space.data()); // the frame is the reserved bytes themselves
        CHECK(std::string_view(frame.data + 9, H2DataQueue::kMaxPayload) ==
              bytes.substr(0, H2DataQueue::kMaxPayload));
    }
    SECTION("read behind bytes that are no body (a head, a chunk's size line): moved down onto the end") {
        std::memcpy(space.data(), "HTTP/1.1 200 OK\r\n\r\n", 19);
        std::memcpy(space.data() + 19, bytes.data(), 1000);
        std::memcpy(space.data() + 1019, "\r\n3e8\r\n", 7);
        std::memcpy(space.data() + 1026, bytes.data() + 1000, 1000);
        queue.append({space.data() + 19, 1000});
        queue.append({space.data() + 1026, 1000});
        CHECK(queue.size() == 2000);
        H2DataQueue::Frame frame = queue.take_frame(kHeader, queue.next_payload(1 << 20));
        REQUIRE(frame.header_in_place);
        CHECK(frame.data + 9 == space.data());
        CHECK(std::string_view(frame.data + 9, 2000) == bytes.substr(0, 2000));
    }
    SECTION("a round between a read and its bytes' append: the block takes no more, its bytes are copied out") {
        std::memcpy(space.data(), bytes.data(), 40000);
        queue.append({space.data(), 20000});
        // A round takes all there is and releases it: the block is taken, its bytes all sent.
        H2DataQueue::Frame frame = queue.take_frame(kHeader, queue.next_payload(1 << 20));
        CHECK(frame.len == 9 + H2DataQueue::kMaxPayload);
        while (size_t n = queue.next_payload(1 << 20))
            queue.take_frame(kHeader, n);
        queue.release_sent();
        // The rest of the same read, appended now, comes out of the space it was read into.
        queue.append({space.data() + 20000, 20000});
        std::string out;
        while (size_t n = queue.next_payload(1 << 20)) {
            H2DataQueue::Frame next = queue.take_frame(kHeader, n);
            CHECK(next.data + 9 != space.data() + 20000); // a copy, in a block of its own
            out.append(next.header_in_place ? next.data + 9 : next.data, n);
        }
        CHECK(out == bytes.substr(20000, 20000));
        // A reservation after a frame was taken from a block opens a new one.
        std::span<char> next_space = queue.reserve(1 << 20);
        CHECK((next_space.data() < space.data() || next_space.data() >= space.data() + space.size()));
        queue.release_sent();
        CHECK(queue.capacity() >= next_space.size()); // the new reservation is kept
    }
    SECTION("a read that found nothing: its space is given back, an empty block freed") {
        queue.unreserve();
        CHECK(queue.capacity() == 0);
        CHECK(queue.size() == 0);
        // A block holding bytes stays, with them; the next read reserves its free space again.
        std::span<char> first = queue.reserve(1 << 20);
        std::memcpy(first.data(), bytes.data(), 3000);
        queue.append({first.data(), 3000});
        queue.reserve(1 << 20);
        queue.unreserve();
        CHECK(queue.size() == 3000);
        CHECK(queue.reserve(1 << 20).data() == first.data() + 3000);
        // Given back, then appended to from elsewhere: copied in behind, nothing lost.
        queue.unreserve();
        queue.append("more");
        std::string out;
        while (size_t n = queue.next_payload(1 << 20)) {
            H2DataQueue::Frame frame = queue.take_frame(kHeader, n);
            out.append(frame.header_in_place ? frame.data + 9 : frame.data, n);
        }
        CHECK(out == bytes.substr(0, 3000) + "more");
        // A new block for the next read, given back empty: freed.
        queue.reserve(100);
        queue.unreserve();
        queue.release_sent();
        CHECK(queue.capacity() == 0);
    }
    SECTION(
        "a read whose frames all left inside its send: the emptied block is freed when it is given back") {
        std::memcpy(space.data(), bytes.data(), 20000);
        queue.append({space.data(), 20000});
        // The round written from inside the send (a frame's worth queued, the window open).
        while (size_t n = queue.next_payload(1 << 20))
            queue.take_frame(kHeader, n);
        queue.release_sent(); // keeps it: the read might still be under way into it
        CHECK(queue.capacity() > 0);
        queue.unreserve();
        CHECK(queue.capacity() == 0);
    }
    SECTION("a block with a frame in a round not yet written stays until that round's release") {
        std::memcpy(space.data(), bytes.data(), 100);
        queue.append({space.data(), 100});
        queue.take_frame(kHeader, 100);
        queue.unreserve();
        CHECK(queue.capacity() > 0);
        queue.release_sent();
        CHECK(queue.capacity() == 0);
    }
    SECTION("an append from elsewhere never writes over bytes read and not yet appended") {
        std::memcpy(space.data(), bytes.data() + 100, 500);
        queue.append("from elsewhere");
        queue.append({space.data(), 500}); // copied behind, from where it was read
        CHECK(queue.size() == 514);
        std::string out;
        while (size_t n = queue.next_payload(1 << 20)) {
            H2DataQueue::Frame frame = queue.take_frame(kHeader, n);
            out.append(frame.header_in_place ? frame.data + 9 : frame.data, n);
        }
        CHECK(out == "from elsewhere" + bytes.substr(100, 500));
        queue.release_sent();
        CHECK(queue.capacity() == 0);
    }
}

TEST_CASE("h2 output: a large response under a large window leaves in bounded rounds, a frame a buffer") {
    bool in_parts = GENERATE(true, false);
    bool empty_end = GENERATE(false, true);
    CAPTURE(in_parts, empty_end);
    Answerer owner;
    owner.body = pattern(548797); // the demo PDF's size
    owner.empty_end = empty_end;
    H2Session server(owner);
    owner.session = &server;
    BigWindowClient client;
    Rounds rounds(in_parts);

    answer_request(server, client, rounds);
    if (empty_end) {
        // Every byte went: the END_STREAM comes in an empty DATA frame of its own.
        CHECK(server.queued(1) == 0);
        REQUIRE(server.send_data(1, {}, true));
        REQUIRE(server.flush(rounds) == H2Session::Status::kOk);
    }
    CHECK_FALSE(server.output_pending());

    size_t data_frames = 0;
    size_t header_slices = 0;
    for (const auto &round : rounds.rounds) {
        size_t bytes = 0;
        for (size_t i = 0; i < round.size(); ++i) {
            const std::string &buf = round[i];
            bytes += buf.size();
            client.receive(buf);
            long len = data_frame_length(buf);
            if (len < 0) continue;
            ++data_frames;
            CHECK(len <= long(H2DataQueue::kMaxPayload));
            if (buf.size() == 9 && len > 0) {
                // A header apart, to an output that takes rounds whole: its payload is the next buffer.
                ++header_slices;
                REQUIRE(i + 1 < round.size());
                CHECK(round[i + 1].size() == size_t(len));
                bytes += round[i + 1].size();
                client.receive(round[++i]);
            } else {
                // A DATA frame is its header and its payload in one buffer, at most a record.
                CHECK(buf.size() == 9 + size_t(len));
            }
        }
        // A round ends with the frame that reaches kRoundBytes.
        CHECK(bytes < H2Session::kRoundBytes + H2DataQueue::kRecordBytes);
    }
    CHECK(client.closed);
    CHECK(client.body == owner.body);
    CHECK(data_frames == (548797 + H2DataQueue::kMaxPayload - 1) / H2DataQueue::kMaxPayload + empty_end);
    CHECK(rounds.rounds.size() >= 548797 / H2Session::kRoundBytes);
    // Whole rounds get the header of each block's later frames apart; rounds in parts never.
    if (in_parts)
        CHECK(header_slices == 0);
    else
        CHECK(header_slices > 0);
}

TEST_CASE("h2 output: body bytes read into the stream's space leave as DATA frames without a copy") {
    bool in_parts = GENERATE(true, false);
    CAPTURE(in_parts);
    Reader owner;
    owner.body = pattern(300000);
    owner.piece = GENERATE(size_t(65536), size_t(10000), size_t(1));
    CAPTURE(owner.piece);
    if (owner.piece == 1) owner.body.resize(3000); // one byte a read: a small body is enough
    H2Session server(owner);
    owner.session = &server;
    BigWindowClient client;
    Rounds rounds(in_parts);

    answer_request(server, client, rounds);
    for (const auto &round : rounds.rounds)
        for (const std::string &buf : round)
            client.receive(buf);
    CHECK(client.closed);
    CHECK(client.body == owner.body);

    // Every body byte left from where it was read (each DATA frame's payload begins and ends in
    // spaces the stream handed out, which lie one after another in a block), not from a copy.
    auto read_there = [&owner](const char *at) {
        for (std::span<char> space : owner.spaces)
            if (at >= space.data() && at < space.data() + space.size()) return true;
        return false;
    };
    size_t payload_bytes = 0;
    size_t k = 0;
    for (const auto &round : rounds.rounds)
        for (size_t i = 0; i < round.size(); ++i, ++k) {
            long len = data_frame_length(round[i]);
            if (len <= 0) continue;
            const char *payload = round[i].size() == 9 ? rounds.addresses[k + 1] : rounds.addresses[k] + 9;
            CHECK(read_there(payload));
            CHECK(read_there(payload + len - 1));
            payload_bytes += size_t(len);
            if (round[i].size() == 9) ++i, ++k;
        }
    CHECK(payload_bytes == owner.body.size());
}

TEST_CASE("h2 data queue: a file queued by reference is read a block at a time, as its frames are taken") {
    std::string bytes = pattern(200000);
    TempFile file(bytes);
    int fd = file.open_fd();
    H2DataQueue queue;
    queue.append("before ");
    queue.append_file(fd, 1000, 150000);
    CHECK(queue.reads_file());
    CHECK(queue.size() == 7 + 150000);
    size_t held_before = queue.capacity();

    // Nothing is read while bytes read before are left to take.
    CHECK(queue.fill() == 0);
    CHECK(queue.capacity() == held_before);
    std::string out;
    size_t most_held = 0;
    while (queue.size() > 0) {
        REQUIRE(queue.fill() == 0);
        most_held = std::max(most_held, queue.capacity());
        size_t n = queue.next_payload(1 << 20);
        REQUIRE(n > 0);
        H2DataQueue::Frame frame = queue.take_frame(kHeader, n);
        out.append(frame.header_in_place ? frame.data + 9 : frame.data, n);
        queue.release_sent();
    }
    CHECK(out == "before " + bytes.substr(1000, 150000));
    // One block of the file at a time (and the vector that lists it), never the whole file.
    CHECK(most_held <= H2DataQueue::kFrameHeader + H2DataQueue::kBlockPayload + 256);
    // Closed after its last read.
    CHECK_FALSE(queue.reads_file());
    CHECK_FALSE(fd_open(fd));
    CHECK(queue.capacity() == 0);
}

TEST_CASE("h2 data queue: a queued file's descriptor is closed with the queue, moved with it, and a short "
          "file is an error") {
    std::string bytes = pattern(100000);
    TempFile file(bytes);
    SECTION("destroyed before any read") {
        int fd = file.open_fd();
        {
            H2DataQueue queue;
            queue.append_file(fd, 0, 100000);
        }
        CHECK_FALSE(fd_open(fd));
    }
    SECTION("moved: the queue it went to closes it, once") {
        int fd = file.open_fd();
        int next = -1;
        {
            H2DataQueue to;
            {
                H2DataQueue from;
                from.append_file(fd, 0, 100000);
                REQUIRE(from.fill() == 0);
                to = std::move(from);
            } // the queue moved from must not close it
            CHECK(fd_open(fd));
            CHECK(to.size() == 100000);
            to = H2DataQueue();
            CHECK_FALSE(fd_open(fd));
            next = file.open_fd(); // its number again, likely
        }                          // nor the queue that closed it, a second time
        CHECK(fd_open(next));
        ::close(next);
    }
    SECTION("an empty length: nothing to read, closed at once") {
        int fd = file.open_fd();
        H2DataQueue queue;
        queue.append_file(fd, 0, 0);
        CHECK_FALSE(queue.reads_file());
        CHECK_FALSE(fd_open(fd));
        CHECK(queue.size() == 0);
    }
    SECTION("the file ends before the length given: ENODATA once its bytes were taken") {
        H2DataQueue queue;
        queue.append_file(file.open_fd(), 90000, 20000);
        REQUIRE(queue.fill() == 0);
        size_t got = 0;
        while (size_t n = queue.next_payload(1 << 20)) {
            queue.take_frame(kHeader, n);
            got += n;
        }
        CHECK(got == 10000);
        CHECK(queue.fill() == ENODATA);
    }
}

TEST_CASE(
    "h2 output: a file queued by reference leaves whole in bounded rounds, a short one resets the stream") {
    bool in_parts = GENERATE(true, false);
    CAPTURE(in_parts);
    std::string bytes = pattern(548797 + 5000);
    TempFile file(bytes);
    FileAnswerer owner;
    owner.file = &file;
    owner.offset = 5000;
    H2Session server(owner);
    owner.session = &server;
    BigWindowClient client;
    Rounds rounds(in_parts);

    SECTION("the whole range") {
        owner.length = 548797;
        owner.end_apart = GENERATE(false, true);
        CAPTURE(owner.end_apart);
        answer_request(server, client, rounds);
        size_t data_frames = 0;
        for (const auto &round : rounds.rounds) {
            size_t round_bytes = 0;
            for (const std::string &buf : round) {
                round_bytes += buf.size();
                client.receive(buf);
                data_frames += data_frame_length(buf) > 0;
            }
            CHECK(round_bytes < H2Session::kRoundBytes + H2DataQueue::kRecordBytes);
        }
        CHECK(client.closed);
        CHECK(client.close_error == NGHTTP2_NO_ERROR);
        CHECK(client.body == bytes.substr(5000));
        // Every frame full but the last: a block is read as whole frames.
        CHECK(data_frames == (548797 + H2DataQueue::kMaxPayload - 1) / H2DataQueue::kMaxPayload);
        CHECK(owner.read_errors.empty());
        CHECK_FALSE(fd_open(owner.fd));
    }
    SECTION("a range past the file's end: the bytes there are, then RST_STREAM(INTERNAL_ERROR)") {
        owner.length = 548797 + 100000;
        answer_request(server, client, rounds);
        for (const auto &round : rounds.rounds)
            for (const std::string &buf : round)
                client.receive(buf);
        CHECK(client.closed);
        CHECK(client.close_error == NGHTTP2_INTERNAL_ERROR);
        CHECK(client.body == bytes.substr(5000));
        CHECK(owner.read_errors == std::vector<int>{ENODATA});
        CHECK_FALSE(fd_open(owner.fd));
    }
}
