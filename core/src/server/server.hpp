// The running server. Main thread. It owns the listening sockets (one SO_REUSEPORT group per
// address, handed to workers as dup()s), runs the workers of the serving Generation, and reacts
// to signals through uv_signal on its own loop: SIGINT, SIGTERM and SIGQUIT stop gracefully,
// SIGHUP reloads the configuration, SIGUSR1 reopens the log files.
#pragma once

#include "admin/admin_server.hpp"
#include "admin/metrics.hpp"
#include "config/config_loader.hpp"
#include "server/generation.hpp"

#include <memory>
#include <string>
#include <uv.h>
#include <vector>

namespace proxyd {

class Server {
  public:
    // config_path and options are what a reload loads again. process_logger (stderr) outlives
    // every generation: the admin thread logs through it, as it outlives them too.
    Server(std::string config_path, LoadOptions options, const Logger &process_logger)
        : config_path_(std::move(config_path)), options_(options), process_logger_(process_logger) {
        options_.ticket_keys = &ticket_keys_;
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    // Serves first, then each reloaded generation, until a stop signal; returns the exit status.
    int run(std::unique_ptr<Generation> first);
    // The serving generation's number: 1 at start-up, one more per successful reload.
    uint64_t generation() const { return current_ ? current_->number() : 0; }
    // Owned here, not by a generation: counters outlive any one config and its workers.
    MetricsStore &metrics() { return metrics_; }
    // What each generation loads with: options given, plus the session ticket keys owned here, so
    // a client resumes after a reload with a ticket issued before it.
    const LoadOptions &load_options() const { return options_; }

  private:
    // The sockets listening on one address: at least one per worker of every generation that
    // used it, so no socket's accept queue is left without a worker.
    struct ListenGroup {
        NetAddress address;
        std::vector<int> fds;
    };

    // Gives each worker of config its sockets, opening those the groups lack; the fds opened
    // here are appended to opened, so a generation that does not start can take them back.
    bool hand_out_sockets(const Config &config, std::vector<std::vector<ListenFd>> &per_worker,
                          std::vector<int> &opened, std::string &error);
    // Closes sockets opened for a generation that will not serve, and drops them from their
    // groups: an SO_REUSEPORT socket nobody accepts on would take its share of connections.
    void close_opened(std::vector<int> &opened);
    // Reload: binds the admin listener next asks for when it differs from the running one, so a
    // taken address fails the reload; the switch happens when the new generation takes over.
    bool prepare_admin(const AdminConfig &next, std::string &error);
    void switch_admin();
    // Closes the groups serving does not listen on (all of them when serving is null). Old
    // workers still hold dup()s, so such a socket really closes when they have stopped.
    void close_unused_groups(const Config *serving);
    void start_workers(Generation &g, std::vector<std::vector<ListenFd>> fds);
    // Starts g's DNS discovery on the main loop (taking over previous's sets on a reload); its
    // changes go to g's workers, its first answers wake on_worker_event.
    bool start_discovery(Generation &g, Generation *previous, std::string &error);
    void stop(const char *signal_name);
    // Every generation's workers finish what is in flight and end; every socket closes.
    void stop_everything();
    void reload();
    // Once every worker of the starting generation has reported: it takes over, or, when one
    // could not start, it is stopped and the serving generation goes on.
    void finish_reload();
    // Once every worker of the first generation has reported: they all start accepting, or
    // proxyd stops when one could not start.
    void begin_serving();
    void reopen_logs();
    void on_worker_event();
    // A retiring generation drains the listeners its own upstreams point at only once every one
    // of its workers has drained the listeners in front of them (Worker::request_stop).
    void release_last_listeners_when_fronts_drained(Generation &g);
    void close_handles();

    std::string config_path_;
    LoadOptions options_;
    const Logger &process_logger_;
    MetricsStore metrics_;
    TicketKeyStore ticket_keys_;
    std::unique_ptr<AdminServer> admin_; // the [admin] listener, as the serving generation asks
    AdminConfig admin_config_;           // what admin_ was opened for (enabled = false: none)
    // The starting generation's admin listener: bound, not started; null with admin_changes_ set
    // means it turns the admin listener off.
    std::unique_ptr<AdminServer> next_admin_;
    bool admin_changes_ = false;
    uv_loop_t loop_{};
    uv_signal_t sigint_{}, sigterm_{}, sigquit_{}, sighup_{}, sigusr1_{};
    uv_async_t worker_event_{}; // sent by each worker thread once it listens (or cannot) and as it ends
    std::vector<ListenGroup> groups_;
    std::unique_ptr<Generation> current_;
    // A reloaded generation whose workers are still setting up; the current one serves meanwhile.
    std::unique_ptr<Generation> starting_;
    std::vector<int> starting_opened_; // the sockets opened for it alone
    bool reload_again_ = false;        // a SIGHUP came while it was starting
    bool serving_ = false;             // the first generation's workers have all reported
    uint64_t next_generation_ = 2;
    std::vector<std::unique_ptr<Generation>> retiring_; // told to stop, workers still running
    bool stopping_ = false;
};

} // namespace proxyd
