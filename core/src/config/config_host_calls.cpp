// The configuration half of the host table: a read-only view of toml++ nodes for plugins.
#include "config/config_host_calls.hpp"

#include "config/config.hpp"
#include "config/load_context.hpp"

#include <cstring>

namespace proxyd {
namespace {

const toml::node *as_node(const proxyd_config_node *n) { return reinterpret_cast<const toml::node *>(n); }
const proxyd_config_node *as_handle(const toml::node *n) { return reinterpret_cast<const proxyd_config_node *>(n); }

const proxyd_config_node *config_get(const proxyd_config_node *table, const char *key) {
    const toml::node *n = as_node(table);
    if (!n || !n->is_table() || !key) return nullptr;
    return as_handle(n->as_table()->get(key));
}

proxyd_config_type config_type(const proxyd_config_node *node) {
    const toml::node *n = as_node(node);
    if (!n) return PROXYD_CONFIG_NONE;
    switch (n->type()) {
    case toml::node_type::string: return PROXYD_CONFIG_STRING;
    case toml::node_type::integer: return PROXYD_CONFIG_INTEGER;
    case toml::node_type::floating_point: return PROXYD_CONFIG_FLOAT;
    case toml::node_type::boolean: return PROXYD_CONFIG_BOOLEAN;
    case toml::node_type::array: return PROXYD_CONFIG_ARRAY;
    case toml::node_type::table: return PROXYD_CONFIG_TABLE;
    default: return PROXYD_CONFIG_OTHER;
    }
}

int config_string(const proxyd_config_node *node, proxyd_str *out) {
    const toml::node *n = as_node(node);
    if (!n) return PROXYD_ENOENT;
    const auto *s = n->as_string();
    if (!s) return PROXYD_ETYPE;
    // std::string storage is NUL-terminated, as the ABI promises.
    *out = proxyd_str{s->get().c_str(), s->get().size()};
    return PROXYD_OK;
}

int config_integer(const proxyd_config_node *node, int64_t *out) {
    const toml::node *n = as_node(node);
    if (!n) return PROXYD_ENOENT;
    const auto *v = n->as_integer();
    if (!v) return PROXYD_ETYPE;
    *out = v->get();
    return PROXYD_OK;
}

int config_float(const proxyd_config_node *node, double *out) {
    const toml::node *n = as_node(node);
    if (!n) return PROXYD_ENOENT;
    if (const auto *f = n->as_floating_point()) return *out = f->get(), PROXYD_OK;
    if (const auto *i = n->as_integer()) return *out = static_cast<double>(i->get()), PROXYD_OK;
    return PROXYD_ETYPE;
}

int config_boolean(const proxyd_config_node *node, bool *out) {
    const toml::node *n = as_node(node);
    if (!n) return PROXYD_ENOENT;
    const auto *v = n->as_boolean();
    if (!v) return PROXYD_ETYPE;
    *out = v->get();
    return PROXYD_OK;
}

size_t config_size(const proxyd_config_node *node) {
    const toml::node *n = as_node(node);
    if (!n) return 0;
    if (const auto *a = n->as_array()) return a->size();
    if (const auto *t = n->as_table()) return t->size();
    return 0;
}

const proxyd_config_node *config_at(const proxyd_config_node *array, size_t index) {
    const toml::node *n = as_node(array);
    const auto *a = n ? n->as_array() : nullptr;
    if (!a || index >= a->size()) return nullptr;
    return as_handle(a->get(index));
}

const proxyd_config_node *config_entry(const proxyd_config_node *table, size_t index, proxyd_str *key) {
    const toml::node *n = as_node(table);
    const auto *t = n ? n->as_table() : nullptr;
    if (!t || index >= t->size()) return nullptr;
    auto it = t->begin();
    std::advance(it, static_cast<std::ptrdiff_t>(index));
    // toml::key keeps its text in a std::string, so it is NUL-terminated.
    *key = proxyd_str{it->first.str().data(), it->first.str().size()};
    return as_handle(&it->second);
}

void config_error(proxyd_load_context *ctx, const proxyd_config_node *node, const char *message) {
    if (!ctx) return;
    std::string_view text = message ? message : "configuration error";
    // The ABI names nodes, not keys, so plugins report an unknown key at its value; the key's own
    // position is the one to show (as for the core's own keys).
    if (node && text.starts_with("unknown key"))
        load_context_error_at_key(*ctx, as_node(node), std::string(text));
    else
        load_context_error(*ctx, as_node(node), std::string(text));
}

int config_resolve_path(proxyd_load_context *ctx, proxyd_str path, char *buf, size_t buf_size) {
    if (!ctx || !buf || buf_size == 0) return PROXYD_EINVAL;
    std::string resolved = load_context_resolve_path(*ctx, std::string_view(path.ptr ? path.ptr : "", path.len));
    if (resolved.size() + 1 > buf_size) return PROXYD_EINVAL;
    std::memcpy(buf, resolved.c_str(), resolved.size() + 1);
    return PROXYD_OK;
}

const proxyd_config_node *config_load_file(proxyd_load_context *ctx, proxyd_str path,
                                           const proxyd_config_node *node) {
    if (!ctx) return nullptr;
    std::string resolved = load_context_resolve_path(*ctx, std::string_view(path.ptr ? path.ptr : "", path.len));
    std::string error;
    const toml::table *doc = load_context_document(*ctx, resolved, error);
    if (!doc) {
        load_context_error(*ctx, as_node(node), error);
        return nullptr;
    }
    return as_handle(doc);
}

int resolve_target(proxyd_load_context *ctx, proxyd_target_kind kind, proxyd_str name,
                   const proxyd_config_node *node, uint32_t *target_id) {
    if (!ctx || !target_id) return PROXYD_EINVAL;
    std::string_view n(name.ptr ? name.ptr : "", name.len);
    if (load_context_find_target(*ctx, kind, n, *target_id)) return PROXYD_OK;
    load_context_error(*ctx, as_node(node),
                       std::string(kind == PROXYD_TARGET_UPSTREAM ? "upstream '" : "handler '") + std::string(n) +
                           "' is not declared" +
                           (kind == PROXYD_TARGET_UPSTREAM ? " in [upstreams]" : " in [handlers]"));
    return PROXYD_ENOENT;
}

int config_plugin_name(proxyd_load_context *ctx, proxyd_str *name) {
    if (!ctx || !name || !ctx->kept_name) return PROXYD_EINVAL;
    *name = proxyd_str{ctx->kept_name->c_str(), ctx->kept_name->size()};
    return PROXYD_OK;
}

size_t config_peer_count(proxyd_load_context *ctx) { return ctx && ctx->peers ? ctx->peers->size() : 0; }

int config_peer_at(proxyd_load_context *ctx, size_t index, proxyd_str *address, uint32_t *weight) {
    if (!ctx || !ctx->peers) return PROXYD_ESTATE;
    if (index >= ctx->peers->size() || !address) return PROXYD_EINVAL;
    const proxyd::PeerConfig &peer = (*ctx->peers)[index];
    *address = proxyd_str{peer.address_text.c_str(), peer.address_text.size()};
    if (weight) *weight = peer.weight;
    return PROXYD_OK;
}

} // namespace

void fill_config_host_calls(proxyd_host &host) {
    host.config_get = config_get;
    host.config_type = config_type;
    host.config_string = config_string;
    host.config_integer = config_integer;
    host.config_float = config_float;
    host.config_boolean = config_boolean;
    host.config_size = config_size;
    host.config_at = config_at;
    host.config_entry = config_entry;
    host.config_error = config_error;
    host.config_resolve_path = config_resolve_path;
    host.config_load_file = config_load_file;
    host.resolve_target = resolve_target;
    host.config_plugin_name = config_plugin_name;
    host.config_peer_count = config_peer_count;
    host.config_peer_at = config_peer_at;
}

} // namespace proxyd
