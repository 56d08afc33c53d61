// proxyd plugin SDK for C++: a header-only layer over plugin.h that lets a plugin be a class.
//
// A plugin defines one instance class and registers it with one of the PROXYD_*_PLUGIN macros at
// the bottom. Requirements on the class T (all hooks run where plugin.h says):
//   static std::unique_ptr<T> create(proxyd::sdk::Config &config);
//       validate and build; report every problem through config (then return nullptr or an
//       instance: the load fails either way once an error was reported).
//   using Worker = ...;   optional per-worker state, constructed as Worker(const T &) on the
//                         worker's thread. Without it, hooks get a nullptr worker.
//   routing:   proxyd_route_result route(Worker *, const proxyd::sdk::Request &, proxyd_route &) const;
//   balancing: int pick(Worker *, std::span<const proxyd_peer>, const bool *tried,
//                       const proxyd::sdk::Request &) const;
//              void outcome(Worker *, size_t peer, proxyd_outcome) const;   (optional)
//   content:   int handle(Worker *, const proxyd::sdk::Request &, proxyd::sdk::Response) const;
// No exception leaves a hook: the trampolines catch them and report an error instead.
#ifndef PROXYD_PLUGIN_HPP
#define PROXYD_PLUGIN_HPP

#include <proxyd/plugin.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace proxyd::sdk {

inline std::string_view view(proxyd_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }
inline proxyd_str str(std::string_view s) { return proxyd_str{s.data(), s.size()}; }

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

// A request as a content, routing or balancing hook sees it. Borrowed for the hook's duration
// (content plugins that answer later may keep it until they call finish).
class Request {
  public:
    Request(const proxyd_host *host, const proxyd_request *request) : host_(host), request_(request) {}
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
    // Request-lifetime memory; nullptr when out of memory.
    char *alloc(size_t size) const { return static_cast<char *>(host_->request_alloc(request_->handle, size)); }
    // A copy of s that lives as long as the request (empty on allocation failure).
    std::string_view keep(std::string_view s) const {
        char *p = alloc(s.size() ? s.size() : 1);
        if (!p) return {};
        std::char_traits<char>::copy(p, s.data(), s.size());
        return {p, s.size()};
    }

  private:
    const proxyd_host *host_;
    const proxyd_request *request_;
};

class Response {
  public:
    Response(const proxyd_host *host, proxyd_response_handle *response) : host_(host), response_(response) {}
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

template <class T> int create_worker(void *instance, void **out) {
    if constexpr (std::is_void_v<worker_t<T>>) {
        (void)instance;
        *out = nullptr;
        return PROXYD_OK;
    } else {
        try {
            *out = new worker_t<T>(*static_cast<Holder<T> *>(instance)->instance);
            return PROXYD_OK;
        } catch (...) {
            return PROXYD_ENOMEM;
        }
    }
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

template <class T> constexpr proxyd_plugin_descriptor descriptor(proxyd_kind kind, const char *name,
                                                                 const char *version,
                                                                 const proxyd_routing_hooks *r,
                                                                 const proxyd_balancing_hooks *b,
                                                                 const proxyd_content_hooks *c) {
    return proxyd_plugin_descriptor{PROXYD_ABI_MAJOR,     PROXYD_ABI_MINOR,     sizeof(proxyd_plugin_descriptor),
                                    static_cast<uint32_t>(kind), name,          version,
                                    &create_instance<T>,  &destroy_instance<T>, &create_worker<T>,
                                    &destroy_worker<T>,   r,                    b,
                                    c,                    nullptr};
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

#define PROXYD_BALANCING_PLUGIN(T, NAME, VERSION)                                                          \
    extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {                     \
        static const proxyd_balancing_hooks hooks{                                                         \
            sizeof(proxyd_balancing_hooks), &proxyd::sdk::detail::pick<T>,                                 \
            proxyd::sdk::detail::outcome_hook<T>(), nullptr};                                              \
        static const proxyd_plugin_descriptor d =                                                          \
            proxyd::sdk::detail::descriptor<T>(PROXYD_KIND_BALANCING, NAME, VERSION, nullptr, &hooks, nullptr); \
        return &d;                                                                                         \
    }

#define PROXYD_CONTENT_PLUGIN(T, NAME, VERSION)                                                            \
    extern "C" PROXYD_EXPORT const proxyd_plugin_descriptor *PROXYD_PLUGIN_ENTRY(void) {                     \
        static const proxyd_content_hooks hooks{sizeof(proxyd_content_hooks), &proxyd::sdk::detail::handle<T>, \
                                                nullptr, 0};                                               \
        static const proxyd_plugin_descriptor d =                                                          \
            proxyd::sdk::detail::descriptor<T>(PROXYD_KIND_CONTENT, NAME, VERSION, nullptr, nullptr, &hooks);  \
        return &d;                                                                                         \
    }

#endif // PROXYD_PLUGIN_HPP
