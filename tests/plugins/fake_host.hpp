// A stand-in for the proxyd core, enough to drive a plugin .so through its C ABI in tests: config
// nodes backed by toml++, recorded config errors, fake requests with an arena, and responses that
// record what the plugin sent.
#ifndef PROXYD_TESTS_PLUGINS_FAKE_HOST_HPP
#define PROXYD_TESTS_PLUGINS_FAKE_HOST_HPP

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <proxyd/plugin.h>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <utility>
#include <vector>

namespace proxyd::test {

// A loaded plugin .so from the build's plugin folder, unloaded on destruction.
class PluginModule {
  public:
    explicit PluginModule(const std::string &file_name); // e.g. "routing_prefix.so"
    ~PluginModule();
    PluginModule(const PluginModule &) = delete;
    PluginModule &operator=(const PluginModule &) = delete;

    const proxyd_plugin_descriptor &descriptor() const { return *descriptor_; }

  private:
    void *handle_ = nullptr;
    const proxyd_plugin_descriptor *descriptor_ = nullptr;
};

struct ConfigError {
    std::string file; // "plugin.toml" for the block itself
    int64_t line = 0;
    int64_t column = 0;
    std::string message;
};

class FakeHost {
  public:
    FakeHost();
    ~FakeHost();
    FakeHost(const FakeHost &) = delete;
    FakeHost &operator=(const FakeHost &) = delete;

    // Folder that relative config paths are taken from (the config file's folder in the core).
    std::string config_dir = "/";
    std::map<std::string, uint32_t, std::less<>> upstreams;
    std::map<std::string, uint32_t, std::less<>> handlers;

    const proxyd_host *host() const;

    // Creates an instance of module from toml_text (the plugin block). Returns nullptr when
    // create_instance failed; errors() says why. The instance is destroyed with the host.
    void *create(const PluginModule &module, std::string_view toml_text);
    // The same for the table at toml_path ("handlers.web1", "listeners[0].router") of a config
    // file; relative paths in it are then taken from that file's folder.
    void *create_from_file(const PluginModule &module, const std::string &file, std::string_view toml_path);
    // The same for a document already read (a config with its includes and defaults applied, as
    // the core's config_assembly gives it); relative paths are taken from config_folder.
    void *create_from_document(const PluginModule &module, toml::table document, const std::string &config_folder,
                               std::string_view toml_path);

    const std::vector<ConfigError> &errors() const { return errors_; }
    // Every error as "line:col: message", one per line, for assertions and failure output.
    std::string error_text() const;
    // Everything the plugins logged through the host, in order.
    static std::vector<std::string> &logs();

    // -- used by the host callbacks --
    void report(const toml::node *node, const std::string &message);
    const toml::table *load_file(std::string_view path, const toml::node *at);
    std::string resolve(std::string_view path) const;

  private:
    struct Created {
        const proxyd_plugin_descriptor *descriptor;
        void *instance;
    };
    std::unique_ptr<proxyd_load_context> context_;
    std::list<toml::table> documents_; // stable addresses: plugins hold nodes into them
    std::vector<ConfigError> errors_;
    std::vector<Created> created_;
};

// One worker's state for an instance, destroyed with this object.
class FakeWorker {
  public:
    FakeWorker(const proxyd_plugin_descriptor &descriptor, void *instance);
    ~FakeWorker();
    FakeWorker(const FakeWorker &) = delete;
    FakeWorker &operator=(const FakeWorker &) = delete;
    void *get() const { return worker_; }

  private:
    const proxyd_plugin_descriptor &descriptor_;
    void *instance_;
    void *worker_ = nullptr;
};

class FakeRequest {
  public:
    FakeRequest(std::string method, std::string target,
                std::vector<std::pair<std::string, std::string>> headers = {});
    ~FakeRequest();
    FakeRequest(const FakeRequest &) = delete;
    FakeRequest &operator=(const FakeRequest &) = delete;

    const proxyd_request *raw() const { return &raw_; }
    // What the core does after a routing plugin rewrote the path: target stays as sent.
    void rewrite_path(std::string path);
    // True when p points into memory this request allocated through request_alloc.
    bool owns(const char *p) const;

    // -- used by the host callbacks --
    void *alloc(size_t size);
    const std::vector<std::pair<std::string, std::string>> &headers() const { return headers_; }

  private:
    std::string method_, target_, path_, query_, host_ = "localhost", client_ = "127.0.0.1";
    std::vector<std::pair<std::string, std::string>> headers_;
    std::deque<std::pair<std::unique_ptr<char[]>, size_t>> arena_;
    std::unique_ptr<proxyd_request_handle> handle_;
    proxyd_request raw_{};
};

class FakeResponse {
  public:
    FakeResponse();
    ~FakeResponse();
    FakeResponse(const FakeResponse &) = delete;
    FakeResponse &operator=(const FakeResponse &) = delete;

    proxyd_response_handle *handle() { return handle_.get(); }

    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int file_fd = -1; // owned, closed by the destructor
    uint64_t file_offset = 0;
    uint64_t file_length = 0;
    bool finished = false;
    std::vector<std::string> misuse; // calls made out of the order plugin.h prescribes

    // The value of the first header named name (case-insensitive).
    std::optional<std::string> header(std::string_view name) const;
    // How many headers are named name (case-insensitive).
    size_t header_count(std::string_view name) const;
    // The file range the plugin handed over, read back.
    std::string file_content() const;

  private:
    std::unique_ptr<proxyd_response_handle> handle_;
};

// Runs a content plugin's handle hook.
int handle(const PluginModule &module, void *instance, FakeRequest &request, FakeResponse &response);

} // namespace proxyd::test

#endif
