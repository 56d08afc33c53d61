#include "server/server.hpp"

#include "admin/admin_server.hpp"
#include "admin/metrics.hpp"
#include "net/listen_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace proxyd {
namespace {

std::string describe(const Config &config) {
    std::string where;
    for (const auto &l : config.listeners)
        where += (where.empty() ? "" : ", ") + l.listen_text + " (" + l.name + ")";
    return "serving " + where + " with " + std::to_string(config.workers) + " worker(s)";
}

void close_all(std::vector<std::vector<ListenFd>> &per_worker) {
    for (auto &list : per_worker)
        for (const ListenFd &l : list)
            ::close(l.fd);
    per_worker.clear();
}

// A socket that cannot be had is the config's problem as much as a bad key: the error names the
// file, line and key of the address, as proxyd -t names any other.
std::string listener_context(const ListenerConfig &l) {
    std::string name = "listener '" + l.name + "'";
    return l.listen_at.empty() ? name : l.listen_at + ": " + name;
}

} // namespace

bool Server::hand_out_sockets(const Config &config, std::vector<std::vector<ListenFd>> &per_worker,
                              std::vector<int> &opened, std::string &error) {
    per_worker.assign(config.workers, {});
    for (size_t i = 0; i < config.listeners.size(); ++i) {
        const ListenerConfig &l = config.listeners[i];
        auto group = std::find_if(groups_.begin(), groups_.end(),
                                  [&](const ListenGroup &g) { return g.address == l.address; });
        if (group == groups_.end()) {
            // A new address: probe first, so an address in use is reported once, clearly.
            if (!check_address_free(l.address, l.listen_text, error)) {
                error = listener_context(l) + ": " + error;
                return false;
            }
            group = groups_.insert(groups_.end(), ListenGroup{l.address, {}});
        }
        while (group->fds.size() < config.workers) {
            int fd = open_listen_socket(l.address, l.listen_text, error);
            if (fd < 0) {
                error = listener_context(l) + ": " + error;
                return false;
            }
            group->fds.push_back(fd);
            opened.push_back(fd);
        }
        // Every socket of the group goes to some worker: a worker count lowered by a reload
        // leaves no socket's queue unserved.
        for (size_t k = 0; k < group->fds.size(); ++k) {
            int copy = ::fcntl(group->fds[k], F_DUPFD_CLOEXEC, 0);
            if (copy < 0) {
                error = listener_context(l) + ": dup of the listening socket: " + std::strerror(errno);
                return false;
            }
            per_worker[k % config.workers].push_back({i, copy});
        }
    }
    return true;
}

void Server::close_opened(std::vector<int> &opened) {
    for (ListenGroup &g : groups_)
        g.fds.erase(std::remove_if(g.fds.begin(), g.fds.end(),
                                   [&opened](int fd) {
                                       return std::find(opened.begin(), opened.end(), fd) != opened.end();
                                   }),
                    g.fds.end());
    groups_.erase(
        std::remove_if(groups_.begin(), groups_.end(), [](const ListenGroup &g) { return g.fds.empty(); }),
        groups_.end());
    for (int fd : opened)
        ::close(fd);
    opened.clear();
}

bool Server::prepare_admin(const AdminConfig &next, std::string &error) {
    bool same =
        next.enabled == admin_config_.enabled && (!next.enabled || next.address == admin_config_.address);
    admin_changes_ = !same;
    if (same || !next.enabled) return true;
    next_admin_ =
        std::make_unique<AdminServer>(next.address, next.listen_text, next.token, metrics_, process_logger_);
    if (next_admin_->open(error)) return true;
    error = next.listen_at + ": admin listener: " + error;
    next_admin_.reset();
    admin_changes_ = false;
    return false;
}

void Server::switch_admin() {
    // A listener that stays where it was asks for the token the new generation read from now on.
    if (!admin_changes_) {
        if (admin_) admin_->set_token(current_->config().admin.token);
        return;
    }
    admin_changes_ = false;
    if (admin_) process_logger_.info("admin listener on " + admin_config_.listen_text + " closed");
    admin_ = std::move(next_admin_); // the old one, if any, stops and closes here
    admin_config_ = current_->config().admin;
    if (admin_) admin_->start();
}

void Server::close_unused_groups(const Config *serving) {
    auto unused = [serving](const ListenGroup &g) {
        return !serving || std::none_of(serving->listeners.begin(), serving->listeners.end(),
                                        [&](const ListenerConfig &l) { return l.address == g.address; });
    };
    for (const ListenGroup &g : groups_)
        if (unused(g))
            for (int fd : g.fds)
                ::close(fd);
    groups_.erase(std::remove_if(groups_.begin(), groups_.end(), unused), groups_.end());
}

void Server::start_workers(Generation &g, std::vector<std::vector<ListenFd>> fds) {
    g.running = g.config().workers;
    for (unsigned w = 0; w < g.config().workers; ++w) {
        Worker::Reports reports;
        reports.started = [this, &g](bool listening) {
            ++(listening ? g.listening : g.refused);
            uv_async_send(&worker_event_);
        };
        reports.front_drained = [this, &g] {
            ++g.fronts_drained;
            uv_async_send(&worker_event_);
        };
        reports.exited = [this, &g] {
            --g.running;
            uv_async_send(&worker_event_);
        };
        g.workers.push_back(std::make_unique<Worker>(g.shared(), w, std::move(fds[w]), std::move(reports)));
    }
    for (auto &w : g.workers)
        w->start();
    g.start_health_checks();
}

int Server::run(std::unique_ptr<Generation> first) {
    std::vector<std::vector<ListenFd>> fds;
    std::vector<int> opened; // all of them, and all closed by close_unused_groups on failure
    std::string error;
    if (!hand_out_sockets(first->config(), fds, opened, error)) {
        first->logger().error(error);
        close_all(fds);
        close_unused_groups(nullptr);
        return 1;
    }
    // Bound before anything serves, so a taken admin address fails start-up like a listener's.
    const AdminConfig &admin = first->config().admin;
    if (admin.enabled) {
        admin_ = std::make_unique<AdminServer>(admin.address, admin.listen_text, admin.token, metrics_,
                                               process_logger_);
        if (!admin_->open(error)) {
            first->logger().error(admin.listen_at + ": admin listener: " + error);
            admin_.reset();
            close_all(fds);
            close_unused_groups(nullptr);
            return 1;
        }
        admin_config_ = admin;
    }

    std::signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &worker_event_,
                  [](uv_async_t *a) { static_cast<Server *>(a->data)->on_worker_event(); });
    worker_event_.data = this;
    auto on_signal = [](uv_signal_t *handle, int signum) {
        auto *self = static_cast<Server *>(handle->data);
        switch (signum) {
        case SIGHUP:
            return self->reload();
        case SIGUSR1:
            return self->reopen_logs();
        case SIGINT:
            return self->stop("SIGINT");
        case SIGQUIT:
            return self->stop("SIGQUIT");
        default:
            return self->stop("SIGTERM");
        }
    };
    for (auto [handle, signum] : {std::pair{&sigint_, SIGINT},
                                  {&sigterm_, SIGTERM},
                                  {&sigquit_, SIGQUIT},
                                  {&sighup_, SIGHUP},
                                  {&sigusr1_, SIGUSR1}}) {
        uv_signal_init(&loop_, handle);
        handle->data = this;
        uv_signal_start(handle, on_signal, signum);
    }

    current_ = std::move(first);
    metrics_.begin_generation(current_->config(), current_->number(), current_->health());
    if (!start_discovery(*current_, nullptr, error)) {
        current_->logger().error(error);
        close_all(fds);
        close_unused_groups(nullptr);
        close_handles();
        uv_run(&loop_, UV_RUN_DEFAULT);
        return 1;
    }
    // They accept once all have started and discovery has had its first answers: begin_serving().
    start_workers(*current_, std::move(fds));

    uv_run(&loop_, UV_RUN_DEFAULT);
    // Joined before the loop closes: a worker's last uv_async_send may still be on its way.
    for (auto &w : current_->workers)
        w->join();
    uv_loop_close(&loop_);
    admin_.reset();
    bool failed = std::any_of(current_->workers.begin(), current_->workers.end(),
                              [](const auto &w) { return w->failed(); });
    current_->logger().info(failed ? "stopped after a worker failed" : "stopped");
    current_.reset(); // its plugin instances and logs go here, on the main thread
    return failed ? 1 : 0;
}

void Server::stop(const char *signal_name) {
    const Logger &log = current_->logger();
    if (stopping_) {
        // The watchers stay installed until every worker is done, so a second signal cannot
        // fall back to the default action and kill requests mid-flight.
        log.info(std::string("received ") + signal_name + " again: still waiting for in-flight requests");
        return;
    }
    log.info(std::string("received ") + signal_name + ": stopping (in-flight requests finish first)");
    stop_everything();
}

bool Server::start_discovery(Generation &g, Generation *previous, std::string &error) {
    if (previous) g.discovery().seed_from(previous->discovery());
    auto publish = [this, &g](size_t upstream, std::shared_ptr<const SlotTable> table) {
        const UpstreamConfig &group = g.config().upstreams[upstream];
        g.place_discovered(upstream, *table);
        std::vector<MetricsStore::DiscoveredSlot> slots;
        for (size_t k = 0; k < table->peers.size(); ++k) {
            const auto &peer = table->peers[k];
            slots.push_back({group.peers[group.discovery_first_slot + k].address_text,
                             peer ? peer->address_text : std::string(), table->sources[k],
                             peer ? peer->weight : 1});
        }
        metrics_.set_discovered(group.name, std::move(slots));
        // Before any worker uses the table: a slot with another peer starts its shared counts again.
        g.shared().upstreams[upstream]->follow_discovery(*table);
        for (auto &w : g.workers)
            w->post_discovery(upstream, table);
    };
    return g.discovery().start(
        &loop_, publish, [this] { uv_async_send(&worker_event_); }, error);
}

void Server::stop_everything() {
    stopping_ = true;
    current_->discovery().close();
    current_->stop_health_checks(); // what is in flight finishes on the last verdicts
    for (auto &w : current_->workers)
        w->request_stop(Worker::Sockets::kClose);
    if (starting_) {
        starting_->stop_health_checks();
        for (auto &w : starting_->workers)
            w->request_stop(Worker::Sockets::kClose);
        starting_->discovery().close();
        retiring_.push_back(std::move(starting_));
        starting_opened_.clear(); // closed with every group just below
        next_admin_.reset();
        admin_changes_ = false;
    }
    close_unused_groups(nullptr); // each socket closes as its workers drain their accept queues
}

void Server::reload() {
    const Logger &log = current_->logger();
    uint64_t serving = current_->number();
    if (stopping_) {
        log.info("received SIGHUP while stopping: not reloading");
        return;
    }
    if (starting_ || !serving_) {
        // The file may have changed again since the starting generation read it: read it once
        // more when that generation has taken over or been rolled back.
        uint64_t number = starting_ ? starting_->number() : current_->number();
        log.info("received SIGHUP while generation " + std::to_string(number) +
                 " is starting: reloading again once it has taken over or failed");
        reload_again_ = true;
        return;
    }
    log.info("received SIGHUP: reloading " + config_path_);
    std::vector<std::string> errors;
    auto next = Generation::load(next_generation_, config_path_, options_, log, metrics_, errors);
    std::vector<std::vector<ListenFd>> fds;
    std::string error;
    if (next && (!hand_out_sockets(next->config(), fds, starting_opened_, error) ||
                 !prepare_admin(next->config().admin, error))) {
        errors.push_back(error);
        close_all(fds);
        close_opened(starting_opened_);
        next.reset();
    }
    if (!next) {
        for (const auto &e : errors)
            log.error("reload: " + e);
        log.error("reload failed: configuration " + config_path_ + " has " + std::to_string(errors.size()) +
                  " error(s); still serving generation " + std::to_string(serving));
        return;
    }

    // The new workers set up beside the old ones, which go on serving: dup()s of the same
    // sockets where the address is unchanged, bound sockets not yet listening elsewhere. Once
    // all have reported, finish_reload() lets them listen before the old ones stop accepting, so
    // no connection finds nobody, or rolls them back.
    // Before discovery publishes the sets it takes over: the board compares them with the
    // occupants it inherits, so a peer that keeps its slot keeps its verdict.
    next->health()->inherit(*current_->health(), uv_hrtime() / 1000000);
    if (!start_discovery(*next, current_.get(), error)) {
        close_all(fds);
        close_opened(starting_opened_);
        next_admin_.reset();
        admin_changes_ = false;
        log.error("reload failed: " + error + "; still serving generation " + std::to_string(serving));
        return;
    }
    starting_ = std::move(next);
    ++next_generation_; // a generation that started keeps its number, even if rolled back
    start_workers(*starting_, std::move(fds));
    log.info("generation " + std::to_string(starting_->number()) +
             " starting: " + describe(starting_->config()));
}

void Server::finish_reload() {
    uint64_t serving = current_->number();
    uint64_t started = starting_->number();
    if (starting_->refused.load() != 0) {
        // Its workers logged why. None of them accepted anything (they listen only on the go
        // below); those that did start stop at once, and the sockets opened for this generation
        // alone, never listened on, close.
        starting_->stop_health_checks();
        for (auto &w : starting_->workers) {
            w->metrics().discard(); // it served nothing; its names stay out of /metrics
            w->request_stop(Worker::Sockets::kLiveOn);
        }
        starting_->discovery().close();
        retiring_.push_back(std::move(starting_));
        close_opened(starting_opened_);
        next_admin_.reset();
        admin_changes_ = false;
        current_->logger().error("reload failed: " + std::to_string(retiring_.back()->refused.load()) +
                                 " worker(s) of generation " + std::to_string(started) +
                                 " could not start; still serving generation " + std::to_string(serving));
        return;
    }
    // The new workers accept from here on; the old ones stop accepting (what their queues
    // still hold, on sockets they share with the new ones, goes to whoever takes it first).
    for (auto &w : starting_->workers)
        w->start_listening();
    current_->discovery().close(); // the new generation follows DNS from here on
    retiring_.push_back(std::move(current_));
    current_ = std::move(starting_);
    starting_opened_.clear(); // the serving generation's sockets now
    metrics_.begin_generation(current_->config(), current_->number(), current_->health());
    switch_admin();
    retiring_.back()->stop_health_checks();
    for (auto &w : retiring_.back()->workers)
        w->request_stop(Worker::Sockets::kLiveOn);
    close_unused_groups(&current_->config());
    current_->logger().info("reloaded configuration (generation " + std::to_string(started) +
                            "): " + describe(current_->config()) + "; generation " + std::to_string(serving) +
                            " finishes its in-flight requests");
}

void Server::reopen_logs() {
    bool ok = true;
    auto reopen = [&](Generation &g) {
        std::string error;
        if (!g.reopen_logs(error)) {
            ok = false;
            current_->logger().error("SIGUSR1: " + error);
        }
    };
    for (auto &g : retiring_)
        reopen(*g);
    if (starting_) reopen(*starting_);
    reopen(*current_);
    if (ok) current_->logger().info("received SIGUSR1: log files reopened");
}

void Server::begin_serving() {
    serving_ = true;
    if (stopping_) return;
    if (current_->refused.load() != 0) {
        // Without one of its workers, that worker's sockets would queue connections nobody
        // accepts, so proxyd stops as a whole, as nginx does when a worker cannot start.
        current_->logger().error(std::to_string(current_->refused.load()) +
                                 " worker(s) could not start: stopping");
        stop_everything();
        return;
    }
    for (auto &w : current_->workers)
        w->start_listening();
    if (admin_) admin_->start();
    current_->logger().info("proxyd " PROXYD_VERSION " " + describe(current_->config()));
}

void Server::on_worker_event() {
    // A generation serves once every worker has reported and discovery has had its first answers
    // (or at once when a worker refused: it then stops, or is rolled back).
    auto ready = [](Generation &g) {
        return g.every_worker_reported() && (g.refused.load() != 0 || g.discovery().ready());
    };
    if (!serving_ && ready(*current_)) begin_serving();
    if (starting_ && ready(*starting_)) finish_reload();
    if (reload_again_ && serving_ && !starting_ && !stopping_) {
        reload_again_ = false;
        reload();
    }
    for (auto &g : retiring_)
        release_last_listeners_when_fronts_drained(*g);
    if (stopping_) release_last_listeners_when_fronts_drained(*current_);
    for (auto it = retiring_.begin(); it != retiring_.end();) {
        if ((*it)->running.load() != 0) {
            ++it;
            continue;
        }
        uint64_t number = (*it)->number();
        it = retiring_.erase(it); // joins its threads, then frees its config, plugins and logs
        metrics_.fold_retired();
        current_->logger().info("generation " + std::to_string(number) +
                                " finished: its workers have exited");
    }
    if (current_->running.load() != 0) return;
    if (!stopping_) {
        // Every worker ended on its own: stop as a whole.
        current_->logger().error("every worker of generation " + std::to_string(current_->number()) +
                                 " has ended: stopping");
        stop_everything();
    }
    if (retiring_.empty()) close_handles();
}

void Server::release_last_listeners_when_fronts_drained(Generation &g) {
    if (g.last_listeners_released || g.fronts_drained.load() < g.workers.size()) return;
    g.last_listeners_released = true;
    for (auto &w : g.workers)
        w->release_last_listeners();
}

void Server::close_handles() {
    for (uv_signal_t *s : {&sigint_, &sigterm_, &sigquit_, &sighup_, &sigusr1_})
        uv_close(reinterpret_cast<uv_handle_t *>(s), nullptr);
    uv_close(reinterpret_cast<uv_handle_t *>(&worker_event_), nullptr);
}

} // namespace proxyd
