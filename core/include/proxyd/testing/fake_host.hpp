// proxyd plugin SDK: a stand-in for the proxyd core, to unit-test a plugin .so through its C ABI
// without proxyd. It loads the .so with dlopen, hands create_instance a host table whose config
// nodes come from TOML text (toml++), records config errors with their line and column as proxyd
// would print them, and drives hooks with fake requests and responses that record what the
// plugin sent. proxyd's own plugin tests use this same header.
//
// Header-only. Needs toml++ (Debian: libtomlplusplus-dev; pkg-config tomlplusplus, CMake
// find_package(tomlplusplus)) and dlopen (glibc 2.34 and later has it in libc; older: -ldl).
//
//   proxyd::testing::PluginModule module("build/my_plugin.so");
//   proxyd::testing::FakeHost host;
//   void *instance = host.create(module, "greeting = \"hi\"");     // nullptr: see host.errors()
//   proxyd::testing::FakeRequest request("GET", "/a?b=1", {{"Accept", "text/plain"}});
//   proxyd::testing::FakeResponse response;
//   proxyd::testing::handle(module, instance, request, response); // then check response.status ...
//
// What the fake does not do: no event loop, no threads of its own, no network. The ABI 1.1 calls
// are served from what the test sets: FakeHost::plugin_name (config_plugin_name), FakeHost::peers
// (config_peer_count/at), FakeRequest::body (request_body), and of 1.2 FakeRequest::tls
// (request_tls), of 1.4 FakeRequest::in_flight (pick_in_flight). worker_post QUEUES the callback on the
// FakeWorker; the test runs the queue with FakeWorker::run_posted() (on its own thread, standing
// in for the worker's), so a test decides when "later" is.
//
// Filters (1.3): FakeRequest's headers, method and path are edited by the request_* calls (with
// the core's checks: tokens, no CR/LF/NUL, Host and framing fields kept), request_respond is
// recorded in FakeRequest::responded, filter_resume in FakeRequest::resumed, request state is
// freed when the FakeRequest is destroyed (or end() is called). A FakeResponseHead is what the
// response_head_* calls read and change. Time is manual: FakeWorker::advance(ms) fires the timers
// that fall due, and queue_work waits until the test calls FakeWorker::run_work(), which runs each
// job's work and then its done on the test's thread. The filter_* functions at the end run the
// hooks as the core would:
//
//   proxyd::testing::FakeWorker worker(module.descriptor(), instance);
//   proxyd::testing::FakeRequest request("GET", "/", {{"Authorization", "Basic ..."}});
//   int rc = proxyd::testing::filter_request_head(module, instance, worker, request); // PENDING
//   worker.run_work();                      // the thread-pool job, then its completion
//   CHECK(request.resumed == PROXYD_FILTER_CONTINUE);
#ifndef PROXYD_TESTING_FAKE_HOST_HPP
#define PROXYD_TESTING_FAKE_HOST_HPP

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <dlfcn.h>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <proxyd/plugin.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <time.h>
#include <toml++/toml.h>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

// True when a table of the given struct_size (as the plugin built it) holds member.
#define PROXYD_TESTING_HAS(table, type, member)                                                            \
    ((table).struct_size >= offsetof(type, member) + sizeof((table).member) && (table).member != nullptr)

namespace proxyd::testing {

// A plugin .so loaded with dlopen, unloaded on destruction. A path with a '/' is used as given; a
// bare file name is taken from the folder in PROXYD_TESTING_PLUGIN_DIR when the test defines that
// macro (proxyd's own tests: the build's plugin folder), otherwise from the current directory.
class PluginModule {
  public:
    explicit PluginModule(const std::string &path);
    ~PluginModule();
    PluginModule(const PluginModule &) = delete;
    PluginModule &operator=(const PluginModule &) = delete;

    const proxyd_plugin_descriptor &descriptor() const { return *descriptor_; }
    const std::string &path() const { return path_; }

  private:
    std::string path_;
    void *handle_ = nullptr;
    const proxyd_plugin_descriptor *descriptor_ = nullptr;
};

struct ConfigError {
    std::string file; // "plugin.toml" for the block itself
    int64_t line = 0;
    int64_t column = 0;
    std::string message;
};

// A peer of the upstream group a balancer is created for (config_peer_count/at), and what
// FakeHost::peer_array hands to pick().
struct FakePeer {
    std::string address;
    uint32_t weight = 1;
    bool down = false;
};

class FakeHost {
  public:
    FakeHost() = default;
    ~FakeHost();
    FakeHost(const FakeHost &) = delete;
    FakeHost &operator=(const FakeHost &) = delete;

    // Folder that relative config paths are taken from (the config file's folder in the core).
    std::string config_dir = "/";
    // Names resolve_target knows, with the ids it gives.
    std::map<std::string, uint32_t, std::less<>> upstreams;
    std::map<std::string, uint32_t, std::less<>> handlers;
    // 1.1 config_plugin_name: the name under [plugins]; empty means the descriptor's name.
    std::string plugin_name;
    // 1.1 config_peer_count/at, for a balancer's create_instance (other kinds get PROXYD_ESTATE).
    std::vector<FakePeer> peers;

    // The host table handed to create_instance; static, valid for the whole test program.
    const proxyd_host *host() const;

    // Creates an instance of module from toml_text (the plugin block). Returns nullptr when
    // create_instance failed; errors() says why. The instance is destroyed with the host.
    void *create(const PluginModule &module, std::string_view toml_text);
    // The same for the table at toml_path ("handlers.web1", "listeners[0].router") of a config
    // file; relative paths in it are then taken from that file's folder.
    void *create_from_file(const PluginModule &module, const std::string &file, std::string_view toml_path);
    // The same for a document already read; relative paths are taken from config_folder.
    void *create_from_document(const PluginModule &module, toml::table document, const std::string &config_folder,
                               std::string_view toml_path);

    // peers as the array pick() takes (addresses point into peers: keep both unchanged meanwhile).
    std::vector<proxyd_peer> peer_array() const;

    const std::vector<ConfigError> &errors() const { return errors_; }
    // Every error as "file:line:col: message", one per line, for assertions and failure output.
    std::string error_text() const;
    // Everything plugins logged through the host ("name: message"), in order, from any thread;
    // log_levels() holds each line's level at the same index.
    static std::vector<std::string> &logs();
    static std::vector<proxyd_log_level> &log_levels();
    // Empties both, keeping them in step (between test cases).
    static void clear_logs();
    static std::mutex &logs_mutex();

    // -- used by the host calls --
    // As proxyd does: at node, or at the plugin block when node is null; an "unknown key" message
    // about a value points at that value's key.
    void report(const toml::node *node, const std::string &message);
    const toml::table *load_file(std::string_view path, const toml::node *at);
    std::string resolve(std::string_view path) const;
    const proxyd_plugin_descriptor *creating() const { return creating_; }

  private:
    struct Created {
        const proxyd_plugin_descriptor *descriptor;
        void *instance;
    };
    void *create_at(const PluginModule &module, const toml::node &block);
    const toml::key *key_of(const toml::node *value) const;

    std::list<toml::table> documents_; // stable addresses: plugins hold nodes into them
    const toml::node *block_ = nullptr;
    const proxyd_plugin_descriptor *creating_ = nullptr;
    std::vector<ConfigError> errors_;
    std::vector<Created> created_;
};

// One worker's state for an instance: create_worker_ex (index, count, a handle for worker_post)
// when the plugin offers it, else create_worker; destroy_worker with this object.
class FakeWorker {
  public:
    FakeWorker(const proxyd_plugin_descriptor &descriptor, void *instance, uint32_t index = 0, uint32_t count = 1);
    // Runs what is still queued, then refuses posts (PROXYD_ESTATE), then destroy_worker.
    ~FakeWorker();
    FakeWorker(const FakeWorker &) = delete;
    FakeWorker &operator=(const FakeWorker &) = delete;

    // The plugin's worker pointer, for hooks.
    void *get() const { return worker_; }
    // The handle worker_post takes (what create_worker_ex was given).
    const proxyd_worker_handle *handle() const { return reinterpret_cast<const proxyd_worker_handle *>(this); }

    // Runs every callback posted so far, in order, on the calling thread; returns how many ran.
    size_t run_posted();
    // Waits until at least one callback is queued (a plugin's own thread posts it); false on timeout.
    bool wait_posted(std::chrono::milliseconds timeout);
    size_t posted() const;

    // 1.3: the worker's manual clock, in milliseconds from its creation. advance() moves it and
    // fires, in order of their due time, the timers that fall due (also ones that a firing timer
    // starts within the interval); returns how many fired.
    uint64_t now_ms() const { return now_ms_; }
    size_t advance(uint64_t ms);
    size_t timers_pending() const { return timers_.size(); }
    // 1.3: runs every queue_work job queued so far (and those their done callbacks queue): work,
    // then done, on the calling thread; returns how many ran.
    size_t run_work();
    size_t work_queued() const { return jobs_.size(); }

    // -- used by the host calls --
    int post(void (*fn)(void *), void *arg);
    int start_timer(uint64_t delay_ms, void (*fn)(void *), void *arg, proxyd_timer **timer);
    void cancel_timer(proxyd_timer *timer);
    int queue_work(void (*work)(void *), void (*done)(void *), void *arg);

  private:
    struct Timer {
        FakeWorker *owner; // first: detail::timer_cancel finds the worker through it
        uint64_t due;
        uint64_t sequence;
        void (*fn)(void *);
        void *arg;
    };
    struct Job {
        void (*work)(void *);
        void (*done)(void *);
        void *arg;
    };

    const proxyd_plugin_descriptor &descriptor_;
    void *instance_;
    void *worker_ = nullptr;
    mutable std::mutex mutex_;
    std::condition_variable queued_;
    std::deque<std::pair<void (*)(void *), void *>> queue_;
    bool stopping_ = false;
    uint64_t now_ms_ = 0;
    uint64_t timer_sequence_ = 0;
    std::list<Timer> timers_; // stable addresses: a proxyd_timer * is one of them
    std::deque<Job> jobs_;
};

class FakeResponseHead;

class FakeRequest {
  public:
    // The request's host field is the Host header's value when headers has one, else "localhost".
    FakeRequest(std::string method, std::string target,
                std::vector<std::pair<std::string, std::string>> headers = {});
    FakeRequest(const FakeRequest &) = delete;
    FakeRequest &operator=(const FakeRequest &) = delete;

    // 1.1 request_body: what it returns (nullopt: PROXYD_ENOENT, as for a request without one).
    // handle() below hides it from a plugin whose max_body is 0, as the core discards it then.
    std::optional<std::string> body;
    // 1.2 request_tls: what it fills in (nullopt: PROXYD_ENOENT, a cleartext request). Its strings
    // must outlive the request.
    std::optional<proxyd_tls_info> tls;
    // 1.4 pick_in_flight: the process-wide counts it fills in, one per peer (nullopt:
    // PROXYD_ESTATE, as outside a pick; a size other than pick's: PROXYD_EINVAL).
    std::optional<std::vector<uint32_t>> in_flight;

    const proxyd_request *raw() const { return &raw_; }
    // What the core does after a routing plugin rewrote the path: target stays as sent.
    void rewrite_path(std::string path);
    // True when p points into memory this request allocated through request_alloc.
    bool owns(const char *p) const;

    // 1.3: what the request view says (client_address "127.0.0.1", request_id "fake-request-id",
    // scheme "http" by default).
    void set_client_address(std::string address);
    void set_request_id(std::string id);
    void set_scheme(std::string scheme);
    // 1.6: protocol "HTTP/1.1" by default ("HTTP/1.0" also sets http_minor 0, as the core does);
    // received_ns the CLOCK_MONOTONIC time the FakeRequest was made, so Request::elapsed_ns()
    // counts from there unless a test sets another.
    void set_protocol(std::string protocol);
    void set_received_ns(uint64_t received_ns);

    // 1.3, filled in by the host calls of filters:
    struct Responded {
        int status = 0;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        std::optional<std::string> header(std::string_view name) const;
    };
    std::optional<Responded> responded; // request_respond
    std::optional<uint32_t> routed_to;  // request_route_to
    int resumed = -1;                   // the status filter_resume was called with
    bool pending = false;               // request_head returned PENDING, not yet resumed
    bool cancelled = false;             // filter_cancel ran
    std::vector<std::string> misuse;    // calls made where plugin.h does not allow them

    // 1.4, subrequest_start: what a plugin asked, running until a test answers it
    // (answer_subrequest), the plugin cancels it, or the request ends (end(): done never runs).
    struct Subrequest {
        uint32_t upstream = 0;
        std::string method;
        std::string path;
        std::vector<std::pair<std::string, std::string>> headers;
        void (*done)(void *, const proxyd_subrequest_response *) = nullptr;
        void *arg = nullptr;
        bool running = true;
    };
    std::vector<std::unique_ptr<Subrequest>> subrequests;
    // Calls the running subrequest i's done with an answer (result RESPONSE when status is
    // non-zero, else failed); false when it is not running.
    bool answer_subrequest(size_t i, int status, std::vector<std::pair<std::string, std::string>> fields = {},
                           std::string answer_body = {});

    // The first header named name (case-insensitive), as the filters left it.
    std::optional<std::string> header(std::string_view name) const;
    size_t header_count(std::string_view name) const;
    // Frees the request state (free_state of each key), as the core does when the request ends;
    // the destructor does it too.
    void end();
    ~FakeRequest();

    // -- used by the host calls --
    void *alloc(size_t size);
    const std::vector<std::pair<std::string, std::string>> &headers() const { return headers_; }
    bool body_visible = true;
    bool editable = false;                     // inside request_head, or pending
    FakeResponseHead *response_head = nullptr; // inside response_head
    FakeWorker *worker = nullptr;              // what request_worker returns
    int set_header(std::string_view name, std::string_view value, bool add);
    int remove_header(std::string_view name);
    int set_method(std::string_view method);
    int set_path(std::string_view path);
    int set_state(const void *key, void *state, void (*free_state)(void *));
    void *state(const void *key) const;

  private:
    void refresh();

    std::string method_, target_, path_, query_, host_ = "localhost", client_ = "127.0.0.1";
    std::string request_id_ = "fake-request-id", scheme_ = "http", protocol_ = "HTTP/1.1";
    std::vector<std::pair<std::string, std::string>> headers_;
    std::deque<std::pair<std::unique_ptr<char[]>, size_t>> arena_;
    std::vector<std::tuple<const void *, void *, void (*)(void *)>> state_;
    proxyd_request raw_{};
};

// 1.3: a final response's head as filters' response_head hooks see it.
class FakeResponseHead {
  public:
    explicit FakeResponseHead(int initial_status = 200,
                              std::vector<std::pair<std::string, std::string>> initial_headers = {})
        : status(initial_status), headers(std::move(initial_headers)) {}
    int status;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::string> header(std::string_view name) const;
    size_t header_count(std::string_view name) const;
};

class FakeResponse {
  public:
    FakeResponse() = default;
    ~FakeResponse();
    FakeResponse(const FakeResponse &) = delete;
    FakeResponse &operator=(const FakeResponse &) = delete;

    proxyd_response_handle *handle() { return reinterpret_cast<proxyd_response_handle *>(this); }

    // One response_body or response_file call, in call order.
    struct BodyPart {
        std::string bytes;
        int fd = -1; // a file range: owned, closed by the destructor (once, if named again)
        uint64_t offset = 0;
        uint64_t length = 0;
    };

    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body; // the bytes of every response_body call
    int file_fd = -1; // the first file range; owned (it is parts' too), closed by the destructor
    uint64_t file_offset = 0;
    uint64_t file_length = 0;
    std::vector<BodyPart> parts;
    bool finished = false;
    bool cancelled = false;          // cancel() ran: any response_* call after it is misuse
    std::vector<std::string> misuse; // calls made out of the order plugin.h prescribes

    // The value of the first header named name (case-insensitive).
    std::optional<std::string> header(std::string_view name) const;
    // How many headers are named name (case-insensitive).
    size_t header_count(std::string_view name) const;
    // The file range the plugin handed over, read back.
    std::string file_content() const;
    // The whole body as a client would get it: every part in order, file ranges read back.
    std::string content() const;
};

// Runs a content plugin's handle hook as the core would: a body larger than the plugin's max_body
// is answered 413 without calling it (PROXYD_OK is returned), and with max_body 0 the plugin
// sees no body. Without a worker the hook gets a null worker pointer.
int handle(const PluginModule &module, void *instance, FakeRequest &request, FakeResponse &response);
int handle(const PluginModule &module, void *instance, const FakeWorker &worker, FakeRequest &request,
           FakeResponse &response);
// The client left before the plugin finished: calls the content hooks' cancelled (1.1) when the
// plugin has one and marks response cancelled. Returns whether the plugin had the hook.
bool cancel(const PluginModule &module, void *instance, void *worker, FakeResponse &response);
// 1.1 attempt_done for a balancer, when it has the hook; returns whether it had.
bool attempt_done(const PluginModule &module, void *instance, void *worker, size_t peer, proxyd_outcome outcome,
                  int status = 200, uint64_t duration_ns = 1000000);

// ------------------------------------------------------------------------------------------------
// Implementation. The opaque ABI handles are this fake's own objects, reinterpret_cast, so this
// header defines none of the ABI's opaque structs (a test may link proxyd's core beside it).
namespace detail {

inline const toml::node *node_of(const proxyd_config_node *node) { return reinterpret_cast<const toml::node *>(node); }
inline const proxyd_config_node *handle_of(const toml::node *node) {
    return reinterpret_cast<const proxyd_config_node *>(node);
}
inline FakeHost &host_of(proxyd_load_context *ctx) { return *reinterpret_cast<FakeHost *>(ctx); }
inline proxyd_load_context *context_of(FakeHost &host) { return reinterpret_cast<proxyd_load_context *>(&host); }
inline FakeRequest &request_of(const proxyd_request_handle *h) {
    return *const_cast<FakeRequest *>(reinterpret_cast<const FakeRequest *>(h));
}
inline FakeResponse &response_of(proxyd_response_handle *h) { return *reinterpret_cast<FakeResponse *>(h); }
inline std::string_view sv(proxyd_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

inline bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

inline const proxyd_config_node *config_get(const proxyd_config_node *table, const char *key) {
    const toml::node *node = node_of(table);
    if (!node || !node->is_table() || !key) return nullptr;
    return handle_of(node->as_table()->get(key));
}

inline proxyd_config_type config_type(const proxyd_config_node *handle) {
    const toml::node *node = node_of(handle);
    if (!node) return PROXYD_CONFIG_NONE;
    if (node->is_string()) return PROXYD_CONFIG_STRING;
    if (node->is_integer()) return PROXYD_CONFIG_INTEGER;
    if (node->is_floating_point()) return PROXYD_CONFIG_FLOAT;
    if (node->is_boolean()) return PROXYD_CONFIG_BOOLEAN;
    if (node->is_array()) return PROXYD_CONFIG_ARRAY;
    if (node->is_table()) return PROXYD_CONFIG_TABLE;
    return PROXYD_CONFIG_OTHER;
}

inline int config_string(const proxyd_config_node *handle, proxyd_str *out) {
    const toml::node *node = node_of(handle);
    if (!node) return PROXYD_ENOENT;
    if (!node->is_string()) return PROXYD_ETYPE;
    const std::string &s = node->as_string()->get();
    *out = proxyd_str{s.c_str(), s.size()};
    return PROXYD_OK;
}

inline int config_integer(const proxyd_config_node *handle, int64_t *out) {
    const toml::node *node = node_of(handle);
    if (!node) return PROXYD_ENOENT;
    if (!node->is_integer()) return PROXYD_ETYPE;
    *out = node->as_integer()->get();
    return PROXYD_OK;
}

inline int config_float(const proxyd_config_node *handle, double *out) {
    const toml::node *node = node_of(handle);
    if (!node) return PROXYD_ENOENT;
    if (node->is_integer()) return *out = static_cast<double>(node->as_integer()->get()), PROXYD_OK;
    if (!node->is_floating_point()) return PROXYD_ETYPE;
    *out = node->as_floating_point()->get();
    return PROXYD_OK;
}

inline int config_boolean(const proxyd_config_node *handle, bool *out) {
    const toml::node *node = node_of(handle);
    if (!node) return PROXYD_ENOENT;
    if (!node->is_boolean()) return PROXYD_ETYPE;
    *out = node->as_boolean()->get();
    return PROXYD_OK;
}

inline size_t config_size(const proxyd_config_node *handle) {
    const toml::node *node = node_of(handle);
    if (node && node->is_array()) return node->as_array()->size();
    if (node && node->is_table()) return node->as_table()->size();
    return 0;
}

inline const proxyd_config_node *config_at(const proxyd_config_node *array, size_t index) {
    const toml::node *node = node_of(array);
    if (!node || !node->is_array()) return nullptr;
    return handle_of(node->as_array()->get(index));
}

// toml++ keeps table entries sorted by key, as the core does, so entries come in key order.
inline const proxyd_config_node *config_entry(const proxyd_config_node *table, size_t index, proxyd_str *key) {
    const toml::node *node = node_of(table);
    if (!node || !node->is_table() || index >= node->as_table()->size()) return nullptr;
    auto it = node->as_table()->begin();
    std::advance(it, static_cast<std::ptrdiff_t>(index));
    // A view of the key's own std::string, so it is NUL-terminated as the ABI promises.
    std::string_view name = it->first.str();
    *key = proxyd_str{name.data(), name.size()};
    return handle_of(&it->second);
}

inline void config_error(proxyd_load_context *ctx, const proxyd_config_node *node, const char *message) {
    host_of(ctx).report(node_of(node), message ? message : "configuration error");
}

inline int config_resolve_path(proxyd_load_context *ctx, proxyd_str path, char *buf, size_t buf_size) {
    std::string resolved = host_of(ctx).resolve(sv(path));
    if (!buf || resolved.size() + 1 > buf_size) return PROXYD_EINVAL;
    std::memcpy(buf, resolved.c_str(), resolved.size() + 1);
    return PROXYD_OK;
}

inline const proxyd_config_node *config_load_file(proxyd_load_context *ctx, proxyd_str path,
                                                  const proxyd_config_node *node) {
    return handle_of(host_of(ctx).load_file(sv(path), node_of(node)));
}

inline int resolve_target(proxyd_load_context *ctx, proxyd_target_kind kind, proxyd_str name,
                          const proxyd_config_node *node, uint32_t *target_id) {
    FakeHost &host = host_of(ctx);
    const auto &names = kind == PROXYD_TARGET_UPSTREAM ? host.upstreams : host.handlers;
    auto it = names.find(sv(name));
    if (it == names.end()) {
        host.report(node_of(node), std::string(kind == PROXYD_TARGET_UPSTREAM ? "unknown upstream '"
                                                                              : "unknown handler '") +
                                       std::string(sv(name)) + "'");
        return PROXYD_ENOENT;
    }
    *target_id = it->second;
    return PROXYD_OK;
}

inline int request_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str *value) {
    for (const auto &[n, v] : request_of(request).headers())
        if (same_name(n, sv(name))) {
            *value = proxyd_str{v.data(), v.size()};
            return PROXYD_OK;
        }
    return PROXYD_ENOENT;
}

inline size_t request_header_count(const proxyd_request_handle *request) {
    return request_of(request).headers().size();
}

inline int request_header_at(const proxyd_request_handle *request, size_t index, proxyd_str *name,
                             proxyd_str *value) {
    const auto &headers = request_of(request).headers();
    if (index >= headers.size()) return PROXYD_ENOENT;
    *name = proxyd_str{headers[index].first.data(), headers[index].first.size()};
    *value = proxyd_str{headers[index].second.data(), headers[index].second.size()};
    return PROXYD_OK;
}

inline void *request_alloc(const proxyd_request_handle *request, size_t size) {
    return request_of(request).alloc(size);
}

// A response call after the response ended (finished or cancelled) is misuse, whatever it is.
inline bool ended(FakeResponse &r, const char *call) {
    if (r.cancelled) r.misuse.push_back(std::string(call) + " after cancelled");
    return r.cancelled;
}

inline int response_status(proxyd_response_handle *handle, int status) {
    FakeResponse &r = response_of(handle);
    if (ended(r, "status")) return PROXYD_ESTATE;
    if (r.status != 0 || r.finished) return r.misuse.push_back("status twice or after finish"), PROXYD_ESTATE;
    r.status = status;
    return PROXYD_OK;
}

inline int response_header(proxyd_response_handle *handle, proxyd_str name, proxyd_str value) {
    FakeResponse &r = response_of(handle);
    if (ended(r, "header")) return PROXYD_ESTATE;
    if (r.status == 0 || !r.parts.empty() || r.finished)
        return r.misuse.push_back("header out of order"), PROXYD_ESTATE;
    r.headers.emplace_back(std::string(sv(name)), std::string(sv(value)));
    return PROXYD_OK;
}

inline int response_body(proxyd_response_handle *handle, const void *data, size_t len) {
    FakeResponse &r = response_of(handle);
    if (ended(r, "body")) return PROXYD_ESTATE;
    if (r.status == 0 || r.finished) return r.misuse.push_back("body out of order"), PROXYD_ESTATE;
    r.body.append(static_cast<const char *>(data), len);
    if (len > 0) r.parts.push_back({std::string(static_cast<const char *>(data), len)});
    return PROXYD_OK;
}

inline int response_file(proxyd_response_handle *handle, int fd, uint64_t offset, uint64_t length) {
    FakeResponse &r = response_of(handle);
    if (ended(r, "file") || r.status == 0 || r.finished) {
        // Owned from this call on, even on failure; one an earlier range names closes with it.
        if (std::none_of(r.parts.begin(), r.parts.end(), [fd](const auto &part) { return part.fd == fd; }))
            ::close(fd);
        if (!r.cancelled) r.misuse.push_back("file out of order");
        return PROXYD_ESTATE;
    }
    if (r.file_fd < 0) {
        r.file_fd = fd;
        r.file_offset = offset;
        r.file_length = length;
    }
    r.parts.push_back({{}, fd, offset, length});
    return PROXYD_OK;
}

inline int response_finish(proxyd_response_handle *handle) {
    FakeResponse &r = response_of(handle);
    if (ended(r, "finish")) return PROXYD_ESTATE;
    if (r.status == 0 || r.finished) return r.misuse.push_back("finish out of order"), PROXYD_ESTATE;
    r.finished = true;
    return PROXYD_OK;
}

inline void log(const proxyd_host *, proxyd_log_level level, proxyd_str plugin, proxyd_str message) {
    std::lock_guard<std::mutex> lock(FakeHost::logs_mutex());
    FakeHost::logs().push_back(std::string(sv(plugin)) + ": " + std::string(sv(message)));
    FakeHost::log_levels().push_back(level);
}

inline int config_plugin_name(proxyd_load_context *ctx, proxyd_str *name) {
    FakeHost &host = host_of(ctx);
    if (!host.plugin_name.empty())
        *name = proxyd_str{host.plugin_name.c_str(), host.plugin_name.size()};
    else if (host.creating() && host.creating()->name)
        *name = proxyd_str{host.creating()->name, std::strlen(host.creating()->name)};
    else
        return PROXYD_ESTATE;
    return PROXYD_OK;
}

inline bool creating_balancer(FakeHost &host) {
    return host.creating() && host.creating()->kind == PROXYD_KIND_BALANCING;
}

inline size_t config_peer_count(proxyd_load_context *ctx) {
    FakeHost &host = host_of(ctx);
    return creating_balancer(host) ? host.peers.size() : 0;
}

inline int config_peer_at(proxyd_load_context *ctx, size_t index, proxyd_str *address, uint32_t *weight) {
    FakeHost &host = host_of(ctx);
    if (!creating_balancer(host)) return PROXYD_ESTATE;
    if (index >= host.peers.size()) return PROXYD_ENOENT;
    const FakePeer &peer = host.peers[index];
    if (address) *address = proxyd_str{peer.address.c_str(), peer.address.size()};
    if (weight) *weight = peer.weight;
    return PROXYD_OK;
}

inline int request_body(const proxyd_request_handle *handle, proxyd_str *body) {
    FakeRequest &request = request_of(handle);
    if (!request.body || !request.body_visible) return *body = proxyd_str{nullptr, 0}, PROXYD_ENOENT;
    *body = proxyd_str{request.body->data(), request.body->size()};
    return PROXYD_OK;
}

inline int request_tls(const proxyd_request_handle *handle, proxyd_tls_info *info) {
    if (!info || info->struct_size < sizeof(proxyd_tls_info)) return PROXYD_EINVAL;
    FakeRequest &request = request_of(handle);
    if (!request.tls) return PROXYD_ENOENT;
    uint32_t size = info->struct_size;
    *info = *request.tls;
    info->struct_size = size;
    return PROXYD_OK;
}

inline int worker_post(const proxyd_worker_handle *worker, void (*fn)(void *arg), void *arg) {
    if (!worker || !fn) return PROXYD_EINVAL;
    return const_cast<FakeWorker *>(reinterpret_cast<const FakeWorker *>(worker))->post(fn, arg);
}

// -- 1.3 --

inline bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!(std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr) || c == 0) return false;
    return true;
}

inline bool is_field_value(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

inline bool is_framing(std::string_view name) {
    return same_name(name, "Content-Length") || same_name(name, "Transfer-Encoding");
}

inline bool core_response_field(std::string_view name) {
    return is_framing(name) || same_name(name, "Connection") || same_name(name, "Date");
}

inline bool editable(FakeRequest &request, const char *call) {
    if (request.editable) return true;
    request.misuse.push_back(std::string(call) + " outside request_head");
    return false;
}

inline int request_set_header(const proxyd_request_handle *handle, proxyd_str name, proxyd_str value) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_set_header")) return PROXYD_ESTATE;
    return request.set_header(sv(name), sv(value), false);
}

inline int request_add_header(const proxyd_request_handle *handle, proxyd_str name, proxyd_str value) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_add_header")) return PROXYD_ESTATE;
    return request.set_header(sv(name), sv(value), true);
}

inline int request_remove_header(const proxyd_request_handle *handle, proxyd_str name) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_remove_header")) return PROXYD_ESTATE;
    return request.remove_header(sv(name));
}

inline int request_set_method(const proxyd_request_handle *handle, proxyd_str method) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_set_method")) return PROXYD_ESTATE;
    return request.set_method(sv(method));
}

inline int request_set_path(const proxyd_request_handle *handle, proxyd_str path) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_set_path")) return PROXYD_ESTATE;
    return request.set_path(sv(path));
}

inline int request_route_to(const proxyd_request_handle *handle, uint32_t target) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_route_to")) return PROXYD_ESTATE;
    request.routed_to = target;
    return PROXYD_OK;
}

inline int request_respond(const proxyd_request_handle *handle, int status, const proxyd_header *headers,
                           size_t header_count, proxyd_str body) {
    FakeRequest &request = request_of(handle);
    if (!editable(request, "request_respond")) return PROXYD_ESTATE;
    if (request.responded) return request.misuse.push_back("request_respond twice"), PROXYD_ESTATE;
    if (status < 200 || status > 599) return PROXYD_EINVAL;
    FakeRequest::Responded answer;
    answer.status = status;
    for (size_t i = 0; i < header_count; ++i) {
        if (!is_token(sv(headers[i].name)) || !is_field_value(sv(headers[i].value)) ||
            core_response_field(sv(headers[i].name)))
            return PROXYD_EINVAL;
        answer.headers.emplace_back(std::string(sv(headers[i].name)), std::string(sv(headers[i].value)));
    }
    answer.body = std::string(sv(body));
    request.responded = std::move(answer);
    return PROXYD_OK;
}

inline FakeResponseHead *response_head_of(const proxyd_request_handle *handle, const char *call) {
    FakeRequest &request = request_of(handle);
    if (!request.response_head) request.misuse.push_back(std::string(call) + " outside response_head");
    return request.response_head;
}

inline int response_head_status(const proxyd_request_handle *handle) {
    FakeResponseHead *head = response_head_of(handle, "response_head_status");
    return head ? head->status : PROXYD_ESTATE;
}

inline int response_head_set_status(const proxyd_request_handle *handle, int status) {
    FakeResponseHead *head = response_head_of(handle, "response_head_set_status");
    if (!head) return PROXYD_ESTATE;
    auto fixed = [](int s) { return s < 200 || s == 204 || s == 304; };
    if (status > 599 || fixed(status) || fixed(head->status)) return PROXYD_EINVAL;
    head->status = status;
    return PROXYD_OK;
}

inline int response_head_header(const proxyd_request_handle *handle, proxyd_str name, proxyd_str *value) {
    FakeResponseHead *head = response_head_of(handle, "response_head_header");
    if (!head) return PROXYD_ESTATE;
    for (const auto &[n, v] : head->headers)
        if (same_name(n, sv(name))) return *value = proxyd_str{v.data(), v.size()}, PROXYD_OK;
    return PROXYD_ENOENT;
}

inline size_t response_head_header_count(const proxyd_request_handle *handle) {
    FakeResponseHead *head = response_head_of(handle, "response_head_header_count");
    return head ? head->headers.size() : 0;
}

inline int response_head_header_at(const proxyd_request_handle *handle, size_t index, proxyd_str *name,
                                   proxyd_str *value) {
    FakeResponseHead *head = response_head_of(handle, "response_head_header_at");
    if (!head) return PROXYD_ESTATE;
    if (index >= head->headers.size()) return PROXYD_ENOENT;
    const auto &[n, v] = head->headers[index];
    *name = proxyd_str{n.data(), n.size()};
    *value = proxyd_str{v.data(), v.size()};
    return PROXYD_OK;
}

inline int edit_response_field(FakeResponseHead &head, std::string_view name, std::string_view value,
                               bool add) {
    if (!is_token(name) || !is_field_value(value) || core_response_field(name)) return PROXYD_EINVAL;
    if (!add) {
        auto first = head.headers.end();
        for (auto it = head.headers.begin(); it != head.headers.end();) {
            if (!same_name(it->first, name)) {
                ++it;
            } else if (first == head.headers.end()) {
                it->first = std::string(name);
                it->second = std::string(value);
                first = it++;
            } else {
                it = head.headers.erase(it);
            }
        }
        if (first != head.headers.end()) return PROXYD_OK;
    }
    head.headers.emplace_back(std::string(name), std::string(value));
    return PROXYD_OK;
}

inline int response_head_set_header(const proxyd_request_handle *handle, proxyd_str name, proxyd_str value) {
    FakeResponseHead *head = response_head_of(handle, "response_head_set_header");
    return head ? edit_response_field(*head, sv(name), sv(value), false) : PROXYD_ESTATE;
}

inline int response_head_add_header(const proxyd_request_handle *handle, proxyd_str name, proxyd_str value) {
    FakeResponseHead *head = response_head_of(handle, "response_head_add_header");
    return head ? edit_response_field(*head, sv(name), sv(value), true) : PROXYD_ESTATE;
}

inline int response_head_remove_header(const proxyd_request_handle *handle, proxyd_str name) {
    FakeResponseHead *head = response_head_of(handle, "response_head_remove_header");
    if (!head) return PROXYD_ESTATE;
    if (core_response_field(sv(name))) return PROXYD_EINVAL;
    size_t before = head->headers.size();
    std::erase_if(head->headers, [&](const auto &field) { return same_name(field.first, sv(name)); });
    return head->headers.size() == before ? PROXYD_ENOENT : PROXYD_OK;
}

inline int request_state_set(const proxyd_request_handle *handle, const void *key, void *state,
                             void (*free_state)(void *)) {
    return request_of(handle).set_state(key, state, free_state);
}

inline void *request_state_get(const proxyd_request_handle *handle, const void *key) {
    return request_of(handle).state(key);
}

inline const proxyd_worker_handle *request_worker(const proxyd_request_handle *handle) {
    FakeWorker *worker = request_of(handle).worker;
    return worker ? worker->handle() : nullptr;
}

inline FakeWorker &worker_of(const proxyd_worker_handle *handle) {
    return *const_cast<FakeWorker *>(reinterpret_cast<const FakeWorker *>(handle));
}

inline int timer_start(const proxyd_worker_handle *worker, uint64_t delay_ms, void (*fn)(void *), void *arg,
                       proxyd_timer **timer) {
    if (!worker || !fn || !timer) return PROXYD_EINVAL;
    return worker_of(worker).start_timer(delay_ms, fn, arg, timer);
}

// The fake's proxyd_timer is a node of its worker's timer list, which starts with its owner.
struct TimerNode {
    FakeWorker *owner;
};

inline void timer_cancel(proxyd_timer *timer) {
    if (timer) reinterpret_cast<TimerNode *>(timer)->owner->cancel_timer(timer);
}

inline int queue_work(const proxyd_worker_handle *worker, void (*work)(void *), void (*done)(void *),
                      void *arg) {
    if (!worker || !work || !done) return PROXYD_EINVAL;
    return worker_of(worker).queue_work(work, done, arg);
}

inline int subrequest_start(const proxyd_request_handle *handle, const proxyd_subrequest_spec *spec,
                            void (*done)(void *, const proxyd_subrequest_response *), void *arg,
                            proxyd_subrequest **subrequest) {
    if (!spec || !done || !subrequest) return PROXYD_EINVAL;
    FakeRequest &request = request_of(handle);
    auto s = std::make_unique<FakeRequest::Subrequest>();
    s->upstream = spec->upstream;
    s->method = spec->method.len ? std::string(spec->method.ptr, spec->method.len) : "GET";
    s->path = std::string(spec->path.ptr, spec->path.len);
    for (size_t i = 0; i < spec->header_count; ++i)
        s->headers.emplace_back(std::string(spec->headers[i].name.ptr, spec->headers[i].name.len),
                                std::string(spec->headers[i].value.ptr, spec->headers[i].value.len));
    s->done = done;
    s->arg = arg;
    *subrequest = reinterpret_cast<proxyd_subrequest *>(s.get());
    request.subrequests.push_back(std::move(s));
    return PROXYD_OK;
}

inline int subrequest_cancel(const proxyd_request_handle *handle, proxyd_subrequest *subrequest) {
    for (auto &s : request_of(handle).subrequests)
        if (reinterpret_cast<proxyd_subrequest *>(s.get()) == subrequest && s->running) {
            s->running = false;
            return PROXYD_OK;
        }
    return PROXYD_ENOENT;
}

inline int filter_resume(const proxyd_request_handle *handle, int status) {
    FakeRequest &request = request_of(handle);
    if (!request.pending) {
        request.misuse.push_back("filter_resume when not pending");
        return PROXYD_ESTATE;
    }
    if (status != PROXYD_FILTER_CONTINUE && status != PROXYD_FILTER_RESPONDED) return PROXYD_EINVAL;
    request.pending = false;
    request.editable = false;
    request.resumed = status;
    return PROXYD_OK;
}

inline int pick_in_flight(const proxyd_request_handle *handle, uint32_t *in_flight, size_t peer_count) {
    const FakeRequest &request = request_of(handle);
    if (!request.in_flight) return PROXYD_ESTATE;
    if (!in_flight || peer_count != request.in_flight->size()) return PROXYD_EINVAL;
    for (size_t i = 0; i < peer_count; ++i)
        in_flight[i] = (*request.in_flight)[i];
    return PROXYD_OK;
}

inline const proxyd_host kHostTable = {
    .struct_size = sizeof(proxyd_host),
    .config_get = config_get,
    .config_type = config_type,
    .config_string = config_string,
    .config_integer = config_integer,
    .config_float = config_float,
    .config_boolean = config_boolean,
    .config_size = config_size,
    .config_at = config_at,
    .config_entry = config_entry,
    .config_error = config_error,
    .config_resolve_path = config_resolve_path,
    .config_load_file = config_load_file,
    .resolve_target = resolve_target,
    .request_header = request_header,
    .request_header_count = request_header_count,
    .request_header_at = request_header_at,
    .request_alloc = request_alloc,
    .response_status = response_status,
    .response_header = response_header,
    .response_body = response_body,
    .response_file = response_file,
    .response_finish = response_finish,
    .log = log,
    .config_plugin_name = config_plugin_name,
    .config_peer_count = config_peer_count,
    .config_peer_at = config_peer_at,
    .request_body = request_body,
    .worker_post = worker_post,
    .request_tls = request_tls,
    .request_set_header = request_set_header,
    .request_add_header = request_add_header,
    .request_remove_header = request_remove_header,
    .request_set_method = request_set_method,
    .request_set_path = request_set_path,
    .request_route_to = request_route_to,
    .request_respond = request_respond,
    .response_head_status = response_head_status,
    .response_head_set_status = response_head_set_status,
    .response_head_header = response_head_header,
    .response_head_header_count = response_head_header_count,
    .response_head_header_at = response_head_header_at,
    .response_head_set_header = response_head_set_header,
    .response_head_add_header = response_head_add_header,
    .response_head_remove_header = response_head_remove_header,
    .request_state_set = request_state_set,
    .request_state_get = request_state_get,
    .request_worker = request_worker,
    .timer_start = timer_start,
    .timer_cancel = timer_cancel,
    .queue_work = queue_work,
    .filter_resume = filter_resume,
    .subrequest_start = subrequest_start,
    .subrequest_cancel = subrequest_cancel,
    .pick_in_flight = pick_in_flight,
};

// The key under which value sits, searching tables and arrays below node.
inline const toml::key *find_key(const toml::node &node, const toml::node *value) {
    if (const toml::table *table = node.as_table()) {
        for (const auto &[key, child] : *table) {
            if (&child == value) return &key;
            if (const toml::key *found = find_key(child, value)) return found;
        }
    } else if (const toml::array *array = node.as_array()) {
        for (const toml::node &element : *array)
            if (const toml::key *found = find_key(element, value)) return found;
    }
    return nullptr;
}

} // namespace detail

inline PluginModule::PluginModule(const std::string &path) {
    if (path.find('/') != std::string::npos) {
        path_ = path;
    } else {
#ifdef PROXYD_TESTING_PLUGIN_DIR
        path_ = std::string(PROXYD_TESTING_PLUGIN_DIR) + "/" + path;
#else
        path_ = "./" + path;
#endif
    }
    handle_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw std::runtime_error("dlopen " + path_ + ": " + dlerror());
    void *entry = dlsym(handle_, PROXYD_PLUGIN_ENTRY_NAME);
    if (!entry) {
        dlclose(handle_);
        throw std::runtime_error(path_ + ": no " PROXYD_PLUGIN_ENTRY_NAME);
    }
    descriptor_ = reinterpret_cast<proxyd_plugin_entry_fn>(entry)();
    if (!descriptor_) {
        dlclose(handle_);
        throw std::runtime_error(path_ + ": " PROXYD_PLUGIN_ENTRY_NAME " returned NULL");
    }
}

inline PluginModule::~PluginModule() {
    if (handle_) dlclose(handle_);
}

inline FakeHost::~FakeHost() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
        it->descriptor->destroy_instance(it->instance);
}

inline const proxyd_host *FakeHost::host() const { return &detail::kHostTable; }

inline void *FakeHost::create_at(const PluginModule &module, const toml::node &block) {
    block_ = &block;
    creating_ = &module.descriptor();
    void *instance = nullptr;
    int rc = module.descriptor().create_instance(&detail::kHostTable, detail::context_of(*this),
                                                 detail::handle_of(&block), &instance);
    creating_ = nullptr;
    if (rc != PROXYD_OK) return nullptr;
    created_.push_back({&module.descriptor(), instance});
    return instance;
}

inline void *FakeHost::create(const PluginModule &module, std::string_view toml_text) {
    try {
        documents_.push_back(toml::parse(toml_text, std::string("plugin.toml")));
    } catch (const toml::parse_error &e) {
        throw std::runtime_error(std::string("test config does not parse: ") + std::string(e.description()));
    }
    return create_at(module, documents_.back());
}

inline void *FakeHost::create_from_file(const PluginModule &module, const std::string &file,
                                        std::string_view toml_path) {
    size_t slash = file.rfind('/');
    return create_from_document(module, toml::parse_file(file), slash == std::string::npos ? "." : file.substr(0, slash),
                                toml_path);
}

inline void *FakeHost::create_from_document(const PluginModule &module, toml::table document,
                                            const std::string &config_folder, std::string_view toml_path) {
    documents_.push_back(std::move(document));
    const toml::node *block = documents_.back().at_path(toml_path).node();
    if (!block) throw std::runtime_error(config_folder + ": no table at " + std::string(toml_path));
    config_dir = config_folder;
    return create_at(module, *block);
}

inline std::vector<proxyd_peer> FakeHost::peer_array() const {
    std::vector<proxyd_peer> out;
    for (const FakePeer &peer : peers)
        out.push_back(proxyd_peer{{peer.address.data(), peer.address.size()}, peer.weight, peer.down});
    return out;
}

inline std::string FakeHost::error_text() const {
    std::string text;
    for (const ConfigError &e : errors_)
        text += e.file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message + "\n";
    return text;
}

inline std::vector<std::string> &FakeHost::logs() {
    static std::vector<std::string> lines;
    return lines;
}

inline std::vector<proxyd_log_level> &FakeHost::log_levels() {
    static std::vector<proxyd_log_level> levels;
    return levels;
}

inline void FakeHost::clear_logs() {
    std::lock_guard<std::mutex> lock(logs_mutex());
    logs().clear();
    log_levels().clear();
}

inline std::mutex &FakeHost::logs_mutex() {
    static std::mutex mutex;
    return mutex;
}

inline const toml::key *FakeHost::key_of(const toml::node *value) const {
    for (const toml::table &document : documents_)
        if (const toml::key *key = detail::find_key(document, value)) return key;
    return nullptr;
}

inline void FakeHost::report(const toml::node *node, const std::string &message) {
    ConfigError error{"plugin.toml", 0, 0, message};
    if (!node) node = block_;
    const toml::source_region *where = node ? &node->source() : nullptr;
    if (node && std::string_view(message).starts_with("unknown key"))
        if (const toml::key *key = key_of(node)) where = &key->source();
    if (where) {
        if (where->path) error.file = *where->path;
        error.line = where->begin.line;
        error.column = where->begin.column;
    }
    errors_.push_back(std::move(error));
}

inline std::string FakeHost::resolve(std::string_view path) const {
    if (path.starts_with('/')) return std::string(path);
    return config_dir + "/" + std::string(path);
}

inline const toml::table *FakeHost::load_file(std::string_view path, const toml::node *at) {
    std::string resolved = resolve(path);
    if (::access(resolved.c_str(), R_OK) != 0) {
        report(at, "cannot read '" + resolved + "': " + std::strerror(errno));
        return nullptr;
    }
    try {
        documents_.push_back(toml::parse_file(resolved));
        return &documents_.back();
    } catch (const toml::parse_error &e) {
        errors_.push_back({resolved, e.source().begin.line, e.source().begin.column, std::string(e.description())});
        return nullptr;
    }
}

inline FakeWorker::FakeWorker(const proxyd_plugin_descriptor &descriptor, void *instance, uint32_t index,
                              uint32_t count)
    : descriptor_(descriptor), instance_(instance) {
    int rc = PROXYD_OK;
    if (PROXYD_TESTING_HAS(descriptor_, proxyd_plugin_descriptor, create_worker_ex)) {
        proxyd_worker_info info{sizeof(proxyd_worker_info), index, count, handle()};
        rc = descriptor_.create_worker_ex(instance_, &info, &worker_);
    } else if (descriptor_.create_worker) {
        rc = descriptor_.create_worker(instance_, &worker_);
    }
    if (rc != PROXYD_OK) throw std::runtime_error("create_worker failed: " + std::to_string(rc));
}

inline FakeWorker::~FakeWorker() {
    run_posted();
    run_work(); // done runs before destroy_worker, as plugin.h promises
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    if (descriptor_.destroy_worker) descriptor_.destroy_worker(instance_, worker_);
}

inline int FakeWorker::post(void (*fn)(void *), void *arg) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return PROXYD_ESTATE;
    queue_.emplace_back(fn, arg);
    queued_.notify_all();
    return PROXYD_OK;
}

inline size_t FakeWorker::run_posted() {
    size_t ran = 0;
    for (;;) {
        std::pair<void (*)(void *), void *> next;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (queue_.empty()) return ran;
            next = queue_.front();
            queue_.pop_front();
        }
        next.first(next.second); // outside the lock: a callback may post again
        ++ran;
    }
}

inline int FakeWorker::start_timer(uint64_t delay_ms, void (*fn)(void *), void *arg, proxyd_timer **timer) {
    if (stopping_) return PROXYD_ESTATE;
    timers_.push_back(Timer{this, now_ms_ + delay_ms, timer_sequence_++, fn, arg});
    *timer = reinterpret_cast<proxyd_timer *>(&timers_.back());
    return PROXYD_OK;
}

inline void FakeWorker::cancel_timer(proxyd_timer *timer) {
    timers_.remove_if(
        [timer](const Timer &t) { return reinterpret_cast<const proxyd_timer *>(&t) == timer; });
}

inline size_t FakeWorker::advance(uint64_t ms) {
    uint64_t until = now_ms_ + ms;
    size_t fired = 0;
    for (;;) {
        auto next = timers_.end();
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
            if (it->due <= until && (next == timers_.end() || it->due < next->due ||
                                     (it->due == next->due && it->sequence < next->sequence)))
                next = it;
        if (next == timers_.end()) break;
        now_ms_ = std::max(now_ms_, next->due);
        Timer due = *next;
        timers_.erase(next); // gone before fn runs, as the core frees it then
        due.fn(due.arg);
        ++fired;
    }
    now_ms_ = until;
    return fired;
}

inline int FakeWorker::queue_work(void (*work)(void *), void (*done)(void *), void *arg) {
    if (stopping_) return PROXYD_ESTATE;
    jobs_.push_back(Job{work, done, arg});
    return PROXYD_OK;
}

inline size_t FakeWorker::run_work() {
    size_t ran = 0;
    while (!jobs_.empty()) {
        Job job = jobs_.front();
        jobs_.pop_front();
        job.work(job.arg);
        job.done(job.arg);
        ++ran;
    }
    return ran;
}

inline bool FakeWorker::wait_posted(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return queued_.wait_for(lock, timeout, [this] { return !queue_.empty(); });
}

inline size_t FakeWorker::posted() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
}

inline FakeRequest::FakeRequest(std::string method, std::string target,
                                std::vector<std::pair<std::string, std::string>> headers)
    : method_(std::move(method)), target_(std::move(target)), headers_(std::move(headers)) {
    size_t question = target_.find('?');
    path_ = target_.substr(0, question);
    if (question != std::string::npos) query_ = target_.substr(question + 1);
    for (const auto &[name, value] : headers_)
        if (detail::same_name(name, "Host")) {
            host_ = value;
            break;
        }
    auto str = [](const std::string &s) { return proxyd_str{s.data(), s.size()}; };
    raw_.struct_size = sizeof raw_;
    raw_.method = str(method_);
    raw_.target = str(target_);
    raw_.path = str(path_);
    raw_.query = str(query_);
    raw_.host = str(host_);
    raw_.http_major = 1;
    raw_.http_minor = 1;
    raw_.client_address = str(client_);
    raw_.handle = reinterpret_cast<const proxyd_request_handle *>(this);
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    raw_.received_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
    refresh();
}

inline FakeRequest::~FakeRequest() { end(); }

inline bool FakeRequest::answer_subrequest(size_t i, int status,
                                           std::vector<std::pair<std::string, std::string>> fields,
                                           std::string answer_body) {
    if (i >= subrequests.size() || !subrequests[i]->running) return false;
    Subrequest &s = *subrequests[i];
    s.running = false;
    std::vector<proxyd_header> headers;
    for (const auto &[name, value] : fields)
        headers.push_back(proxyd_header{{name.data(), name.size()}, {value.data(), value.size()}});
    proxyd_subrequest_response response{};
    response.struct_size = sizeof response;
    response.result = status ? PROXYD_SUBREQUEST_RESPONSE : PROXYD_SUBREQUEST_FAILED;
    response.status = status;
    response.headers = headers.data();
    response.header_count = headers.size();
    response.body = {answer_body.data(), answer_body.size()};
    s.done(s.arg, &response);
    return true;
}

inline void FakeRequest::end() {
    for (auto &s : subrequests)
        s->running = false; // the core cancels what the request still runs, without a call
    auto state = std::move(state_);
    state_.clear();
    for (auto &[key, value, free_state] : state)
        if (free_state) free_state(value);
}

inline void FakeRequest::refresh() {
    auto str = [](const std::string &s) { return proxyd_str{s.data(), s.size()}; };
    raw_.method = str(method_);
    raw_.target = str(target_);
    raw_.path = str(path_);
    raw_.query = str(query_);
    raw_.host = str(host_);
    raw_.client_address = str(client_);
    raw_.request_id = str(request_id_);
    raw_.scheme = str(scheme_);
    raw_.protocol = str(protocol_);
}

inline void FakeRequest::set_client_address(std::string address) {
    client_ = std::move(address);
    refresh();
}

inline void FakeRequest::set_request_id(std::string id) {
    request_id_ = std::move(id);
    refresh();
}

inline void FakeRequest::set_scheme(std::string scheme) {
    scheme_ = std::move(scheme);
    refresh();
}

inline void FakeRequest::set_protocol(std::string protocol) {
    protocol_ = std::move(protocol);
    // As the core fills the view: an HTTP/1.0 client's request follows 1.0's rules, a stream's 1.1's.
    raw_.http_minor = protocol_ == "HTTP/1.0" ? 0 : 1;
    refresh();
}

inline void FakeRequest::set_received_ns(uint64_t received_ns) { raw_.received_ns = received_ns; }

inline std::optional<std::string> FakeRequest::header(std::string_view name) const {
    for (const auto &[n, v] : headers_)
        if (detail::same_name(n, name)) return v;
    return std::nullopt;
}

inline size_t FakeRequest::header_count(std::string_view name) const {
    size_t count = 0;
    for (const auto &[n, v] : headers_)
        count += detail::same_name(n, name) ? 1 : 0;
    return count;
}

inline std::optional<std::string> FakeRequest::Responded::header(std::string_view name) const {
    for (const auto &[n, v] : headers)
        if (detail::same_name(n, name)) return v;
    return std::nullopt;
}

inline int FakeRequest::set_header(std::string_view name, std::string_view value, bool add) {
    if (!detail::is_token(name) || !detail::is_field_value(value)) return PROXYD_EINVAL;
    if (detail::same_name(name, "Host")) {
        if (add && header("Host")) return PROXYD_EINVAL; // a second Host would make the request invalid
        host_ = std::string(value);
    }
    if (detail::is_framing(name)) return PROXYD_EINVAL;
    if (!add) {
        auto first = headers_.end();
        for (auto it = headers_.begin(); it != headers_.end();) {
            if (!detail::same_name(it->first, name)) {
                ++it;
            } else if (first == headers_.end()) {
                it->first = std::string(name);
                it->second = std::string(value);
                first = it++;
            } else {
                it = headers_.erase(it);
            }
        }
        if (first != headers_.end()) return refresh(), PROXYD_OK;
    }
    headers_.emplace_back(std::string(name), std::string(value));
    refresh();
    return PROXYD_OK;
}

inline int FakeRequest::remove_header(std::string_view name) {
    if (detail::same_name(name, "Host") || detail::is_framing(name)) return PROXYD_EINVAL;
    size_t before = headers_.size();
    std::erase_if(headers_, [&](const auto &field) { return detail::same_name(field.first, name); });
    return headers_.size() == before ? PROXYD_ENOENT : PROXYD_OK;
}

inline int FakeRequest::set_method(std::string_view method) {
    if (!detail::is_token(method)) return PROXYD_EINVAL;
    method_ = std::string(method);
    refresh();
    return PROXYD_OK;
}

inline int FakeRequest::set_path(std::string_view path) {
    if (!path.starts_with('/') || !detail::is_field_value(path) || path.find(' ') != std::string_view::npos)
        return PROXYD_EINVAL;
    size_t question = path.find('?');
    path_ = std::string(path.substr(0, question));
    if (question != std::string_view::npos) query_ = std::string(path.substr(question + 1));
    target_ = query_.empty() ? path_ : path_ + "?" + query_;
    refresh();
    return PROXYD_OK;
}

inline int FakeRequest::set_state(const void *key, void *state, void (*free_state)(void *)) {
    for (auto &[k, value, free_old] : state_)
        if (k == key) {
            void *old = value;
            void (*free_it)(void *) = free_old;
            value = state;
            free_old = free_state;
            if (free_it && old != state) free_it(old);
            return PROXYD_OK;
        }
    state_.emplace_back(key, state, free_state);
    return PROXYD_OK;
}

inline void *FakeRequest::state(const void *key) const {
    for (const auto &[k, value, free_state] : state_)
        if (k == key) return value;
    return nullptr;
}

inline std::optional<std::string> FakeResponseHead::header(std::string_view name) const {
    for (const auto &[n, v] : headers)
        if (detail::same_name(n, name)) return v;
    return std::nullopt;
}

inline size_t FakeResponseHead::header_count(std::string_view name) const {
    size_t count = 0;
    for (const auto &[n, v] : headers)
        count += detail::same_name(n, name) ? 1 : 0;
    return count;
}

inline void FakeRequest::rewrite_path(std::string path) {
    path_ = std::move(path);
    raw_.path = proxyd_str{path_.data(), path_.size()};
}

inline void *FakeRequest::alloc(size_t size) {
    arena_.emplace_back(std::make_unique<char[]>(size ? size : 1), size);
    return arena_.back().first.get();
}

inline bool FakeRequest::owns(const char *p) const {
    for (const auto &[block, size] : arena_)
        if (p >= block.get() && p < block.get() + size) return true;
    return false;
}

inline FakeResponse::~FakeResponse() {
    // Each descriptor once: several ranges may name the same one (plugin.h, 1.5).
    for (size_t i = 0; i < parts.size(); ++i) {
        bool named_later = std::any_of(parts.begin() + static_cast<std::ptrdiff_t>(i) + 1, parts.end(),
                                       [&](const BodyPart &later) { return later.fd == parts[i].fd; });
        if (parts[i].fd >= 0 && !named_later) ::close(parts[i].fd);
    }
}

inline std::optional<std::string> FakeResponse::header(std::string_view name) const {
    for (const auto &[n, v] : headers)
        if (detail::same_name(n, name)) return v;
    return std::nullopt;
}

inline size_t FakeResponse::header_count(std::string_view name) const {
    size_t count = 0;
    for (const auto &[n, v] : headers)
        count += detail::same_name(n, name) ? 1 : 0;
    return count;
}

inline std::string FakeResponse::file_content() const {
    std::string content(file_length, '\0');
    ssize_t n = ::pread(file_fd, content.data(), content.size(), static_cast<off_t>(file_offset));
    content.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return content;
}

inline std::string FakeResponse::content() const {
    std::string out;
    for (const BodyPart &part : parts) {
        if (part.fd < 0) {
            out += part.bytes;
            continue;
        }
        std::string range(part.length, '\0');
        ssize_t n = ::pread(part.fd, range.data(), range.size(), static_cast<off_t>(part.offset));
        out.append(range, 0, n > 0 ? static_cast<size_t>(n) : 0);
    }
    return out;
}

namespace detail {

inline int run_handle(const PluginModule &module, void *instance, void *worker, FakeRequest &request,
                      FakeResponse &response) {
    const proxyd_content_hooks &hooks = *module.descriptor().content;
    uint64_t max_body = hooks.struct_size >= offsetof(proxyd_content_hooks, max_body) + sizeof hooks.max_body
                            ? hooks.max_body
                            : 0;
    request.body_visible = max_body != 0;
    if (max_body != 0 && request.body && request.body->size() > max_body) {
        response.status = 413;
        response.finished = true;
        return PROXYD_OK;
    }
    return hooks.handle(instance, worker, request.raw(), response.handle());
}

} // namespace detail

inline int handle(const PluginModule &module, void *instance, FakeRequest &request, FakeResponse &response) {
    return detail::run_handle(module, instance, nullptr, request, response);
}

inline int handle(const PluginModule &module, void *instance, const FakeWorker &worker, FakeRequest &request,
                  FakeResponse &response) {
    return detail::run_handle(module, instance, worker.get(), request, response);
}

inline bool cancel(const PluginModule &module, void *instance, void *worker, FakeResponse &response) {
    const proxyd_content_hooks &hooks = *module.descriptor().content;
    bool has = PROXYD_TESTING_HAS(hooks, proxyd_content_hooks, cancelled);
    response.cancelled = true; // before the hook: a response_* call even from inside it is misuse
    if (has) hooks.cancelled(instance, worker, response.handle());
    return has;
}

inline bool attempt_done(const PluginModule &module, void *instance, void *worker, size_t peer, proxyd_outcome outcome,
                         int status, uint64_t duration_ns) {
    const proxyd_balancing_hooks &hooks = *module.descriptor().balancing;
    if (!PROXYD_TESTING_HAS(hooks, proxyd_balancing_hooks, attempt_done)) return false;
    proxyd_attempt attempt{sizeof(proxyd_attempt), outcome, status, duration_ns};
    hooks.attempt_done(instance, worker, peer, &attempt);
    return true;
}

// -- 1.3 filters: the hooks run as the core runs them. A null hook counts as CONTINUE / nothing.

// request_head: the request is editable while the hook runs, and stays so when it returns
// PROXYD_FILTER_PENDING (request.pending) until filter_resume or filter_cancel. request_worker
// returns worker's handle.
inline int filter_request_head(const PluginModule &module, void *instance, FakeWorker &worker,
                               FakeRequest &request) {
    const proxyd_filter_hooks &hooks = *module.descriptor().filter;
    request.worker = &worker;
    if (!hooks.request_head) return PROXYD_FILTER_CONTINUE;
    request.editable = true;
    int rc = hooks.request_head(instance, worker.get(), request.raw());
    request.pending = rc == PROXYD_FILTER_PENDING;
    request.editable = request.pending;
    if (rc == PROXYD_FILTER_RESPONDED && !request.responded)
        request.misuse.push_back("RESPONDED without respond");
    return rc;
}

// response_head, over head (which the test then checks).
inline void filter_response_head(const PluginModule &module, void *instance, FakeWorker &worker,
                                 FakeRequest &request, FakeResponseHead &head) {
    const proxyd_filter_hooks &hooks = *module.descriptor().filter;
    request.worker = &worker;
    if (!hooks.response_head) return;
    request.response_head = &head;
    hooks.response_head(instance, worker.get(), request.raw());
    request.response_head = nullptr;
}

inline void filter_log(const PluginModule &module, void *instance, FakeWorker &worker, FakeRequest &request,
                       const proxyd_exchange_summary &summary) {
    const proxyd_filter_hooks &hooks = *module.descriptor().filter;
    request.worker = &worker;
    if (hooks.log) hooks.log(instance, worker.get(), request.raw(), &summary);
}

// The client left while request_head was pending: calls cancelled (once) and ends the pending
// state. Returns whether the request was pending and the plugin had the hook.
inline bool filter_cancel(const PluginModule &module, void *instance, FakeWorker &worker,
                          FakeRequest &request) {
    const proxyd_filter_hooks &hooks = *module.descriptor().filter;
    if (!request.pending) return false;
    request.pending = false;
    request.editable = false;
    request.cancelled = true;
    if (!hooks.cancelled) return false;
    hooks.cancelled(instance, worker.get(), request.raw());
    return true;
}

} // namespace proxyd::testing

#endif // PROXYD_TESTING_FAKE_HOST_HPP
