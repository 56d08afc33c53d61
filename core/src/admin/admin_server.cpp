#include "admin/admin_server.hpp"

#include "admin/admin_pages.hpp"
#include "admin/bearer_auth.hpp"
#include "http/http_date.hpp"
#include "http/request_parser.hpp"
#include "http/status_text.hpp"
#include "net/listen_socket.hpp"

#include <cctype>
#include <ctime>
#include <unistd.h>

namespace proxyd {

// One admin client: parses one request, answers it, closes.
class AdminConnection final : private RequestParser::Events {
  public:
    static void accept(AdminServer &server, uv_stream_t *listener);
    void close();

  private:
    explicit AdminConnection(AdminServer &server) : server_(server), parser_(limits(), *this) {}
    ~AdminConnection() override = default;

    static const RequestLimits &limits() {
        // Admin requests are small; anything larger is not a scraper or a browser.
        static const RequestLimits kLimits = [] {
            RequestLimits l;
            l.max_header_bytes = 16 * 1024;
            l.max_body_bytes = 4096;
            return l;
        }();
        return kLimits;
    }

    void on_request_begin() override {}
    void on_head_received() override {}
    void on_request_head() override {}
    void on_request_body(std::string_view) override {}
    void on_request_complete() override {}

    void answer();
    // False when the request lacks the admin token; it has been answered then.
    bool authenticated();
    // POST /upstreams/<group>/peers/<address>/{drain,maintenance,ready}
    void answer_peer_state(std::string_view method, std::string_view path);
    // The client's address; false if the socket no longer has one.
    bool client_address(NetAddress &peer) const;
    bool client_is_loopback() const;
    void respond(int status, const char *content_type, const std::string &body,
                 const char *extra_headers = "");

    AdminServer &server_;
    RequestParser parser_;
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};
    uv_write_t write_{};
    uv_shutdown_t shutdown_{};
    std::string out_;
    char buffer_[4096];
    int handles_open_ = 0;
    bool answered_ = false;
    bool closing_ = false;
};

namespace {

constexpr uint64_t kAdminTimeoutMs = 10000; // to send a request and read the answer

} // namespace

void AdminConnection::accept(AdminServer &server, uv_stream_t *listener) {
    auto *c = new AdminConnection(server);
    uv_tcp_init(listener->loop, &c->tcp_);
    uv_timer_init(listener->loop, &c->timer_);
    c->tcp_.data = c->timer_.data = c;
    c->handles_open_ = 2;
    server.connection_opened(c);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t *>(&c->tcp_)) != 0) return c->close();
    uv_timer_start(
        &c->timer_, [](uv_timer_t *t) { static_cast<AdminConnection *>(t->data)->close(); }, kAdminTimeoutMs,
        0);
    uv_read_start(
        reinterpret_cast<uv_stream_t *>(&c->tcp_),
        [](uv_handle_t *h, size_t, uv_buf_t *buf) {
            auto *self = static_cast<AdminConnection *>(h->data);
            *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
        },
        [](uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
            auto *self = static_cast<AdminConnection *>(s->data);
            if (nread < 0) return self->close();
            if (nread == 0 || self->answered_) return;
            switch (self->parser_.execute(buf->base, static_cast<size_t>(nread))) {
            case RequestParser::Result::kNeedMore:
                break;
            case RequestParser::Result::kMessageEnd:
                self->answer();
                break;
            case RequestParser::Result::kError:
                self->respond(self->parser_.error_status(), "text/plain; charset=utf-8",
                              std::string(status_text(self->parser_.error_status())) + "\n");
                break;
            }
        });
}

bool AdminConnection::authenticated() {
    std::string token = server_.token();
    if (token.empty()) return true;
    const char *text = "text/plain; charset=utf-8";
    NetAddress peer;
    std::string client = client_address(peer) ? peer.to_string() : "an unknown address";
    if (parser_.head().count("Authorization") > 1) {
        server_.token_refused(false, client);
        respond(400, text, "more than one Authorization field\n");
        return false;
    }
    // Before the path is looked at, so what the listener serves is no answer to a stranger.
    BearerCheck check = check_bearer(parser_.head().find("Authorization"), token);
    if (check != BearerCheck::kGranted) server_.token_refused(check == BearerCheck::kMissing, client);
    switch (check) {
    case BearerCheck::kGranted:
        return true;
    case BearerCheck::kMissing:
        respond(401, text, "the admin listener needs Authorization: Bearer TOKEN\n",
                "WWW-Authenticate: Bearer realm=\"proxyd-admin\"\r\n");
        return false;
    case BearerCheck::kWrong:
        respond(401, text, "wrong admin token\n",
                "WWW-Authenticate: Bearer realm=\"proxyd-admin\", error=\"invalid_token\"\r\n");
        return false;
    }
    return false;
}

void AdminConnection::answer() {
    if (!authenticated()) return;
    std::string_view method = parser_.method();
    std::string_view path = parser_.view().path;
    if (path.starts_with("/upstreams/")) return answer_peer_state(method, path);
    bool known = path == "/metrics" || path == "/status" || path == "/status.json" || path == "/";
    if (!known)
        return respond(404, "text/plain; charset=utf-8",
                       "not found: try /status, /status.json or /metrics\n");
    if (method != "GET" && method != "HEAD")
        return respond(405, "text/plain; charset=utf-8", "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
    if (path == "/")
        return respond(302, "text/plain; charset=utf-8", "see /status\n", "Location: /status\r\n");
    MetricsSnapshot snapshot = server_.snapshot();
    if (path == "/metrics")
        return respond(200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(snapshot));
    if (path == "/status.json") return respond(200, "application/json", status_json(snapshot));
    respond(200, "text/html; charset=utf-8", status_page(snapshot));
}

namespace {

// "%3A" and the like, as a client may encode a peer's address in the path.
std::string percent_decoded(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) && hex(text[i + 2])) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

} // namespace

bool AdminConnection::client_address(NetAddress &peer) const {
    int length = sizeof peer.storage;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr *>(&peer.storage), &length) != 0) return false;
    peer.length = static_cast<socklen_t>(length);
    return true;
}

bool AdminConnection::client_is_loopback() const {
    NetAddress peer;
    return client_address(peer) && peer.is_loopback();
}

void AdminConnection::answer_peer_state(std::string_view method, std::string_view path) {
    const char *text = "text/plain; charset=utf-8";
    std::string_view rest = path.substr(std::string_view("/upstreams/").size());
    size_t peers = rest.find("/peers/");
    size_t action_at = rest.rfind('/');
    if (peers == std::string_view::npos || action_at <= peers + 6)
        return respond(404, text,
                       "not found: try POST /upstreams/GROUP/peers/ADDRESS/{drain,maintenance,ready}\n");
    std::string_view action = rest.substr(action_at + 1);
    AdminState state = AdminState::ready;
    if (action == "drain")
        state = AdminState::drain;
    else if (action == "maintenance")
        state = AdminState::maintenance;
    else if (action != "ready")
        return respond(404, text, "not found: the last step is drain, maintenance or ready\n");
    if (method != "POST") return respond(405, text, "only POST changes a peer's state\n", "Allow: POST\r\n");
    // The pages may be open to other hosts (admin.allow_remote); taking peers out of rotation is not.
    if (!client_is_loopback()) return respond(403, text, "peer states change from this host only\n");
    std::string group_name = percent_decoded(rest.substr(0, peers));
    std::string address = percent_decoded(rest.substr(peers + 7, action_at - peers - 7));
    std::shared_ptr<HealthBoard> board = server_.metrics().health();
    GroupHealth *group = board ? board->find_group(group_name) : nullptr;
    if (!group) return respond(404, text, "no upstream group '" + group_name + "'\n");
    // A peer found by DNS is named by its current address, which fills one of the group's slots.
    std::string slot = server_.metrics().discovered_slot(group_name, address);
    int peer = group->find_peer(slot.empty() ? address : slot);
    if (peer < 0) return respond(404, text, "upstream " + group_name + " has no peer '" + address + "'\n");
    AdminState before = group->peers[size_t(peer)].admin.load(std::memory_order_relaxed);
    group->set_admin(size_t(peer), state, uv_hrtime() / 1000000);
    std::string line = "upstream " + group_name + " peer " +
                       (slot.empty() ? group->addresses[size_t(peer)] : address) + ": " +
                       admin_state_name(state) + " (was " + admin_state_name(before) + ")";
    if (before != state) server_.logger().info("admin: " + line);
    respond(200, text, line + "\n");
}

void AdminConnection::respond(int status, const char *content_type, const std::string &body,
                              const char *extra_headers) {
    answered_ = true;
    uv_read_stop(reinterpret_cast<uv_stream_t *>(&tcp_));
    bool head_only = parser_.method() == "HEAD";
    out_ = "HTTP/1.1 " + std::to_string(status) + " " + std::string(status_text(status)) +
           "\r\nServer: proxyd\r\nDate: " + format_http_date(std::time(nullptr)) +
           "\r\nContent-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nCache-Control: no-store\r\nConnection: close\r\n" + extra_headers + "\r\n";
    if (!head_only) out_ += body;
    write_.data = this;
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int rc = uv_write(&write_, reinterpret_cast<uv_stream_t *>(&tcp_), &buf, 1,
                      [](uv_write_t *w, int write_status) {
                          auto *self = static_cast<AdminConnection *>(w->data);
                          if (write_status < 0 || self->closing_) return self->close();
                          self->shutdown_.data = self;
                          // Half-close, so the client reads the whole answer before the connection goes.
                          if (uv_shutdown(&self->shutdown_, reinterpret_cast<uv_stream_t *>(&self->tcp_),
                                          [](uv_shutdown_t *s, int) {
                                              static_cast<AdminConnection *>(s->data)->close();
                                          }) != 0)
                              self->close();
                      });
    if (rc != 0) close();
}

void AdminConnection::close() {
    if (closing_) return;
    closing_ = true;
    server_.connection_closed(this);
    auto on_closed = [](uv_handle_t *h) {
        auto *self = static_cast<AdminConnection *>(h->data);
        if (--self->handles_open_ == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t *>(&tcp_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t *>(&timer_), on_closed);
}

AdminServer::AdminServer(const NetAddress &address, std::string listen_text, std::string token,
                         const MetricsStore &metrics, const Logger &logger)
    : address_(address), listen_text_(std::move(listen_text)), token_(std::move(token)), metrics_(metrics),
      logger_(logger) {}

void AdminServer::set_token(std::string token) {
    std::lock_guard lock(token_mutex_);
    token_ = std::move(token);
}

std::string AdminServer::token() const {
    std::lock_guard lock(token_mutex_);
    return token_;
}

MetricsSnapshot AdminServer::snapshot() const {
    MetricsSnapshot snapshot = metrics_.snapshot();
    snapshot.admin_token_missing = refused_missing_;
    snapshot.admin_token_invalid = refused_invalid_;
    return snapshot;
}

void AdminServer::token_refused(bool missing, const std::string &client) {
    ++(missing ? refused_missing_ : refused_invalid_);
    ++refused_untold_;
    last_refused_client_ = client;
    // While the timer runs, a warning went out less than a minute ago: this one waits for it.
    if (!uv_is_active(reinterpret_cast<uv_handle_t *>(&warning_timer_))) warn_refusals();
}

void AdminServer::warn_refusals() {
    if (refused_untold_ == 0) return; // a quiet minute: the next refusal is told at once
    logger_.warn("admin listener " + listen_text_ + ": " + std::to_string(refused_untold_) +
                 (refused_untold_ == 1 ? " request" : " requests") +
                 " refused for a missing or wrong Bearer token, the latest from " + last_refused_client_ +
                 " (told at most once a minute; proxyd_admin_auth_failures_total counts them all)");
    refused_untold_ = 0;
    uv_timer_start(
        &warning_timer_, [](uv_timer_t *t) { static_cast<AdminServer *>(t->data)->warn_refusals(); },
        kRefusalWarningMs, 0);
}

AdminServer::~AdminServer() {
    stop();
    if (fd_ >= 0) ::close(fd_);
}

bool AdminServer::open(std::string &error) {
    if (!check_address_free(address_, listen_text_, error)) return false;
    fd_ = open_listen_socket(address_, listen_text_, error);
    return fd_ >= 0;
}

void AdminServer::start() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, [](uv_async_t *a) {
        auto *self = static_cast<AdminServer *>(a->data);
        std::set<AdminConnection *> open(self->connections_);
        for (AdminConnection *c : open)
            c->close();
        uv_close(reinterpret_cast<uv_handle_t *>(&self->tcp_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t *>(&self->warning_timer_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t *>(&self->stop_async_), nullptr);
    });
    stop_async_.data = this;
    uv_timer_init(&loop_, &warning_timer_);
    warning_timer_.data = this;
    uv_tcp_init(&loop_, &tcp_);
    tcp_.data = this;
    int rc = uv_tcp_open(&tcp_, fd_);
    if (rc == 0) {
        fd_ = -1; // the handle owns it now
        rc = uv_listen(reinterpret_cast<uv_stream_t *>(&tcp_), 128, on_connection);
    }
    if (rc != 0)
        logger_.error("admin listener " + listen_text_ + ": " + uv_strerror(rc));
    else
        logger_.info("admin listener on " + listen_text_ + ": /status, /status.json, /metrics" +
                     (token().empty() ? "" : ", Bearer token required"));
    thread_ = std::thread([this] { run(); });
}

void AdminServer::run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
}

void AdminServer::stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_async_);
    thread_.join();
}

void AdminServer::on_connection(uv_stream_t *listener, int status) {
    auto *self = static_cast<AdminServer *>(listener->data);
    if (status != 0) {
        self->logger_.warn("admin accept on " + self->listen_text_ + ": " + uv_strerror(status));
        return;
    }
    if (self->connections_.size() >= kMaxConnections) {
        // Accept and drop: leaving it queued would make libuv call back for it again at once.
        uv_tcp_t *drop = new uv_tcp_t;
        uv_tcp_init(listener->loop, drop);
        uv_accept(listener, reinterpret_cast<uv_stream_t *>(drop));
        uv_close(reinterpret_cast<uv_handle_t *>(drop),
                 [](uv_handle_t *h) { delete reinterpret_cast<uv_tcp_t *>(h); });
        return;
    }
    AdminConnection::accept(*self, listener);
}

} // namespace proxyd
