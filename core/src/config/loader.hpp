// The config loader's reading of one document into a Config. Its parts live in one file per
// section of the config (config_loader.cpp, loader_plugins.cpp, loader_upstreams.cpp,
// loader_listeners.cpp, loader_tls.cpp); only the loader's own files include this.
#pragma once

#include "config/config_loader.hpp"
#include "config/config_reader.hpp"
#include "tls/ocsp_staple.hpp"
#include "tls/openssl_lists.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <utility>
#include <vector>

namespace proxyd {

class ConfigLoader : public ConfigReader {
  public:
    ConfigLoader(const std::string &path, const LoadOptions &options, std::vector<std::string> &errors);

    std::unique_ptr<Config> run();

    // -- used by the plugin host's config calls (load_context.hpp) --
    std::string resolve_path(std::string_view p) const;
    const toml::table *load_document(const std::string &path, std::string &error);
    bool find_target(proxyd_target_kind kind, std::string_view name, uint32_t &id) const;

  private:
    // config_loader.cpp: the document, process-wide sections and the bridges for plugins
    void load_root(const toml::table &root);
    void share_client_cert_field_names();
    void load_workers(const toml::table &root);
    void load_log(const toml::table &t);
    void load_limits(const toml::table &t);
    void load_connection_limits(const toml::table &t, const std::string &w, LimitsConfig &l);
    void load_listener_limits(const toml::table &t, const std::string &where, ListenerConfig &l);
    void load_drain_timeout(const toml::table &t, LimitsConfig &l);
    void load_resolver(const toml::table &t);
    void load_admin(const toml::table &t);

    // loader_plugins.cpp: plugin modules and instances, handlers, filters, routers
    std::vector<std::string> plugin_candidates(const std::string &file) const;
    void load_plugins(const toml::table &t);
    bool load_builtin_set();
    void read_builtin_set(const toml::table &set);
    PluginInstance *create_instance(const toml::node *name_node, const toml::table *block,
                                    proxyd_kind expected, const std::string &where,
                                    const toml::table *origin = nullptr);
    PluginInstance *instantiate(const std::string &name, const toml::node *at, const std::string &key,
                                const toml::table *block, proxyd_kind expected, const std::string &label,
                                const std::string &note, const toml::table *origin = nullptr);
    PluginModule *plugin_module(const std::string &name, const toml::node *at, const std::string &key,
                                const std::string &note);
    std::string unknown_plugin(const std::string &name) const;
    std::string no_default_balancer() const;
    std::string no_builtin_set() const;
    std::string builtin_names() const;
    void load_handlers(const toml::table &handlers);
    void load_handler(std::string name, const toml::node &value, const std::string &where);
    void load_filters(const toml::table &filters);
    FilterChain load_filter_chain(const toml::table &t, const std::string &where);
    const toml::table *without_filters(const toml::table &t);
    void load_routers(const toml::table &routers);

    // loader_upstreams.cpp: upstream groups, their peers, checks and policies
    void load_upstreams(const toml::table &upstreams);
    void load_upstream(std::string name, const toml::node &value, const std::string &where);
    void load_surplus_timeout(const toml::table &t, const std::string &where, UpstreamConfig &u);
    void load_health_check(const toml::table &t, const std::string &where, UpstreamConfig &u);
    void load_upstream_policies(const toml::table &t, const std::string &where, UpstreamPolicies &p);
    void load_retry_on(const toml::node &node, const std::string &where, RetryOn &out);
    void load_peers(const toml::table &t, const std::string &where, UpstreamConfig &u, bool group_tls);
    void load_discovery_source(const toml::table &t, const std::string &where, UpstreamConfig &u,
                               bool group_tls);
    void load_discovery(const toml::table &t, const std::string &where, UpstreamConfig &u);

    // loader_listeners.cpp: listeners and their targets
    void load_listener(const toml::table &t, const std::string &where);
    void load_inline_target(const toml::node &node, proxyd_target_kind kind, const std::string &listener_name,
                            const std::string &where, Target &out);
    void resolve_named(const toml::node *node, proxyd_target_kind kind, const std::string &where,
                       Target &out);
    void load_listener_http2(const toml::table &t, const std::string &where, ListenerConfig &l);
    void load_redirect_https(const toml::node &node, const std::string &where, bool https, ListenerConfig &l);

    // loader_tls.cpp: TLS, a listener's (the server side) and an upstream group's (the client side)
    void load_upstream_tls(const toml::node &group, const toml::table *t, const std::string &where,
                           UpstreamConfig &u);
    std::shared_ptr<const TlsServerContext> load_listener_tls(const toml::table &t, const std::string &where,
                                                              ListenerConfig &l);
    bool check_certificate_files(const toml::table &c, const std::string &at, const std::string &chain,
                                 const std::string &key);
    std::shared_ptr<const OcspStaple> load_ocsp_response(const toml::table &c, const std::string &at,
                                                         const std::string &file, const std::string &chain,
                                                         bool &usable);
    void load_tls_resumption(const toml::table &t, const std::string &where, const std::string &listen,
                             TlsSettings &settings);
    bool load_client_verification(const toml::table &t, const std::string &where, TlsSettings &settings,
                                  ClientCertHeaders &headers);
    // A TLS list read as get_openssl_list reads it, and its entries checked one by one: a cipher
    // or suite OpenSSL would skip is warned of, a group it does not know (which fails the whole
    // list) is an error naming it.
    std::string load_openssl_list(const toml::table &t, std::string_view key, const std::string &where,
                                  OpenSslList kind);
    void load_tls_protocols(const toml::table &t, const std::string &where, int &min_version,
                            int &max_version);

    const LoadOptions &options_;
    std::unique_ptr<Config> config_;
    std::string config_dir_;
    std::string plugin_dir_;
    std::vector<std::string> handler_names_;
    std::vector<std::pair<std::string, PluginInstance *>> named_routers_; // [routers], in file order
    std::set<std::string, std::less<>> failed_filters_; // [filters] entries refused (reported there)
    std::vector<std::string> upstream_names_;
    std::set<std::string, std::less<>> declared_plugins_;

    // One entry of the built-in plugin set.
    struct BuiltinPlugin {
        std::string file;        // the module, resolved beside the built-in file
        const toml::node *entry; // its value there, for messages
        bool tried = false;      // its first use loaded it (or reported why it could not)
    };
    std::string builtin_file_; // the built-in set read, or empty
    std::vector<std::string> builtin_looked_for_;
    std::map<std::string, BuiltinPlugin, std::less<>> builtins_;
    std::set<std::string, std::less<>> refused_builtins_; // entries reported as broken
    std::string default_balancer_;                        // [defaults] balancer, when valid
    const toml::node *default_balancer_node_ = nullptr;
    bool default_balancer_refused_ = false;
    const std::vector<PeerConfig> *balancer_peers_ = nullptr; // while an upstream's balancer is created
};

} // namespace proxyd
