// proxyd plugin SDK for C++: a header-only layer over plugin.h that lets a plugin be a class.
//
// A plugin defines one instance class and registers it with one of the PROXYD_*_PLUGIN macros at
// the bottom. Requirements on the class T (all hooks run where plugin.h says):
//   static std::unique_ptr<T> create(proxyd::sdk::Config &config);
//       validate and build; report every problem through config (then return nullptr or an
//       instance: the load fails either way once an error was reported).
//   using Worker = ...;   optional per-worker state, constructed on the worker's thread as
//                         Worker(const T &), or as Worker(const T &, const proxyd::sdk::WorkerContext &)
//                         to learn the worker's index, the worker count and post back to it (1.1).
//                         Without it, hooks get a nullptr worker.
//   routing:   proxyd_route_result route(Worker *, const proxyd::sdk::Request &, proxyd_route &) const;
//   balancing: int pick(Worker *, std::span<const proxyd_peer>, const bool *tried,
//                       const proxyd::sdk::Request &) const;
//              void outcome(Worker *, size_t peer, proxyd_outcome) const;                (optional)
//              void attempt_done(Worker *, size_t peer, const proxyd_attempt &) const;   (optional, 1.1)
//              void response_head(Worker *, const proxyd_peer &, size_t peer,
//                                 const proxyd::sdk::Request &, proxyd::sdk::ResponseHead) const;
//                                                                                  (optional, 1.4)
//   content:   int handle(Worker *, const proxyd::sdk::Request &, proxyd::sdk::Response) const;
//              void cancelled(Worker *, proxyd::sdk::Response) const;                   (optional, 1.1)
//              static constexpr uint64_t max_body = N;   (optional, 1.1: read request bodies up to N
//                                                         bytes before handle; Request::body())
//   filter:    int request_head(Worker *, const proxyd::sdk::FilterRequest &) const;    (1.3, each optional)
//                  returns a proxyd_filter_status (CONTINUE, RESPONDED after respond(), PENDING
//                  then resume() later) or a negative code (the core answers 500)
//              void response_head(Worker *, const proxyd::sdk::Request &, proxyd::sdk::ResponseHead) const;
//              void log(Worker *, const proxyd::sdk::Request &, const proxyd_exchange_summary &) const;
//              void cancelled(Worker *, const proxyd::sdk::Request &) const;
//                  (cancelled is required when request_head ever returns PENDING)
// Instance members are const in every hook: state that workers change goes in Worker, or in
// members of the instance that synchronise themselves (std::atomic, a short mutex).
// No exception leaves a hook: the trampolines catch them and report an error instead.
//
// Everything of ABI 1.0 here keeps its meaning; what later minors added is marked "1.1", "1.3".
#ifndef PROXYD_PLUGIN_HPP
#define PROXYD_PLUGIN_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <proxyd/plugin.h>
#include <span>
#include <string>
#include <string_view>
#include <time.h>
#include <type_traits>
#include <utility>
#include <vector>

namespace proxyd::sdk {

inline std::string_view view(proxyd_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }
inline proxyd_str str(std::string_view s) { return proxyd_str{s.data(), s.size()}; }
// s without the optional white space (SP, HTAB: RFC 9110 §5.6.3) at either end: a header value's
// list members, a cookie's name and value, a credential after its scheme.
constexpr std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}
// 1.7: a token (RFC 9110 §5.6.2): one or more letters, digits and !#$%&'*+-.^_`|~. What a field
// name, a method and a cookie's name are made of: check one before setting a header from config.
constexpr bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
    }
    return true;
}

// True when the host table holds member (its struct_size covers it) and the core filled it in.
#define PROXYD_SDK_HOST_HAS(host, member)                                                                  \
    ((host)->struct_size >= offsetof(proxyd_host, member) + sizeof((host)->member) && (host)->member != nullptr)

// A peer of the upstream group a balancer is created for (Config::peers, 1.1).
struct Peer {
    std::string_view address; // "127.0.0.1:9001", valid as long as the instance
    uint32_t weight = 1;
};

// The error log as one instance writes to it: "[level] plugin NAME: message", NAME being the
// name the plugin was declared under. Made by Config::logger() during create() and kept in the
// instance; any thread may use it, a thread-pool job's work() too (log is the one host call that
// may be made there). The core drops a line below the configured [log] level; a plugin that would
// build a costly debug line on a hot path keeps its own switch.
class Logger {
  public:
    Logger() = default; // writes nothing
    Logger(const proxyd_host *host, std::string_view plugin_name) : host_(host), name_(plugin_name) {}

    void error(std::string_view message) const { write(PROXYD_LOG_ERROR, message); }
    void warn(std::string_view message) const { write(PROXYD_LOG_WARN, message); }
    void info(std::string_view message) const { write(PROXYD_LOG_INFO, message); }
    void debug(std::string_view message) const { write(PROXYD_LOG_DEBUG, message); }
    void write(proxyd_log_level level, std::string_view message) const {
        if (host_ && host_->log) host_->log(host_, level, str(name_), str(message));
    }

  private:
    const proxyd_host *host_ = nullptr;
    std::string name_; // a copy: the instance may outlive the Config it came from
};

// A borrowed view of one node of the plugin's TOML table, valid during create().
class Config {
  public:
    Config(const proxyd_host *host, proxyd_load_context *ctx, const proxyd_config_node *node,
           std::shared_ptr<bool> failed = std::make_shared<bool>(false))
        : host_(host), ctx_(ctx), node_(node), failed_(std::move(failed)) {}

    const proxyd_host *host() const { return host_; }
    const proxyd_config_node *node() const { return node_; }
    proxyd_config_type type() const { return host_->config_type(node_); }
    bool present() const { return node_ != nullptr; }
    // True once any error was reported through this Config or one derived from it.
    bool failed() const { return *failed_; }

    Config child(const char *key) const { return Config(host_, ctx_, host_->config_get(node_, key), failed_); }

    void error(const std::string &message) const {
        *failed_ = true;
        host_->config_error(ctx_, node_, message.c_str());
    }

    // Reports every key of this table that is not in allowed ("plugin" is always allowed: the
    // core reads it). Returns false when there was one.
    bool check_keys(std::initializer_list<std::string_view> allowed) const {
        if (node_ && type() != PROXYD_CONFIG_TABLE) {
            error("must be a table");
            return false;
        }
        bool ok = true;
        for (size_t i = 0, n = host_->config_size(node_); i < n; ++i) {
            proxyd_str key{};
            const proxyd_config_node *value = host_->config_entry(node_, i, &key);
            std::string_view name = view(key);
            bool known = name == "plugin";
            for (std::string_view a : allowed) known = known || a == name;
            if (!known) {
                Config(host_, ctx_, value, failed_).error("unknown key '" + std::string(name) + "'");
                ok = false;
            }
        }
        return ok;
    }

    // Typed getters for a key of this table: nullopt when absent; a wrong type is reported.
    std::optional<std::string_view> string(const char *key) const { return child(key).as_string(key); }
    std::optional<int64_t> integer(const char *key) const { return child(key).as_integer(key); }
    std::optional<bool> boolean(const char *key) const { return child(key).as_boolean(key); }
    // A float; an integer converts ("rate = 5" and "rate = 5.0" both give 5.0).
    std::optional<double> number(const char *key) const { return child(key).as_number(key); }

    std::optional<std::string_view> as_string(const char *what = "value") const {
        proxyd_str s{};
        if (!node_) return std::nullopt;
        if (host_->config_string(node_, &s) != PROXYD_OK) return type_error(what, "a string"), std::nullopt;
        return view(s);
    }
    std::optional<int64_t> as_integer(const char *what = "value") const {
        int64_t v = 0;
        if (!node_) return std::nullopt;
        if (host_->config_integer(node_, &v) != PROXYD_OK) return type_error(what, "an integer"), std::nullopt;
        return v;
    }
    std::optional<bool> as_boolean(const char *what = "value") const {
        bool v = false;
        if (!node_) return std::nullopt;
        if (host_->config_boolean(node_, &v) != PROXYD_OK) return type_error(what, "a boolean"), std::nullopt;
        return v;
    }

    std::optional<double> as_number(const char *what = "value") const {
        double v = 0;
        if (!node_) return std::nullopt;
        if (host_->config_float(node_, &v) != PROXYD_OK) return type_error(what, "a number"), std::nullopt;
        return v;
    }

    // 1.1: the name the plugin was declared under in [plugins] (or its built-in name), for log();
    // it lives as long as the instance. Empty when the core does not tell.
    std::string_view plugin_name() const {
        proxyd_str name{};
        if (!PROXYD_SDK_HOST_HAS(host_, config_plugin_name) || host_->config_plugin_name(ctx_, &name) != PROXYD_OK)
            return {};
        return view(name);
    }

    // The error log under this instance's plugin name (plugin_name(); "plugin" when the core
    // does not tell), to keep in the instance.
    Logger logger() const {
        std::string_view name = plugin_name();
        return Logger(host_, name.empty() ? std::string_view("plugin") : name);
    }

    // 1.1, balancers: the peers of the upstream group this instance is created for, in the order
    // pick() sees them (a hash ring can be built once, here). Empty for other kinds.
    std::vector<Peer> peers() const {
        std::vector<Peer> out;
        if (!PROXYD_SDK_HOST_HAS(host_, config_peer_count) || !PROXYD_SDK_HOST_HAS(host_, config_peer_at))
            return out;
        for (size_t i = 0, n = host_->config_peer_count(ctx_); i < n; ++i) {
            proxyd_str address{};
            uint32_t weight = 1;
            if (host_->config_peer_at(ctx_, i, &address, &weight) == PROXYD_OK)
                out.push_back(Peer{view(address), weight});
        }
        return out;
    }

    // Elements of an array (empty when absent or not an array).
    std::vector<Config> elements() const {
        std::vector<Config> out;
        if (type() != PROXYD_CONFIG_ARRAY) return out;
        for (size_t i = 0, n = host_->config_size(node_); i < n; ++i)
            out.emplace_back(host_, ctx_, host_->config_at(node_, i), failed_);
        return out;
    }
    // Entries of a table, in key order.
    std::vector<std::pair<std::string_view, Config>> entries() const {
        std::vector<std::pair<std::string_view, Config>> out;
        if (type() != PROXYD_CONFIG_TABLE) return out;
        for (size_t i = 0, n = host_->config_size(node_); i < n; ++i) {
            proxyd_str key{};
            const proxyd_config_node *value = host_->config_entry(node_, i, &key);
            out.emplace_back(view(key), Config(host_, ctx_, value, failed_));
        }
        return out;
    }

    // A path from the config, absolute (relative ones are taken from the config file's folder).
    std::optional<std::string> resolve_path(std::string_view path) const {
        std::string buf(path.size() + 4096, '\0');
        if (host_->config_resolve_path(ctx_, str(path), buf.data(), buf.size()) != PROXYD_OK) {
            error("path too long");
            return std::nullopt;
        }
        buf.resize(std::char_traits<char>::length(buf.c_str()));
        return buf;
    }

    // Another TOML file's root table (see proxyd_host.config_load_file); an absent Config on error.
    Config load_file(std::string_view path) const {
        const proxyd_config_node *root = host_->config_load_file(ctx_, str(path), node_);
        if (!root) *failed_ = true;
        return Config(host_, ctx_, root, failed_);
    }

    // The id of an upstream group or content handler named by this node's string value.
    std::optional<uint32_t> resolve_target(proxyd_target_kind kind, std::string_view name) const {
        uint32_t id = 0;
        if (host_->resolve_target(ctx_, kind, str(name), node_, &id) != PROXYD_OK) {
            *failed_ = true;
            return std::nullopt;
        }
        return id;
    }

  private:
    void type_error(const char *what, const char *expected) const {
        error(std::string("'") + what + "' must be " + expected);
    }

    const proxyd_host *host_;
    proxyd_load_context *ctx_;
    const proxyd_config_node *node_;
    std::shared_ptr<bool> failed_;
};

// One request header, as sent (names keep their case).
struct Header {
    std::string_view name;
    std::string_view value;
};

// The request's headers in the order they arrived: for (auto [name, value] : request.headers()).
class HeaderRange {
  public:
    class iterator {
      public:
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::input_iterator_tag; // operator* returns a value
        using value_type = Header;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const proxyd_host *host, const proxyd_request_handle *request, size_t index)
            : host_(host), request_(request), index_(index) {}
        Header operator*() const {
            proxyd_str name{}, value{};
            if (host_->request_header_at(request_, index_, &name, &value) != PROXYD_OK) return {};
            return Header{view(name), view(value)};
        }
        iterator &operator++() { return ++index_, *this; }
        iterator operator++(int) {
            iterator before = *this;
            ++index_;
            return before;
        }
        bool operator==(const iterator &other) const { return index_ == other.index_; }

      private:
        const proxyd_host *host_ = nullptr;
        const proxyd_request_handle *request_ = nullptr;
        size_t index_ = 0;
    };

    HeaderRange(const proxyd_host *host, const proxyd_request_handle *request)
        : host_(host), request_(request), size_(host->request_header_count(request)) {}
    iterator begin() const { return iterator(host_, request_, 0); }
    iterator end() const { return iterator(host_, request_, size_); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

  private:
    const proxyd_host *host_;
    const proxyd_request_handle *request_;
    size_t size_;
};

// A request as a content, routing or balancing hook sees it: two pointers, cheap to copy. Valid
// while the hook runs; a content plugin that answers later (handle returned PROXYD_OK without
// finishing) keeps a copy of it valid until response_finish returns or cancelled returns.
class Request {
  public:
    Request(const proxyd_host *host, const proxyd_request *request) : host_(host), request_(request) {}
    const proxyd_host *host_table() const { return host_; }
    const proxyd_request &raw() const { return *request_; }
    std::string_view method() const { return view(request_->method); }
    std::string_view target() const { return view(request_->target); }
    std::string_view path() const { return view(request_->path); }
    std::string_view query() const { return view(request_->query); }
    std::string_view host() const { return view(request_->host); }
    bool is_head() const { return method() == "HEAD"; }

    std::optional<std::string_view> header(std::string_view name) const {
        proxyd_str value{};
        if (host_->request_header(request_->handle, str(name), &value) != PROXYD_OK) return std::nullopt;
        return view(value);
    }
    // Every header, in order (a name sent twice appears twice).
    HeaderRange headers() const { return HeaderRange(host_, request_->handle); }
    // 1.1, content plugins whose T::max_body is non-zero: the whole request body, read before
    // handle ran. nullopt when the request had none. Valid as long as the request.
    std::optional<std::string_view> body() const {
        proxyd_str b{};
        if (!PROXYD_SDK_HOST_HAS(host_, request_body) || host_->request_body(request_->handle, &b) != PROXYD_OK)
            return std::nullopt;
        return view(b);
    }
    // 1.2: the TLS the request came over (version, cipher, SNI, ALPN, the client certificate's
    // verification, subject and fingerprint); nullopt over cleartext. Strings live as long as the
    // request.
    std::optional<proxyd_tls_info> tls() const {
        proxyd_tls_info info{};
        info.struct_size = sizeof info;
        if (!PROXYD_SDK_HOST_HAS(host_, request_tls) ||
            host_->request_tls(request_->handle, &info) != PROXYD_OK)
            return std::nullopt;
        return info;
    }
    // Request-lifetime memory; nullptr when out of memory.
    char *alloc(size_t size) const { return static_cast<char *>(host_->request_alloc(request_->handle, size)); }
    // A copy of s that lives as long as the request (empty on allocation failure).
    std::string_view keep(std::string_view s) const {
        char *p = alloc(s.size() ? s.size() : 1);
        if (!p) return {};
        std::char_traits<char>::copy(p, s.data(), s.size());
        return {p, s.size()};
    }

    std::string_view client_address() const { return view(request_->client_address); }
    const proxyd_request_handle *handle() const { return request_->handle; }
    // 1.3: the request id (the client's valid X-Request-ID, else proxyd's) and "http"/"https";
    // empty from an older core.
    std::string_view request_id() const {
        return has_1_3_view() ? view(request_->request_id) : std::string_view();
    }
    std::string_view scheme() const { return has_1_3_view() ? view(request_->scheme) : std::string_view(); }
    // 1.6: "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0", what the client spoke.
    std::string_view protocol() const {
        return has_1_6_view() ? view(request_->protocol) : std::string_view();
    }
    // 1.6: when the request began, in CLOCK_MONOTONIC nanoseconds (see plugin.h). elapsed_ns() is
    // the time since, what the access log calls request_time; nullopt for a view without a start
    // (a test's FakeRequest with set_received_ns(0)).
    uint64_t received_ns() const { return has_1_6_view() ? request_->received_ns : 0; }
    std::optional<uint64_t> elapsed_ns() const {
        uint64_t since = received_ns();
        if (since == 0) return std::nullopt;
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_ns =
            static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
        return now_ns > since ? now_ns - since : 0;
    }

    // 1.3: per-request state under key (an instance pointer is the usual key): state<S>(key) is
    // what emplace_state<S>(key, ...) made, or nullptr. The core destroys it (delete) once the
    // request ended, after the log hooks, on this worker thread; emplacing again replaces it.
    template <class S> S *state(const void *key) const {
        if (!PROXYD_SDK_HOST_HAS(host_, request_state_get)) return nullptr;
        return static_cast<S *>(host_->request_state_get(request_->handle, key));
    }
    // nullptr when the core cannot keep state (an older core, out of memory).
    template <class S, class... Args> S *emplace_state(const void *key, Args &&...args) const {
        if (!PROXYD_SDK_HOST_HAS(host_, request_state_set)) return nullptr;
        auto state = std::make_unique<S>(std::forward<Args>(args)...);
        if (host_->request_state_set(request_->handle, key, state.get(),
                                     [](void *p) { delete static_cast<S *>(p); }) != PROXYD_OK)
            return nullptr;
        return state.release();
    }
    // 1.3: the worker this request runs on, for Timer::start and queue_work; nullptr from an
    // older core.
    const proxyd_worker_handle *worker() const {
        return PROXYD_SDK_HOST_HAS(host_, request_worker) ? host_->request_worker(request_->handle) : nullptr;
    }

    // 1.4, inside a balancer's pick: the requests in flight on each peer over every worker of
    // the process (plugin.h: approximate), into in_flight (one entry per peer of pick). False
    // from an older core or outside pick.
    bool pick_in_flight(std::span<uint32_t> in_flight) const {
        return PROXYD_SDK_HOST_HAS(host_, pick_in_flight) &&
               host_->pick_in_flight(request_->handle, in_flight.data(), in_flight.size()) == PROXYD_OK;
    }

  protected:
    bool has_1_3_view() const {
        return request_->struct_size >= offsetof(proxyd_request, scheme) + sizeof(request_->scheme);
    }
    bool has_1_6_view() const {
        return request_->struct_size >= offsetof(proxyd_request, received_ns) + sizeof(request_->received_ns);
    }

    const proxyd_host *host_;
    const proxyd_request *request_;
};

// 1.3: the request as a filter's request_head hook sees it: a Request that can also be changed,
// answered and (after PENDING) resumed. Two pointers, cheap to copy; a pending filter keeps its
// copy until it calls resume() or its cancelled() hook runs, and never after. The edits are
// allowed only during request_head or while it is pending (PROXYD_ESTATE otherwise); names and
// values are copied by the core.
class FilterRequest : public Request {
  public:
    using Request::Request;

    int set_header(std::string_view name, std::string_view value) const {
        return host_->request_set_header(request_->handle, str(name), str(value));
    }
    int add_header(std::string_view name, std::string_view value) const {
        return host_->request_add_header(request_->handle, str(name), str(value));
    }
    // PROXYD_ENOENT when there was none (not a failure for most filters).
    int remove_header(std::string_view name) const {
        return host_->request_remove_header(request_->handle, str(name));
    }
    int set_method(std::string_view method) const {
        return host_->request_set_method(request_->handle, str(method));
    }
    int set_path(std::string_view path) const { return host_->request_set_path(request_->handle, str(path)); }
    // A target id from Config::resolve_target; listener filters only (see plugin.h).
    int route_to(uint32_t target) const { return host_->request_route_to(request_->handle, target); }

    // Answers the request (the core adds Date, Server, Content-Length); then return (or resume
    // with) PROXYD_FILTER_RESPONDED.
    int respond(int status, std::span<const Header> headers, std::string_view body = {}) const {
        std::vector<proxyd_header> fields;
        fields.reserve(headers.size());
        for (const Header &h : headers)
            fields.push_back(proxyd_header{str(h.name), str(h.value)});
        return host_->request_respond(request_->handle, status, fields.data(), fields.size(), str(body));
    }
    int respond(int status, std::initializer_list<Header> headers = {}, std::string_view body = {}) const {
        return respond(status, std::span<const Header>(headers.begin(), headers.size()), body);
    }
    // Ends a PENDING request_head with what it would have returned (CONTINUE or RESPONDED), on the
    // worker's thread. PROXYD_ESTATE when the request is not pending (it was cancelled).
    int resume(proxyd_filter_status status) const { return host_->filter_resume(request_->handle, status); }
};

// 1.3: the head of a final response, in a filter's response_head hook only. Two pointers, valid
// while the hook runs. Framing fields, Connection and Date are the core's (PROXYD_EINVAL).
class ResponseHead {
  public:
    ResponseHead(const proxyd_host *host, const proxyd_request_handle *request)
        : host_(host), request_(request) {}
    int status() const { return host_->response_head_status(request_); }
    int set_status(int status) const { return host_->response_head_set_status(request_, status); }
    std::optional<std::string_view> header(std::string_view name) const {
        proxyd_str value{};
        if (host_->response_head_header(request_, str(name), &value) != PROXYD_OK) return std::nullopt;
        return view(value);
    }
    size_t header_count() const { return host_->response_head_header_count(request_); }
    Header header_at(size_t index) const {
        proxyd_str name{}, value{};
        if (host_->response_head_header_at(request_, index, &name, &value) != PROXYD_OK) return {};
        return Header{view(name), view(value)};
    }
    int set_header(std::string_view name, std::string_view value) const {
        return host_->response_head_set_header(request_, str(name), str(value));
    }
    int add_header(std::string_view name, std::string_view value) const {
        return host_->response_head_add_header(request_, str(name), str(value));
    }
    int remove_header(std::string_view name) const {
        return host_->response_head_remove_header(request_, str(name));
    }

  private:
    const proxyd_host *host_;
    const proxyd_request_handle *request_;
};

// 1.3: a one-shot timer on a worker's loop that calls a callable. The object must stay where it
// is while the timer is pending (the core holds its address): keep it in request state or in a
// Worker. Destroying it cancels a pending timer, so a Worker's timers end with the Worker
// (destroy_worker) and a request's with its state. Worker thread only.
class Timer {
  public:
    Timer() = default;
    ~Timer() { cancel(); }
    Timer(const Timer &) = delete;
    Timer &operator=(const Timer &) = delete;

    // Calls fn() once after delay_ms (a later start() replaces a pending one). On an error (the
    // worker is stopping: PROXYD_ESTATE; an older core) fn is never called.
    template <class F>
    int start(const proxyd_host *host, const proxyd_worker_handle *worker, uint64_t delay_ms, F fn) {
        cancel();
        if (!worker || !PROXYD_SDK_HOST_HAS(host, timer_start)) return PROXYD_ESTATE;
        host_ = host;
        fn_ = std::move(fn);
        int rc = host->timer_start(worker, delay_ms, &Timer::fire, this, &timer_);
        if (rc != PROXYD_OK) {
            timer_ = nullptr;
            fn_ = nullptr;
        }
        return rc;
    }
    void cancel() {
        if (!timer_) return;
        host_->timer_cancel(timer_);
        timer_ = nullptr;
        fn_ = nullptr;
    }
    bool pending() const { return timer_ != nullptr; }

  private:
    static void fire(void *arg) {
        auto *self = static_cast<Timer *>(arg);
        self->timer_ = nullptr; // the core frees its timer as fn runs
        // Moved out first: fn may destroy this Timer (end the request state that holds it).
        std::function<void()> fn = std::move(self->fn_);
        self->fn_ = nullptr;
        try {
            if (fn) fn();
        } catch (...) {
        }
    }

    const proxyd_host *host_ = nullptr;
    proxyd_timer *timer_ = nullptr;
    std::function<void()> fn_;
};

// 1.3: runs work() on libuv's thread pool (it may block; it must not call host calls but log),
// then done() on the worker's thread; both exactly once when this returns PROXYD_OK, never on an
// error. Both callables are destroyed after done() ran. A request may be cancelled meanwhile:
// done() must check that (a flag the filter's cancelled() hook sets) before touching it.
template <class Work, class Done>
int queue_work(const proxyd_host *host, const proxyd_worker_handle *worker, Work work, Done done) {
    struct Job {
        Work work;
        Done done;
    };
    if (!worker || !PROXYD_SDK_HOST_HAS(host, queue_work)) return PROXYD_ESTATE;
    auto job = std::make_unique<Job>(Job{std::move(work), std::move(done)});
    auto run = [](void *arg) {
        try {
            static_cast<Job *>(arg)->work();
        } catch (...) {
        }
    };
    auto finish = [](void *arg) {
        std::unique_ptr<Job> owned(static_cast<Job *>(arg));
        try {
            owned->done();
        } catch (...) {
        }
    };
    int rc = host->queue_work(worker, run, finish, job.get());
    if (rc == PROXYD_OK) (void)job.release();
    return rc;
}

// 1.4: what a subrequest's done callback gets: a view of proxyd_subrequest_response, valid while
// the callback runs.
class SubrequestResponse {
  public:
    explicit SubrequestResponse(const proxyd_subrequest_response &raw) : raw_(raw) {}
    const proxyd_subrequest_response &raw() const { return raw_; }
    proxyd_subrequest_result result() const { return raw_.result; }
    bool answered() const { return raw_.result == PROXYD_SUBREQUEST_RESPONSE; }
    int status() const { return raw_.status; }
    std::string_view body() const { return view(raw_.body); }
    // The first field called name (case-insensitive).
    std::optional<std::string_view> header(std::string_view name) const {
        for (size_t i = 0; i < raw_.header_count; ++i)
            if (equals_ignoring_case(view(raw_.headers[i].name), name)) return view(raw_.headers[i].value);
        return std::nullopt;
    }
    std::span<const proxyd_header> headers() const { return {raw_.headers, raw_.header_count}; }

  private:
    static bool equals_ignoring_case(std::string_view a, std::string_view b) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i) {
            char x = a[i], y = b[i];
            if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
            if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
            if (x != y) return false;
        }
        return true;
    }
    const proxyd_subrequest_response &raw_;
};

// 1.4: one subrequest to an upstream group that calls a callable with its response, like Timer:
// the object must stay where it is while it runs (keep it in request state), and destroying it
// cancels a running one. When the request ends first the core cancels it and fn is never
// called (a pending filter hears cancelled() instead). Worker thread only.
class Subrequest {
  public:
    Subrequest() = default;
    ~Subrequest() { cancel(); }
    Subrequest(const Subrequest &) = delete;
    Subrequest &operator=(const Subrequest &) = delete;

    // Sends method path (no body) with headers to the upstream group whose target id is
    // upstream (Config::resolve_target at load). fn(const SubrequestResponse &) runs once, later,
    // on the worker thread, unless this returns an error (PROXYD_ESTATE from an older core).
    template <class F>
    int start(const Request &request, uint32_t upstream, std::string_view method, std::string_view path,
              std::span<const Header> headers, F fn) {
        cancel();
        const proxyd_host *host = request.host_table();
        if (!PROXYD_SDK_HOST_HAS(host, subrequest_start)) return PROXYD_ESTATE;
        std::vector<proxyd_header> fields;
        fields.reserve(headers.size());
        for (const Header &h : headers)
            fields.push_back(proxyd_header{str(h.name), str(h.value)});
        proxyd_subrequest_spec spec{};
        spec.struct_size = sizeof spec;
        spec.upstream = upstream;
        spec.method = str(method);
        spec.path = str(path);
        spec.headers = fields.data();
        spec.header_count = fields.size();
        host_ = host;
        request_ = request.raw().handle;
        fn_ = std::move(fn);
        int rc = host->subrequest_start(request_, &spec, &Subrequest::done, this, &running_);
        if (rc != PROXYD_OK) {
            running_ = nullptr;
            fn_ = nullptr;
        }
        return rc;
    }
    void cancel() {
        if (!running_) return;
        (void)host_->subrequest_cancel(request_, running_);
        running_ = nullptr;
        fn_ = nullptr;
    }
    bool running() const { return running_ != nullptr; }

  private:
    static void done(void *arg, const proxyd_subrequest_response *response) {
        auto *self = static_cast<Subrequest *>(arg);
        self->running_ = nullptr;
        // Moved out first: fn may destroy this object (resume the request, which ends it).
        std::function<void(const SubrequestResponse &)> fn = std::move(self->fn_);
        self->fn_ = nullptr;
        try {
            if (fn) fn(SubrequestResponse(*response));
        } catch (...) {
        }
    }

    const proxyd_host *host_ = nullptr;
    const proxyd_request_handle *request_ = nullptr;
    proxyd_subrequest *running_ = nullptr;
    std::function<void(const SubrequestResponse &)> fn_;
};

// The response of a content hook: two pointers, cheap to copy. Valid until finish() returns or,
// for a response handle returned PROXYD_OK for, until the instance's cancelled() returns (1.1).
// Every call must be made on the request's worker thread (WorkerContext::post gets back there).
class Response {
  public:
    Response(const proxyd_host *host, proxyd_response_handle *response) : host_(host), response_(response) {}
    proxyd_response_handle *raw() const { return response_; }
    // The same response: how cancelled() finds what a plugin kept for it.
    bool operator==(const Response &other) const { return response_ == other.response_; }
    int status(int code) const { return host_->response_status(response_, code); }
    int header(std::string_view name, std::string_view value) const {
        return host_->response_header(response_, str(name), str(value));
    }
    int body(std::string_view data) const { return host_->response_body(response_, data.data(), data.size()); }
    // Takes ownership of fd (see plugin.h).
    int file(int fd, uint64_t offset, uint64_t length) const {
        return host_->response_file(response_, fd, offset, length);
    }
    int finish() const { return host_->response_finish(response_); }
    // A whole small answer: status, content type, body, finish.
    int simple(int code, std::string_view content_type, std::string_view text) const {
        int rc = status(code);
        if (rc == PROXYD_OK && !content_type.empty()) rc = header("Content-Type", content_type);
        if (rc == PROXYD_OK && !text.empty()) rc = body(text);
        if (rc == PROXYD_OK) rc = finish();
        return rc;
    }

  private:
    const proxyd_host *host_;
    proxyd_response_handle *response_;
};

// 1.1: what a worker is, handed to Worker(const T &, const WorkerContext &) on its own thread.
// Valid until the Worker is destroyed. index() is 0..count()-1; count() is 0 when the core did not
// say (a core that called create_worker, not create_worker_ex), and post() then fails.
class WorkerContext {
  public:
    WorkerContext(const proxyd_host *host, const proxyd_worker_info &info)
        : host_(host), index_(info.index), count_(info.count), handle_(info.handle) {}
    uint32_t index() const { return index_; }
    uint32_t count() const { return count_; }
    const proxyd_worker_handle *handle() const { return handle_; }
    const proxyd_host *host_table() const { return host_; }

    // Runs fn(arg) soon on this worker's thread, from any thread (see proxyd_host.worker_post).
    // On an error (the worker is stopping: PROXYD_ESTATE) fn is never called.
    int post(void (*fn)(void *), void *arg) const {
        if (!handle_ || !PROXYD_SDK_HOST_HAS(host_, worker_post)) return PROXYD_ESTATE;
        return host_->worker_post(handle_, fn, arg);
    }
    // The same for a callable, moved into the core's queue and destroyed after it ran (or at once
    // on an error). An exception out of it is swallowed: it must not reach the event loop.
    template <class F> int post(F fn) const {
        auto boxed = std::make_unique<F>(std::move(fn));
        int rc = post(&run_boxed<F>, boxed.get());
        if (rc == PROXYD_OK) (void)boxed.release();
        return rc;
    }

  private:
    template <class F> static void run_boxed(void *arg) {
        std::unique_ptr<F> fn(static_cast<F *>(arg));
        try {
            (*fn)();
        } catch (...) {
        }
    }

    const proxyd_host *host_;
    uint32_t index_;
    uint32_t count_;
    const proxyd_worker_handle *handle_;
};

namespace detail {

template <class T> struct Holder {
    const proxyd_host *host;
    std::unique_ptr<T> instance;
};

template <class T, class = void> struct WorkerOf { using type = void; };
template <class T> struct WorkerOf<T, std::void_t<typename T::Worker>> { using type = typename T::Worker; };
template <class T> using worker_t = typename WorkerOf<T>::type;
template <class T> using worker_ptr = std::conditional_t<std::is_void_v<worker_t<T>>, void *, worker_t<T> *>;

template <class T> worker_ptr<T> as_worker(void *worker) { return static_cast<worker_ptr<T>>(worker); }

template <class T> int create_instance(const proxyd_host *host, proxyd_load_context *ctx,
                                       const proxyd_config_node *node, void **out) {
    Config config(host, ctx, node);
    try {
        std::unique_ptr<T> instance = T::create(config);
        if (!instance || config.failed()) return PROXYD_EINVAL;
        *out = new Holder<T>{host, std::move(instance)};
        return PROXYD_OK;
    } catch (const std::exception &e) {
        config.error(std::string("internal error: ") + e.what());
    } catch (...) {
        config.error("internal error");
    }
    return PROXYD_EPLUGIN;
}

template <class T> void destroy_instance(void *instance) { delete static_cast<Holder<T> *>(instance); }

template <class T> constexpr bool wants_context() {
    if constexpr (std::is_void_v<worker_t<T>>)
        return false;
    else
        return std::is_constructible_v<worker_t<T>, const T &, const WorkerContext &>;
}

template <class T> int make_worker(void *instance, const proxyd_worker_info &info, void **out) {
    auto *holder = static_cast<Holder<T> *>(instance);
    if constexpr (std::is_void_v<worker_t<T>>) {
        (void)holder, (void)info;
        *out = nullptr;
        return PROXYD_OK;
    } else {
        try {
            if constexpr (wants_context<T>())
                *out = new worker_t<T>(*holder->instance, WorkerContext(holder->host, info));
            else
                *out = new worker_t<T>(*holder->instance);
            return PROXYD_OK;
        } catch (...) {
            return PROXYD_ENOMEM;
        }
    }
}

template <class T> int create_worker(void *instance, void **out) {
    return make_worker<T>(instance, proxyd_worker_info{sizeof(proxyd_worker_info), 0, 0, nullptr}, out);
}

template <class T> int create_worker_ex(void *instance, const proxyd_worker_info *info, void **out) {
    return make_worker<T>(instance, *info, out);
}

// Only a Worker that asks for its context makes the descriptor offer create_worker_ex; others keep
// the 1.0 path.
template <class T> constexpr int (*create_worker_ex_hook())(void *, const proxyd_worker_info *, void **) {
    if constexpr (wants_context<T>())
        return &create_worker_ex<T>;
    else
        return nullptr;
}

template <class T> void destroy_worker(void *, void *worker) {
    if constexpr (!std::is_void_v<worker_t<T>>) delete static_cast<worker_t<T> *>(worker);
}

template <class T> proxyd_route_result route(void *instance, void *worker, const proxyd_request *request,
                                             proxyd_route *out) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        return holder->instance->route(as_worker<T>(worker), Request(holder->host, request), *out);
    } catch (...) {
        return PROXYD_ROUTE_DECLINE;
    }
}

template <class T> int pick(void *instance, void *worker, const proxyd_peer *peers, size_t count,
                            const bool *tried, const proxyd_request *request) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        return holder->instance->pick(as_worker<T>(worker), std::span<const proxyd_peer>(peers, count), tried,
                                      Request(holder->host, request));
    } catch (...) {
        return -1;
    }
}

template <class T, class = void> struct HasOutcome : std::false_type {};
template <class T>
struct HasOutcome<T, std::void_t<decltype(std::declval<const T &>().outcome(
                         std::declval<worker_ptr<T>>(), size_t{}, PROXYD_OUTCOME_SUCCESS))>> : std::true_type {};

template <class T> void outcome(void *instance, void *worker, size_t peer, proxyd_outcome result) {
    try {
        static_cast<Holder<T> *>(instance)->instance->outcome(as_worker<T>(worker), peer, result);
    } catch (...) {
    }
}

template <class T> constexpr void (*outcome_hook())(void *, void *, size_t, proxyd_outcome) {
    if constexpr (HasOutcome<T>::value)
        return &outcome<T>;
    else
        return nullptr;
}

template <class T> void attempt_done(void *instance, void *worker, size_t peer, const proxyd_attempt *attempt) {
    try {
        static_cast<Holder<T> *>(instance)->instance->attempt_done(as_worker<T>(worker), peer, *attempt);
    } catch (...) {
    }
}

template <class T> constexpr void (*attempt_done_hook())(void *, void *, size_t, const proxyd_attempt *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, const proxyd_attempt &a) { t.attempt_done(w, size_t{}, a); })
        return &attempt_done<T>;
    else
        return nullptr;
}

template <class T>
void balancer_response_head(void *instance, void *worker, const proxyd_peer *peer, size_t index,
                            const proxyd_request *request) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        holder->instance->response_head(as_worker<T>(worker), *peer, index, Request(holder->host, request),
                                        ResponseHead(holder->host, request->handle));
    } catch (...) {
    }
}

template <class T>
constexpr void (*balancer_response_head_hook())(void *, void *, const proxyd_peer *, size_t,
                                                const proxyd_request *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, const proxyd_peer &p, const Request &r,
                           ResponseHead h) { t.response_head(w, p, size_t{}, r, h); })
        return &balancer_response_head<T>;
    else
        return nullptr;
}

template <class T> int handle(void *instance, void *worker, const proxyd_request *request,
                              proxyd_response_handle *response) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        return holder->instance->handle(as_worker<T>(worker), Request(holder->host, request),
                                        Response(holder->host, response));
    } catch (...) {
        return PROXYD_EPLUGIN;
    }
}

template <class T> void cancelled(void *instance, void *worker, proxyd_response_handle *response) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        holder->instance->cancelled(as_worker<T>(worker), Response(holder->host, response));
    } catch (...) {
    }
}

template <class T> constexpr void (*cancelled_hook())(void *, void *, proxyd_response_handle *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, Response r) { t.cancelled(w, r); })
        return &cancelled<T>;
    else
        return nullptr;
}

template <class T> constexpr uint64_t max_body() {
    if constexpr (requires { T::max_body; })
        return static_cast<uint64_t>(T::max_body);
    else
        return 0;
}

// 1.3 filters.
template <class T> int request_head(void *instance, void *worker, const proxyd_request *request) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        return static_cast<int>(
            holder->instance->request_head(as_worker<T>(worker), FilterRequest(holder->host, request)));
    } catch (...) {
        return PROXYD_EPLUGIN;
    }
}

template <class T> constexpr int (*request_head_hook())(void *, void *, const proxyd_request *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, const FilterRequest &r) { t.request_head(w, r); })
        return &request_head<T>;
    else
        return nullptr;
}

template <class T> void response_head(void *instance, void *worker, const proxyd_request *request) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        holder->instance->response_head(as_worker<T>(worker), Request(holder->host, request),
                                        ResponseHead(holder->host, request->handle));
    } catch (...) {
    }
}

template <class T> constexpr void (*response_head_hook())(void *, void *, const proxyd_request *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, const Request &r, ResponseHead h) {
                      t.response_head(w, r, h);
                  })
        return &response_head<T>;
    else
        return nullptr;
}

template <class T>
void filter_log(void *instance, void *worker, const proxyd_request *request,
                const proxyd_exchange_summary *summary) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        holder->instance->log(as_worker<T>(worker), Request(holder->host, request), *summary);
    } catch (...) {
    }
}

template <class T>
constexpr void (*filter_log_hook())(void *, void *, const proxyd_request *, const proxyd_exchange_summary *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, const Request &r, const proxyd_exchange_summary &s) {
                      t.log(w, r, s);
                  })
        return &filter_log<T>;
    else
        return nullptr;
}

template <class T> void filter_cancelled(void *instance, void *worker, const proxyd_request *request) {
    auto *holder = static_cast<Holder<T> *>(instance);
    try {
        holder->instance->cancelled(as_worker<T>(worker), Request(holder->host, request));
    } catch (...) {
    }
}

template <class T> constexpr void (*filter_cancelled_hook())(void *, void *, const proxyd_request *) {
    if constexpr (requires(const T &t, worker_ptr<T> w, const Request &r) { t.cancelled(w, r); })
        return &filter_cancelled<T>;
    else
        return nullptr;
}

template <class T>
constexpr proxyd_plugin_descriptor descriptor(proxyd_kind kind, const char *name, const char *version,
                                              const proxyd_routing_hooks *r, const proxyd_balancing_hooks *b,
                                              const proxyd_content_hooks *c,
                                              const proxyd_filter_hooks *f = nullptr) {
    return proxyd_plugin_descriptor{PROXYD_ABI_MAJOR,
                                    PROXYD_ABI_MINOR,
                                    sizeof(proxyd_plugin_descriptor),
                                    static_cast<uint32_t>(kind),
                                    name,
                                    version,
                                    &create_instance<T>,
                                    &destroy_instance<T>,
                                    &create_worker<T>,
                                    &destroy_worker<T>,
                                    r,
                                    b,
                                    c,
                                    create_worker_ex_hook<T>(),
                                    f};
}

} // namespace detail
} // namespace proxyd::sdk

#define PROXYD_ROUTING_PLUGIN(T, NAME, VERSION)                                                            \
    extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {                     \
        static const proxyd_routing_hooks hooks{sizeof(proxyd_routing_hooks), &proxyd::sdk::detail::route<T>}; \
        static const proxyd_plugin_descriptor d =                                                          \
            proxyd::sdk::detail::descriptor<T>(PROXYD_KIND_ROUTING, NAME, VERSION, &hooks, nullptr, nullptr);  \
        return &d;                                                                                         \
    }

#define PROXYD_BALANCING_PLUGIN(T, NAME, VERSION)                                                            \
    extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {                     \
        static const proxyd_balancing_hooks hooks{                                                           \
            sizeof(proxyd_balancing_hooks), &proxyd::sdk::detail::pick<T>,                                   \
            proxyd::sdk::detail::outcome_hook<T>(), proxyd::sdk::detail::attempt_done_hook<T>(),             \
            proxyd::sdk::detail::balancer_response_head_hook<T>()};                                          \
        static const proxyd_plugin_descriptor d = proxyd::sdk::detail::descriptor<T>(                        \
            PROXYD_KIND_BALANCING, NAME, VERSION, nullptr, &hooks, nullptr);                                 \
        return &d;                                                                                           \
    }

#define PROXYD_CONTENT_PLUGIN(T, NAME, VERSION)                                                            \
    extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {                     \
        static const proxyd_content_hooks hooks{sizeof(proxyd_content_hooks), &proxyd::sdk::detail::handle<T>, \
                                                proxyd::sdk::detail::cancelled_hook<T>(),                  \
                                                proxyd::sdk::detail::max_body<T>()};                       \
        static const proxyd_plugin_descriptor d =                                                          \
            proxyd::sdk::detail::descriptor<T>(PROXYD_KIND_CONTENT, NAME, VERSION, nullptr, nullptr, &hooks);  \
        return &d;                                                                                         \
    }

// 1.3: a filter (see the requirements at the top of this file).
#define PROXYD_FILTER_PLUGIN(T, NAME, VERSION)                                                               \
    extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {                     \
        static const proxyd_filter_hooks hooks{                                                              \
            sizeof(proxyd_filter_hooks), proxyd::sdk::detail::request_head_hook<T>(),                        \
            proxyd::sdk::detail::response_head_hook<T>(), proxyd::sdk::detail::filter_log_hook<T>(),         \
            proxyd::sdk::detail::filter_cancelled_hook<T>()};                                                \
        static const proxyd_plugin_descriptor d = proxyd::sdk::detail::descriptor<T>(                        \
            PROXYD_KIND_FILTER, NAME, VERSION, nullptr, nullptr, nullptr, &hooks);                           \
        return &d;                                                                                           \
    }

#endif // PROXYD_PLUGIN_HPP
