// One TCP connection to an upstream peer. It is either attached to an Owner (a proxy exchange
// using it) or idle in its pool. One timer serves the connect, read and idle timeouts.
// Lifetime: freed in the close callback of its last handle; close() may be called at any time.
//
// To a peer that speaks TLS the connection is TLS inside: the owner hears on_upstream_connected
// once the handshake is done (the connect timeout covers both), sends and reads plaintext, and
// never sees the records. The peer's sessions go to the pool, which offers the latest one on the
// next connect.
#pragma once

#include "net/backpressure.hpp"
#include "net/lazy_timer.hpp"
#include "net/stream_writer.hpp"
#include "tls/tls_client_context.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <uv.h>

namespace proxyd {

class UpstreamPool;
struct PeerConfig;

class TlsSession;

class UpstreamConnection final : private StreamWriter::Listener, private TlsSessionKeeper {
  public:
    class Owner {
      public:
        virtual void on_upstream_connected(int status) = 0;
        virtual void on_upstream_read(const char *data, size_t len) = 0;
        // Where the next read from a cleartext peer may go instead of the worker's buffer (the
        // client's own queue: ExchangeClient::body_space); empty for the worker's buffer.
        virtual std::span<char> upstream_read_space() { return {}; }
        // A read found nothing (EAGAIN): space upstream_read_space() gave for it is not kept.
        virtual void on_upstream_read_nothing() {}
        virtual void on_upstream_closed(int status) = 0; // UV_EOF or an error
        virtual void on_upstream_timeout() = 0;
        // A write completed (progress); queued_bytes() tells how much is still waiting.
        virtual void on_upstream_write_done() = 0;

      protected:
        ~Owner() = default;
    };

    UpstreamConnection(UpstreamPool &pool, size_t peer);
    UpstreamConnection(const UpstreamConnection &) = delete;
    UpstreamConnection &operator=(const UpstreamConnection &) = delete;

    size_t peer() const { return peer_; }
    // The pool's epoch of the peer's slot when this connection was made (UpstreamPool::epoch).
    uint32_t epoch() const { return epoch_; }
    // The peer this connection goes to, also after its discovered slot got another one.
    const PeerConfig &peer_config() const;
    bool reused() const { return reused_; }
    // Why the TLS layer failed ("certificate verify failed: ...", OpenSSL's reason), once it has;
    // the owner heard a connect failure (handshake) or a close (a bad record) with UV_EPROTO.
    const std::string &tls_error() const { return tls_error_; }
    // A write to the peer failed (it reset or closed the connection): what is sent from now on
    // is lost. The failure itself reaches the owner through the read side, once it reads.
    bool write_failed() const { return write_failed_; }

    // Starts connecting; the owner hears on_upstream_connected. A non-zero return means the
    // attempt failed at once and no callback will come (the connection is already closing).
    // Reading is on from here (one epoll registration for both directions); libuv finishes a
    // pending connect before any read, so no data, EOF or error reaches the owner before
    // on_upstream_connected, nor after a failed one. The owners' own read_start() after the
    // connect is then a no-op, kept for the connections they take from the pool.
    int connect(Owner *owner, uint64_t timeout_ms);
    // Takes an idle connection out of the pool for owner.
    void attach(Owner *owner);
    // Another owner takes over a connection in use (a proxy exchange hands it to a tunnel).
    void change_owner(Owner *owner) { owner_ = owner; }
    // Half-closes: the peer reads EOF once the queued writes are out; reading goes on.
    void shutdown_write();
    // Back to the pool's idle list (the pool closes it if it has no room).
    void park(uint64_t idle_timeout_ms);

    // Copies only what the socket does not take at once; data is free on return.
    void send(std::string_view data);
    void send(const uv_buf_t *bufs, size_t count);
    size_t queued_bytes() const { return writer_.queued_bytes(); }
    void read_start();
    void read_stop();
    // (Re)starts the timer: the owner hears on_upstream_timeout after ms without a restart.
    void arm_timeout(uint64_t ms);
    void close();

    static constexpr size_t kHighWater = Backpressure::kHighWater;
    static constexpr size_t kLowWater = Backpressure::kLowWater;

  private:
    ~UpstreamConnection();
    static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
    static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
    void on_idle_event();
    void on_write_done(int status, size_t bytes) override;

    // TLS: the handshake after the TCP connect, the records read, the ciphertext written.
    void start_tls();
    void on_tls_read(ssize_t nread, const char *data);
    void handshake_failed(int status, std::string why);
    // The peer's stream ended (EOF, close_notify, a broken record) after the handshake.
    void tls_stream_ended(int status);
    void flush_tls_output();
    void keep_session(SSL_SESSION *session) override;

    UpstreamPool &pool_;
    size_t peer_;
    std::shared_ptr<const PeerConfig> discovered_; // the discovered peer connected to; null: fixed
    uint32_t epoch_;
    Owner *owner_ = nullptr;
    uv_tcp_t tcp_{};
    LazyTimer timer_;
    uv_connect_t connect_req_{};
    StreamWriter writer_;
    int handles_open_ = 2;
    bool reading_ = false;
    bool reused_ = false;
    bool idle_ = false;
    bool closing_ = false;
    bool write_failed_ = false;
    // Set for a peer that speaks TLS, from the connect on.
    std::unique_ptr<TlsSession> tls_;
    std::string tls_plaintext_; // what one read decrypted, handed to the owner
    std::string tls_output_;    // ciphertext on its way to the writer
    std::string tls_error_;
    bool handshake_done_ = false;
};

} // namespace proxyd
