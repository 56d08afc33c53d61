#include "plugin/plugin_registry.hpp"

#include "plugin/abi_sizes.hpp"

#include <cstddef>
#include <dlfcn.h>

namespace proxyd {

const char *kind_name(proxyd_kind kind) {
    switch (kind) {
    case PROXYD_KIND_ROUTING: return "routing";
    case PROXYD_KIND_BALANCING: return "balancing";
    case PROXYD_KIND_CONTENT: return "content";
    case PROXYD_KIND_FILTER:
        return "filter";
    }
    return "unknown";
}

PluginModule::~PluginModule() {
    if (handle_) dlclose(handle_);
}

PluginInstance::~PluginInstance() {
    if (descriptor().destroy_instance) descriptor().destroy_instance(instance_);
}

int PluginInstance::create_worker(const proxyd_worker_info &info, void **worker) const {
    *worker = nullptr;
    const proxyd_plugin_descriptor &d = descriptor();
    if (PROXYD_ABI_HAS(d, proxyd_plugin_descriptor, create_worker_ex) && d.create_worker_ex)
        return d.create_worker_ex(instance_, &info, worker);
    if (!descriptor().create_worker) return PROXYD_OK;
    return descriptor().create_worker(instance_, worker);
}

void PluginInstance::destroy_worker(void *worker) const {
    if (descriptor().destroy_worker) descriptor().destroy_worker(instance_, worker);
}

PluginRegistry::~PluginRegistry() {
    // Instances first (they may point into their module's code and into documents), newest first.
    while (!instances_.empty()) instances_.pop_back();
    modules_.clear();
    documents_.clear();
}

PluginModule *PluginRegistry::add_module(std::unique_ptr<PluginModule> module) {
    modules_.push_back(std::move(module));
    return modules_.back().get();
}

PluginModule *PluginRegistry::find_module(const std::string &name) const {
    for (const auto &m : modules_)
        if (m->name() == name) return m.get();
    return nullptr;
}

PluginInstance *PluginRegistry::add_instance(std::unique_ptr<PluginInstance> instance) {
    instances_.push_back(std::move(instance));
    return instances_.back().get();
}

namespace {

std::string version_text(uint32_t major, uint32_t minor) {
    return std::to_string(major) + "." + std::to_string(minor);
}

size_t required_descriptor_size(uint32_t minor) { return descriptor_size(minor); }

// Checks the hook table of the declared kind, its size before any of its fields, and that no
// other kind's table is set; returns an empty string when fine.
std::string check_hooks(const proxyd_plugin_descriptor &d) {
    // A descriptor older than 1.3 has no filter member to read.
    const proxyd_filter_hooks *filter =
        PROXYD_ABI_HAS(d, proxyd_plugin_descriptor, filter) ? d.filter : nullptr;
    int tables = (d.routing ? 1 : 0) + (d.balancing ? 1 : 0) + (d.content ? 1 : 0) + (filter ? 1 : 0);
    switch (d.kind) {
    case PROXYD_KIND_ROUTING:
        if (!d.routing) return "declares kind routing but has no routing hook table";
        if (d.routing->struct_size < routing_hooks_size(d.abi_minor)) return "routing hook table is too small";
        if (!d.routing->route) return "declares kind routing but has no route hook";
        break;
    case PROXYD_KIND_BALANCING:
        if (!d.balancing) return "declares kind balancing but has no balancing hook table";
        if (d.balancing->struct_size < balancing_hooks_size(d.abi_minor))
            return "balancing hook table is too small";
        if (!d.balancing->pick) return "declares kind balancing but has no pick hook";
        break;
    case PROXYD_KIND_CONTENT:
        if (!d.content) return "declares kind content but has no content hook table";
        if (d.content->struct_size < content_hooks_size(d.abi_minor)) return "content hook table is too small";
        if (!d.content->handle) return "declares kind content but has no handle hook";
        break;
    case PROXYD_KIND_FILTER:
        if (d.abi_minor < kFilterKindMinor)
            return "declares kind filter, which ABI 1." + std::to_string(kFilterKindMinor) +
                   " introduced (rebuild it against proxyd's current header)";
        if (!filter) return "declares kind filter but has no filter hook table";
        if (filter->struct_size < filter_hooks_size(d.abi_minor)) return "filter hook table is too small";
        break;
    default: return "declares an unknown kind " + std::to_string(d.kind);
    }
    if (tables != 1) return "sets hook tables of more than one kind (exactly the declared kind's must be set)";
    if (!d.create_instance) return "has no create_instance hook";
    if (!d.name || !d.version) return "has no name or version";
    return {};
}

} // namespace

std::unique_ptr<PluginModule> load_plugin_module(const std::string &name, const std::string &path,
                                                 std::string &error) {
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        error = path + ": cannot load plugin: " + (why ? why : "unknown dlopen error");
        return nullptr;
    }
    auto entry = reinterpret_cast<proxyd_plugin_entry_fn>(dlsym(handle, PROXYD_PLUGIN_ENTRY_NAME));
    if (!entry) {
        error = path + ": no entry symbol '" PROXYD_PLUGIN_ENTRY_NAME "': not a proxyd plugin";
        dlclose(handle);
        return nullptr;
    }
    const proxyd_plugin_descriptor *d = entry();
    const std::string ours = version_text(PROXYD_ABI_MAJOR, PROXYD_ABI_MINOR);
    if (!d) {
        error = path + ": " PROXYD_PLUGIN_ENTRY_NAME "() returned no descriptor";
    } else if (d->abi_major != PROXYD_ABI_MAJOR) {
        error = path + ": plugin ABI " + version_text(d->abi_major, d->abi_minor) +
                " is not compatible with proxyd's ABI " + ours + " (the major versions must match)";
    } else if (d->abi_minor > PROXYD_ABI_MINOR) {
        error = path + ": plugin ABI " + version_text(d->abi_major, d->abi_minor) + " is newer than proxyd's ABI " +
                ours + " (rebuild the plugin against this proxyd, or upgrade proxyd)";
    } else if (d->struct_size < required_descriptor_size(d->abi_minor)) {
        error = path + ": plugin descriptor is " + std::to_string(d->struct_size) + " bytes, ABI " +
                version_text(d->abi_major, d->abi_minor) + " needs " +
                std::to_string(required_descriptor_size(d->abi_minor)) + " (proxyd's ABI " + ours + ")";
    } else if (std::string problem = check_hooks(*d); !problem.empty()) {
        error = path + ": plugin (ABI " + version_text(d->abi_major, d->abi_minor) + ") " + problem;
    } else {
        return std::make_unique<PluginModule>(name, path, handle, d);
    }
    dlclose(handle);
    return nullptr;
}

} // namespace proxyd
