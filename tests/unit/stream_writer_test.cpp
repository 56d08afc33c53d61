// StreamWriter against a peer that does not read: what small writes queued behind a full socket
// cost, and that every byte still arrives in order once the peer reads.
#include "net/stream_writer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct CountingListener final : proxyd::StreamWriter::Listener {
    size_t done_bytes = 0;
    int last_status = 0;
    void on_write_done(int status, size_t bytes) override {
        last_status = status;
        if (status == 0) done_bytes += bytes;
    }
};

} // namespace

TEST_CASE("stream writer: small writes behind a full socket share blocks and arrive in order") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    int sndbuf = 4096;
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_pipe_t pipe;
    uv_pipe_init(&loop, &pipe, 0);
    REQUIRE(uv_pipe_open(&pipe, fds[0]) == 0);

    proxyd::WriteBlocks blocks;
    CountingListener listener;
    std::string sent;
    {
        proxyd::StreamWriter writer(blocks, reinterpret_cast<uv_stream_t *>(&pipe), listener);
        // Fill the socket first, so every write after it is queued.
        std::string filler(256 * 1024, 'f');
        uv_buf_t big = uv_buf_init(filler.data(), static_cast<unsigned>(filler.size()));
        REQUIRE(writer.write(&big, 1) == 0);
        sent += filler;
        REQUIRE(writer.queued_bytes() > 0);

        // 20,000 writes of 6 bytes, as a chunked body of 1-byte pieces would make them.
        for (int i = 0; i < 20000; ++i) {
            std::string piece = "1\r\n" + std::string(1, static_cast<char>('a' + i % 26)) + "\r\n";
            uv_buf_t b = uv_buf_init(piece.data(), static_cast<unsigned>(piece.size()));
            REQUIRE(writer.write(&b, 1) == 0);
            sent += piece;
        }
        // Behind the full socket every small write is queued, none dropped or sent out of turn:
        // 120,000 bytes in 32 KiB blocks, the filler's remainder plus about four more, not one
        // block per write (which would hold 625 MiB).
        const size_t queued = writer.queued_bytes();
        CHECK(queued >= 20000 * 6);
        CHECK(blocks.in_use() <= 16);

        // The peer reads everything; the loop drains the queue. The deadline turns a writer that
        // stops making progress into a failure instead of a hang.
        std::string received;
        char buf[65536];
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (received.size() < sent.size() && std::chrono::steady_clock::now() < deadline) {
            uv_run(&loop, UV_RUN_NOWAIT);
            ssize_t n = ::recv(fds[1], buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) received.append(buf, static_cast<size_t>(n));
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        INFO("the peer received " << received.size() << " of " << sent.size() << " bytes within 10 s");
        CHECK(received.size() == sent.size());
        CHECK(received == sent);
        // Every queued byte was reported done, once: what the connection counts as sent.
        CHECK(listener.done_bytes == queued);
        CHECK(writer.queued_bytes() == 0);
        CHECK(blocks.in_use() == 0);
        CHECK(listener.last_status == 0);
        uv_close(reinterpret_cast<uv_handle_t *>(&pipe), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop);
    ::close(fds[1]);
}
