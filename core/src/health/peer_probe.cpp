#include "health/peer_probe.hpp"

#include "health/probe_exchange.hpp"

#include <chrono>
#include <optional>
#include <utility>

namespace proxyd {

namespace {

int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

// One check's connection: the socket around a ProbeExchange (null for a tcp check). It outlives
// its probe's interest (a timeout abandons it) until libuv has closed its handle, which cancels
// the connect and the writes first.
struct ProbeCheck {
    ProbeCheck(PeerProbe &owner, std::unique_ptr<ProbeExchange> conversation)
        : probe(&owner), exchange(std::move(conversation)) {
        tcp.data = connect.data = this;
    }

    // The probe has its verdict: nothing this check hears from here on counts.
    void abandon() {
        probe = nullptr;
        uv_close(reinterpret_cast<uv_handle_t *>(&tcp),
                 [](uv_handle_t *h) { delete static_cast<ProbeCheck *>(h->data); });
    }

    void connected(int status) {
        if (!probe) return;
        if (status < 0) return probe->finish(false, std::string("connect: ") + uv_strerror(status));
        if (!exchange) return probe->finish(true, "");
        std::string output;
        if (auto verdict = exchange->start(output)) return probe->finish(verdict->pass, verdict->reason);
        int rc = send(std::move(output));
        if (rc == 0)
            rc = uv_read_start(
                reinterpret_cast<uv_stream_t *>(&tcp),
                [](uv_handle_t *h, size_t, uv_buf_t *out) {
                    auto *self = static_cast<ProbeCheck *>(h->data);
                    *out = uv_buf_init(self->buffer, sizeof self->buffer);
                },
                [](uv_stream_t *s, ssize_t nread, const uv_buf_t *in) {
                    static_cast<ProbeCheck *>(s->data)->read(nread, in->base);
                });
        if (rc < 0) socket_failed("write", rc);
    }

    void read(ssize_t nread, const char *data) {
        if (!probe || nread == 0) return;
        if (nread == UV_EOF) {
            ProbeVerdict verdict = exchange->end_of_stream();
            return probe->finish(verdict.pass, verdict.reason);
        }
        if (nread < 0) return socket_failed("read", static_cast<int>(nread));
        std::string output;
        std::optional<ProbeVerdict> verdict = exchange->receive(data, static_cast<size_t>(nread), output);
        // What the exchange answered goes out even with a verdict: a TLS alert tells the peer why.
        int rc = send(std::move(output));
        if (verdict) return probe->finish(verdict->pass, verdict->reason);
        if (rc < 0) socket_failed("write", rc);
    }

    // Writes bytes, which the write owns until its callback; several may be in flight (a TLS
    // handshake's flights, then the request).
    int send(std::string bytes) {
        if (bytes.empty()) return 0;
        auto pending = std::make_unique<PendingWrite>(this, std::move(bytes));
        uv_buf_t buf = uv_buf_init(pending->bytes.data(), static_cast<unsigned>(pending->bytes.size()));
        int rc = uv_write(&pending->request, reinterpret_cast<uv_stream_t *>(&tcp), &buf, 1,
                          [](uv_write_t *w, int status) {
                              std::unique_ptr<PendingWrite> done(static_cast<PendingWrite *>(w->data));
                              if (status < 0 && done->check->probe)
                                  done->check->socket_failed("write", status);
                          });
        if (rc == 0) (void)pending.release(); // the callback frees it, also when the close cancels it
        return rc;
    }

    void socket_failed(const char *operation, int status) {
        bool handshake = exchange && exchange->in_tls_handshake();
        probe->finish(false,
                      std::string(handshake ? "TLS handshake" : operation) + ": " + uv_strerror(status));
    }

    struct PendingWrite {
        PendingWrite(ProbeCheck *owner, std::string data) : check(owner), bytes(std::move(data)) {
            request.data = this;
        }
        ProbeCheck *check;
        std::string bytes;
        uv_write_t request{};
    };

    PeerProbe *probe;
    std::unique_ptr<ProbeExchange> exchange;
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    char buffer[16 * 1024];
};

PeerProbe::PeerProbe(uv_loop_t *loop, const HealthCheckConfig &config, const TlsClientContext *tls,
                     const PeerConfig *peer, GroupHealth &group, size_t index, const Logger &logger,
                     uint64_t first_delay_ms)
    : config_(config), tls_(tls), peer_(peer), group_(group), index_(index), logger_(logger),
      verdicts_(group.peers[index].check.load(std::memory_order_relaxed)), loop_(loop) {
    uv_timer_init(loop, &interval_timer_);
    uv_timer_init(loop, &timeout_timer_);
    interval_timer_.data = timeout_timer_.data = this;
    if (!peer_) return; // a vacant slot waits for occupy()
    write_request();
    schedule(first_delay_ms);
}

void PeerProbe::write_request() {
    const std::string &host = config_.host.empty() ? peer_->authority : config_.host;
    request_ = config_.method + " " + config_.path + " HTTP/1.1\r\nHost: " + host +
               "\r\nUser-Agent: proxyd-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

void PeerProbe::occupy(std::shared_ptr<const PeerConfig> peer, uint32_t occupant) {
    if (closed_ || (occupant == occupant_ && peer_ != nullptr && peer.get() != nullptr &&
                    peer->address_text == peer_->address_text))
        return;
    if (check_) std::exchange(check_, nullptr)->abandon();
    uv_timer_stop(&timeout_timer_);
    uv_timer_stop(&interval_timer_);
    held_ = std::move(peer);
    peer_ = held_.get();
    occupant_ = occupant;
    verdicts_ = RiseFall(group_.peers[index_].check.load(std::memory_order_relaxed));
    last_failure_.clear();
    if (!peer_) return;
    write_request();
    // A pending peer is out of rotation until this first check: it runs at once.
    schedule(0);
}

bool PeerProbe::holds_slot() const { return group_.peers[index_].check.occupant() == occupant_; }

void PeerProbe::schedule(uint64_t delay_ms) {
    uv_timer_start(
        &interval_timer_, [](uv_timer_t *t) { static_cast<PeerProbe *>(t->data)->start_check(); }, delay_ms,
        0);
}

void PeerProbe::start_check() {
    if (!peer_) return;
    uint64_t interval = static_cast<uint64_t>(config_.interval.count());
    // Maintenance pauses the checks; they resume at the next tick after it ends.
    if (group_.peers[index_].admin.load(std::memory_order_relaxed) == AdminState::maintenance)
        return schedule(interval);
    // A tcp check only connects, to a TLS peer too: no handshake (HAProxy's check without check-ssl).
    std::unique_ptr<ProbeExchange> exchange;
    if (config_.type == HealthCheckConfig::Type::http)
        exchange = std::make_unique<ProbeExchange>(config_, request_, peer_->tls ? tls_ : nullptr,
                                                   peer_->tls_name, peer_->tls_name_is_ip);
    auto *check = new ProbeCheck(*this, std::move(exchange));
    check_ = check;
    uv_tcp_init(loop_, &check->tcp);
    uv_timer_start(
        &timeout_timer_,
        [](uv_timer_t *t) {
            auto *self = static_cast<PeerProbe *>(t->data);
            self->finish(false, "timed out after " + std::to_string(self->config_.timeout.count()) + " ms");
        },
        static_cast<uint64_t>(config_.timeout.count()), 0);
    int rc = uv_tcp_connect(
        &check->connect, &check->tcp, peer_->address.sockaddr_ptr(),
        [](uv_connect_t *c, int status) { static_cast<ProbeCheck *>(c->data)->connected(status); });
    if (rc < 0) finish(false, std::string("connect: ") + uv_strerror(rc));
}

void PeerProbe::finish(bool pass, const std::string &reason) {
    if (check_) std::exchange(check_, nullptr)->abandon();
    uv_timer_stop(&timeout_timer_);
    if (!holds_slot()) return; // DNS moved the slot on; occupy() follows with the new occupant
    PeerHealth &h = group_.peers[index_];
    h.last_result.store(pass ? CheckResult::pass : CheckResult::fail, std::memory_order_relaxed);
    h.last_check_unix_ms.store(unix_ms_now(), std::memory_order_relaxed);
    std::string peer = "upstream " + group_.name + " peer " + peer_->address_text;
    if (!pass) {
        last_failure_ = reason;
        logger_.debug(peer + ": health check failed: " + reason);
    }
    CheckState before = verdicts_.state();
    if (verdicts_.record(pass, config_.rise, config_.fall)) {
        CheckState after = verdicts_.state();
        if (after == CheckState::up && before == CheckState::down && group_.slow_start_ms != 0)
            h.ramp_start_ms.store(uv_hrtime() / 1000000, std::memory_order_relaxed);
        if (h.check.store_for(occupant_, after)) {
            if (after == CheckState::down && before == CheckState::pending)
                logger_.warn(peer + ": down: its first health check failed (" + last_failure_ + ")");
            else if (after == CheckState::down)
                logger_.warn(peer + ": down: " + std::to_string(config_.fall) +
                             " health check(s) failed in a row (last: " + last_failure_ + ")");
            else if (before == CheckState::pending)
                logger_.info(peer + ": up: its first health check passed");
            else if (before == CheckState::down)
                logger_.info(peer + ": up: " + std::to_string(config_.rise) +
                             " health check(s) passed in a row" +
                             (group_.slow_start_ms
                                  ? "; slow start over " + std::to_string(group_.slow_start_ms) + " ms"
                                  : ""));
        }
    }
    if (!closed_) schedule(static_cast<uint64_t>(config_.interval.count()));
}

void PeerProbe::close() {
    closed_ = true;
    if (check_) std::exchange(check_, nullptr)->abandon();
    uv_close(reinterpret_cast<uv_handle_t *>(&interval_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&timeout_timer_), nullptr);
}

} // namespace proxyd
