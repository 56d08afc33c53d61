// Plugin modules (.so files) and the instances created from them. Owned by a Config; the
// registry destroys instances before it unloads the modules they came from, and keeps the TOML
// documents whose nodes the instances were handed alive until then too.
#pragma once

#include <proxyd/plugin.h>

#include <memory>
#include <string>
#include <vector>

namespace proxyd {

const char *kind_name(proxyd_kind kind);

// One loaded .so. Main thread only.
class PluginModule {
  public:
    PluginModule(std::string name, std::string path, void *handle, const proxyd_plugin_descriptor *descriptor)
        : name_(std::move(name)), path_(std::move(path)), handle_(handle), descriptor_(descriptor) {}
    ~PluginModule();
    PluginModule(const PluginModule &) = delete;
    PluginModule &operator=(const PluginModule &) = delete;

    const std::string &name() const { return name_; } // the key in [plugins]
    const std::string &path() const { return path_; }
    const proxyd_plugin_descriptor &descriptor() const { return *descriptor_; }
    // Valid after load_plugin_module() accepted the module.
    proxyd_kind kind() const { return static_cast<proxyd_kind>(descriptor_->kind); }

  private:
    std::string name_;
    std::string path_;
    void *handle_;
    const proxyd_plugin_descriptor *descriptor_;
};

// One TOML plugin block turned into a plugin instance. Immutable after creation; shared by all
// workers. Per-worker state is created through create_worker on each worker's own thread.
class PluginInstance {
  public:
    PluginInstance(const PluginModule &module, void *instance, std::string label)
        : module_(module), instance_(instance), label_(std::move(label)) {}
    ~PluginInstance();
    PluginInstance(const PluginInstance &) = delete;
    PluginInstance &operator=(const PluginInstance &) = delete;

    const PluginModule &module() const { return module_; }
    const proxyd_plugin_descriptor &descriptor() const { return module_.descriptor(); }
    void *raw() const { return instance_; }
    const std::string &label() const { return label_; } // where it was declared, e.g. "handlers.site"

    // Worker thread. Returns PROXYD_OK and the worker pointer (nullptr when the plugin keeps none).
    // Through create_worker_ex, with info, when the plugin's descriptor holds it (ABI 1.1) and sets
    // it; else through create_worker.
    int create_worker(const proxyd_worker_info &info, void **worker) const;
    void destroy_worker(void *worker) const;

  private:
    const PluginModule &module_;
    void *instance_;
    std::string label_;
};

class PluginRegistry {
  public:
    PluginRegistry() = default;
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry &) = delete;
    PluginRegistry &operator=(const PluginRegistry &) = delete;

    PluginModule *add_module(std::unique_ptr<PluginModule> module);
    PluginModule *find_module(const std::string &name) const;
    PluginInstance *add_instance(std::unique_ptr<PluginInstance> instance);
    // Keeps a parsed document (its nodes were handed to plugins) alive as long as the instances.
    void keep_document(std::shared_ptr<const void> document) { documents_.push_back(std::move(document)); }

    const std::vector<std::unique_ptr<PluginModule>> &modules() const { return modules_; }

  private:
    std::vector<std::shared_ptr<const void>> documents_;
    std::vector<std::unique_ptr<PluginModule>> modules_;
    std::vector<std::unique_ptr<PluginInstance>> instances_;
};

// Loads path and checks its descriptor: the entry symbol, ABI major and minor, descriptor and
// hook-table sizes, and that the hook table matches the declared kind. On refusal returns
// nullptr and sets error to a sentence naming the file and, for version problems, both versions.
std::unique_ptr<PluginModule> load_plugin_module(const std::string &name, const std::string &path,
                                                 std::string &error);

} // namespace proxyd
