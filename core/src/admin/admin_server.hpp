// The admin listener ([admin] listen): /metrics, /status and /status.json on a thread and uv loop
// of its own, so a slow scraper never touches a worker. Requests are parsed by the same
// RequestParser as client requests; one request per connection (Connection: close), GET and HEAD
// for the pages, POST for a peer's admin state (drain, maintenance, ready; loopback clients only).
// With a token ([admin] token_file) every request must carry it as "Authorization: Bearer TOKEN",
// or is answered 401. It reads the MetricsStore, never a Config, so it needs nothing from a config
// generation after start-up; the serving generation's HealthBoard reaches it through the store,
// its token through set_token.
#pragma once

#include "admin/metrics.hpp"
#include "log/logger.hpp"
#include "net/net_address.hpp"

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <uv.h>

namespace proxyd {

class AdminConnection;

class AdminServer {
  public:
    // token empty: no authentication.
    AdminServer(const NetAddress &address, std::string listen_text, std::string token,
                const MetricsStore &metrics, const Logger &logger);
    ~AdminServer();
    AdminServer(const AdminServer &) = delete;
    AdminServer &operator=(const AdminServer &) = delete;

    // Main thread, before the workers start: binds the address so a taken one fails start-up.
    bool open(std::string &error);
    void start();
    // Any thread: closes the listener and every admin connection, then joins the thread.
    void stop();
    // Any thread (the main thread, when a reloaded config takes over): the token requests need
    // from now on; empty: none.
    void set_token(std::string token);

    // -- for AdminConnection, on the admin thread --
    const MetricsStore &metrics() const { return metrics_; }
    const Logger &logger() const { return logger_; }
    std::string token() const;
    void connection_opened(AdminConnection *c) { connections_.insert(c); }
    void connection_closed(AdminConnection *c) { connections_.erase(c); }
    // A request from client refused for its token (missing: it gave none). Counted for the pages,
    // and told in a warning at once, then at most once a minute with the count since the last
    // line: a line per attempt would let anyone who reaches the port flood the log.
    void token_refused(bool missing, const std::string &client);
    // The store's snapshot with the admin listener's own counts.
    MetricsSnapshot snapshot() const;

    static constexpr size_t kMaxConnections = 64;
    static constexpr uint64_t kRefusalWarningMs = 60000;

  private:
    void run();
    static void on_connection(uv_stream_t *server, int status);
    void warn_refusals();

    NetAddress address_;
    std::string listen_text_;
    mutable std::mutex token_mutex_; // set_token writes from the main thread
    std::string token_;
    const MetricsStore &metrics_;
    const Logger &logger_;
    int fd_ = -1;
    uv_loop_t loop_{};
    uv_tcp_t tcp_{};
    uv_async_t stop_async_{};
    std::thread thread_;
    std::set<AdminConnection *> connections_;
    // On the admin thread only, as the connections that count them and the pages that show them.
    uint64_t refused_missing_ = 0, refused_invalid_ = 0;
    uint64_t refused_untold_ = 0; // since the last warning
    std::string last_refused_client_;
    uv_timer_t warning_timer_{}; // runs for a minute after each warning
};

} // namespace proxyd
