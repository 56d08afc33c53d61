#include "fake_host.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <stdexcept>
#include <unistd.h>

// The opaque ABI types, as this fake core defines them.
struct proxyd_load_context {
    proxyd::test::FakeHost *host;
};
struct proxyd_request_handle {
    proxyd::test::FakeRequest *request;
};
struct proxyd_response_handle {
    proxyd::test::FakeResponse *response;
};

namespace proxyd::test {
namespace {

const toml::node *node_of(const proxyd_config_node *node) {
    return reinterpret_cast<const toml::node *>(node);
}
const proxyd_config_node *handle_of(const toml::node *node) {
    return reinterpret_cast<const proxyd_config_node *>(node);
}

bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

const proxyd_config_node *config_get(const proxyd_config_node *table, const char *key) {
    const toml::node *node = node_of(table);
    if (!node || !node->is_table()) return nullptr;
    return handle_of(node->as_table()->get(key));
}

proxyd_config_type config_type(const proxyd_config_node *handle) {
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

int config_string(const proxyd_config_node *handle, proxyd_str *out) {
    const toml::node *node = node_of(handle);
    if (!node || !node->is_string()) return PROXYD_ETYPE;
    const std::string &s = node->as_string()->get();
    *out = proxyd_str{s.c_str(), s.size()};
    return PROXYD_OK;
}

int config_integer(const proxyd_config_node *handle, int64_t *out) {
    const toml::node *node = node_of(handle);
    if (!node || !node->is_integer()) return PROXYD_ETYPE;
    *out = node->as_integer()->get();
    return PROXYD_OK;
}

int config_float(const proxyd_config_node *handle, double *out) {
    const toml::node *node = node_of(handle);
    if (node && node->is_integer()) return *out = static_cast<double>(node->as_integer()->get()), PROXYD_OK;
    if (!node || !node->is_floating_point()) return PROXYD_ETYPE;
    *out = node->as_floating_point()->get();
    return PROXYD_OK;
}

int config_boolean(const proxyd_config_node *handle, bool *out) {
    const toml::node *node = node_of(handle);
    if (!node || !node->is_boolean()) return PROXYD_ETYPE;
    *out = node->as_boolean()->get();
    return PROXYD_OK;
}

size_t config_size(const proxyd_config_node *handle) {
    const toml::node *node = node_of(handle);
    if (node && node->is_array()) return node->as_array()->size();
    if (node && node->is_table()) return node->as_table()->size();
    return 0;
}

const proxyd_config_node *config_at(const proxyd_config_node *array, size_t index) {
    const toml::node *node = node_of(array);
    if (!node || !node->is_array()) return nullptr;
    return handle_of(node->as_array()->get(index));
}

// toml++ keeps table entries sorted by key, so this fake's "file order" is key order.
const proxyd_config_node *config_entry(const proxyd_config_node *table, size_t index, proxyd_str *key) {
    const toml::node *node = node_of(table);
    if (!node || !node->is_table() || index >= node->as_table()->size()) return nullptr;
    auto it = node->as_table()->begin();
    std::advance(it, static_cast<std::ptrdiff_t>(index));
    // A view of the key's own std::string, so it is NUL-terminated as the ABI promises.
    std::string_view name = it->first.str();
    *key = proxyd_str{name.data(), name.size()};
    return handle_of(&it->second);
}

void config_error(proxyd_load_context *ctx, const proxyd_config_node *node, const char *message) {
    ctx->host->report(node_of(node), message);
}

int config_resolve_path(proxyd_load_context *ctx, proxyd_str path, char *buf, size_t buf_size) {
    std::string resolved = ctx->host->resolve(std::string_view(path.ptr, path.len));
    if (resolved.size() + 1 > buf_size) return PROXYD_EINVAL;
    std::memcpy(buf, resolved.c_str(), resolved.size() + 1);
    return PROXYD_OK;
}

const proxyd_config_node *config_load_file(proxyd_load_context *ctx, proxyd_str path,
                                           const proxyd_config_node *node) {
    return handle_of(ctx->host->load_file(std::string_view(path.ptr, path.len), node_of(node)));
}

int resolve_target(proxyd_load_context *ctx, proxyd_target_kind kind, proxyd_str name,
                   const proxyd_config_node *node, uint32_t *target_id) {
    FakeHost &host = *ctx->host;
    const auto &names = kind == PROXYD_TARGET_UPSTREAM ? host.upstreams : host.handlers;
    auto it = names.find(std::string_view(name.ptr, name.len));
    if (it == names.end()) {
        host.report(node_of(node),
                    std::string(kind == PROXYD_TARGET_UPSTREAM ? "unknown upstream '" : "unknown handler '") +
                        std::string(name.ptr, name.len) + "'");
        return PROXYD_ENOENT;
    }
    *target_id = it->second;
    return PROXYD_OK;
}

int request_header(const proxyd_request_handle *request, proxyd_str name, proxyd_str *value) {
    for (const auto &[n, v] : request->request->headers())
        if (same_name(n, std::string_view(name.ptr, name.len))) {
            *value = proxyd_str{v.data(), v.size()};
            return PROXYD_OK;
        }
    return PROXYD_ENOENT;
}

size_t request_header_count(const proxyd_request_handle *request) {
    return request->request->headers().size();
}

int request_header_at(const proxyd_request_handle *request, size_t index, proxyd_str *name,
                      proxyd_str *value) {
    const auto &headers = request->request->headers();
    if (index >= headers.size()) return PROXYD_ENOENT;
    *name = proxyd_str{headers[index].first.data(), headers[index].first.size()};
    *value = proxyd_str{headers[index].second.data(), headers[index].second.size()};
    return PROXYD_OK;
}

void *request_alloc(const proxyd_request_handle *request, size_t size) {
    return request->request->alloc(size);
}

int response_status(proxyd_response_handle *handle, int status) {
    FakeResponse &r = *handle->response;
    if (r.status != 0 || r.finished) return r.misuse.push_back("status twice or after finish"), PROXYD_ESTATE;
    r.status = status;
    return PROXYD_OK;
}

int response_header(proxyd_response_handle *handle, proxyd_str name, proxyd_str value) {
    FakeResponse &r = *handle->response;
    if (r.status == 0 || !r.body.empty() || r.file_fd >= 0 || r.finished)
        return r.misuse.push_back("header out of order"), PROXYD_ESTATE;
    r.headers.emplace_back(std::string(name.ptr, name.len), std::string(value.ptr, value.len));
    return PROXYD_OK;
}

int response_body(proxyd_response_handle *handle, const void *data, size_t len) {
    FakeResponse &r = *handle->response;
    if (r.status == 0 || r.file_fd >= 0 || r.finished)
        return r.misuse.push_back("body out of order"), PROXYD_ESTATE;
    r.body.append(static_cast<const char *>(data), len);
    return PROXYD_OK;
}

int response_file(proxyd_response_handle *handle, int fd, uint64_t offset, uint64_t length) {
    FakeResponse &r = *handle->response;
    if (r.status == 0 || r.file_fd >= 0 || !r.body.empty() || r.finished) {
        ::close(fd); // owned from this call on, even on failure
        return r.misuse.push_back("file out of order"), PROXYD_ESTATE;
    }
    r.file_fd = fd;
    r.file_offset = offset;
    r.file_length = length;
    return PROXYD_OK;
}

int response_finish(proxyd_response_handle *handle) {
    FakeResponse &r = *handle->response;
    if (r.status == 0 || r.finished) return r.misuse.push_back("finish out of order"), PROXYD_ESTATE;
    r.finished = true;
    return PROXYD_OK;
}

void log(const proxyd_host *, proxyd_log_level, proxyd_str plugin, proxyd_str message) {
    FakeHost::logs().push_back(std::string(plugin.ptr, plugin.len) + ": " +
                               std::string(message.ptr, message.len));
}

const proxyd_host kHost = {
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
    // ABI 1.1 calls this fake does not offer yet: a plugin that needs them is tested in
    // integration tests against the real core.
    .config_plugin_name = nullptr,
    .config_peer_count = nullptr,
    .config_peer_at = nullptr,
    .request_body = nullptr,
    .worker_post = nullptr,
};

} // namespace

PluginModule::PluginModule(const std::string &file_name) {
    std::string path = std::string(PROXYD_BUILD_PLUGIN_DIR) + "/" + file_name;
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw std::runtime_error("dlopen " + path + ": " + dlerror());
    void *entry = dlsym(handle_, PROXYD_PLUGIN_ENTRY_NAME);
    if (!entry) throw std::runtime_error(path + ": no " PROXYD_PLUGIN_ENTRY_NAME);
    descriptor_ = reinterpret_cast<proxyd_plugin_entry_fn>(entry)();
}

PluginModule::~PluginModule() {
    if (handle_) dlclose(handle_);
}

FakeHost::FakeHost() : context_(std::make_unique<proxyd_load_context>(proxyd_load_context{this})) {}

FakeHost::~FakeHost() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
        it->descriptor->destroy_instance(it->instance);
}

const proxyd_host *FakeHost::host() const { return &kHost; }

void *FakeHost::create(const PluginModule &module, std::string_view toml_text) {
    try {
        documents_.push_back(toml::parse(toml_text, std::string("plugin.toml")));
    } catch (const toml::parse_error &e) {
        throw std::runtime_error(std::string("test config does not parse: ") + std::string(e.description()));
    }
    void *instance = nullptr;
    int rc =
        module.descriptor().create_instance(&kHost, context_.get(), handle_of(&documents_.back()), &instance);
    if (rc != PROXYD_OK) return nullptr;
    created_.push_back({&module.descriptor(), instance});
    return instance;
}

void *FakeHost::create_from_file(const PluginModule &module, const std::string &file,
                                 std::string_view toml_path) {
    return create_from_document(module, toml::parse_file(file), file.substr(0, file.rfind('/')), toml_path);
}

void *FakeHost::create_from_document(const PluginModule &module, toml::table document,
                                     const std::string &config_folder, std::string_view toml_path) {
    documents_.push_back(std::move(document));
    const toml::node *block = documents_.back().at_path(toml_path).node();
    if (!block) throw std::runtime_error(config_folder + ": no table at " + std::string(toml_path));
    config_dir = config_folder;
    void *instance = nullptr;
    if (module.descriptor().create_instance(&kHost, context_.get(), handle_of(block), &instance) != PROXYD_OK)
        return nullptr;
    created_.push_back({&module.descriptor(), instance});
    return instance;
}

std::string FakeHost::error_text() const {
    std::string text;
    for (const ConfigError &e : errors_)
        text +=
            e.file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message + "\n";
    return text;
}

std::vector<std::string> &FakeHost::logs() {
    static std::vector<std::string> lines;
    return lines;
}

void FakeHost::report(const toml::node *node, const std::string &message) {
    ConfigError error{"plugin.toml", 0, 0, message};
    if (node) {
        const toml::source_region &where = node->source();
        if (where.path) error.file = *where.path;
        error.line = where.begin.line;
        error.column = where.begin.column;
    }
    errors_.push_back(std::move(error));
}

std::string FakeHost::resolve(std::string_view path) const {
    if (path.starts_with('/')) return std::string(path);
    return config_dir + "/" + std::string(path);
}

const toml::table *FakeHost::load_file(std::string_view path, const toml::node *at) {
    std::string resolved = resolve(path);
    if (::access(resolved.c_str(), R_OK) != 0) {
        report(at, "cannot read '" + resolved + "': " + std::strerror(errno));
        return nullptr;
    }
    try {
        documents_.push_back(toml::parse_file(resolved));
        return &documents_.back();
    } catch (const toml::parse_error &e) {
        errors_.push_back(
            {resolved, e.source().begin.line, e.source().begin.column, std::string(e.description())});
        return nullptr;
    }
}

FakeWorker::FakeWorker(const proxyd_plugin_descriptor &descriptor, void *instance)
    : descriptor_(descriptor), instance_(instance) {
    if (descriptor_.create_worker && descriptor_.create_worker(instance_, &worker_) != PROXYD_OK)
        throw std::runtime_error("create_worker failed");
}

FakeWorker::~FakeWorker() {
    if (descriptor_.destroy_worker) descriptor_.destroy_worker(instance_, worker_);
}

FakeRequest::FakeRequest(std::string method, std::string target,
                         std::vector<std::pair<std::string, std::string>> headers)
    : method_(std::move(method)), target_(std::move(target)), headers_(std::move(headers)),
      handle_(std::make_unique<proxyd_request_handle>(proxyd_request_handle{this})) {
    size_t question = target_.find('?');
    path_ = target_.substr(0, question);
    if (question != std::string::npos) query_ = target_.substr(question + 1);
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
    raw_.handle = handle_.get();
}

FakeRequest::~FakeRequest() = default;

void FakeRequest::rewrite_path(std::string path) {
    path_ = std::move(path);
    raw_.path = proxyd_str{path_.data(), path_.size()};
}

void *FakeRequest::alloc(size_t size) {
    arena_.emplace_back(std::make_unique<char[]>(size), size);
    return arena_.back().first.get();
}

bool FakeRequest::owns(const char *p) const {
    for (const auto &[block, size] : arena_)
        if (p >= block.get() && p < block.get() + size) return true;
    return false;
}

FakeResponse::FakeResponse()
    : handle_(std::make_unique<proxyd_response_handle>(proxyd_response_handle{this})) {}

FakeResponse::~FakeResponse() {
    if (file_fd >= 0) ::close(file_fd);
}

std::optional<std::string> FakeResponse::header(std::string_view name) const {
    for (const auto &[n, v] : headers)
        if (same_name(n, name)) return v;
    return std::nullopt;
}

size_t FakeResponse::header_count(std::string_view name) const {
    size_t count = 0;
    for (const auto &[n, v] : headers)
        count += same_name(n, name) ? 1 : 0;
    return count;
}

std::string FakeResponse::file_content() const {
    std::string content(file_length, '\0');
    ssize_t n = ::pread(file_fd, content.data(), content.size(), static_cast<off_t>(file_offset));
    content.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return content;
}

int handle(const PluginModule &module, void *instance, FakeRequest &request, FakeResponse &response) {
    return module.descriptor().content->handle(instance, nullptr, request.raw(), response.handle());
}

} // namespace proxyd::test
