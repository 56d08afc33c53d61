// The loaded configuration: immutable once load_config() returns, shared read-only by every
// worker thread. Plugin instances are owned here so they live exactly as long as the config that
// declared them.
#pragma once

#include "config/discovery_source.hpp"
#include "config/health_check_config.hpp"
#include "config/upstream_policies.hpp"
#include "log/access_line.hpp"
#include "net/net_address.hpp"
#include "plugin/plugin_registry.hpp"
#include "tls/tls_client_context.hpp"
#include "tls/tls_context.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace proxyd {

using Duration = std::chrono::milliseconds;

// Where a request goes: an upstream group or a content handler, by index.
struct Target {
    enum class Kind : uint8_t { None, Upstream, Handler };
    Kind kind = Kind::None;
    uint32_t index = 0;

    static constexpr uint32_t kHandlerBit = 0x80000000u;
    // The id handed to routing plugins (proxyd_route.target) and back.
    uint32_t to_id() const { return kind == Kind::Handler ? (index | kHandlerBit) : index; }
    static Target from_id(uint32_t id) {
        return (id & kHandlerBit) ? Target{Kind::Handler, id & ~kHandlerBit} : Target{Kind::Upstream, id};
    }
    explicit operator bool() const { return kind != Kind::None; }
};

// A filter chain (plugin.h, the filter kind): instances declared under [filters], in the order a
// listener, an upstream group or a handler names them. Empty for most configs, and then the
// request path takes none of the filter steps.
using FilterChain = std::vector<const PluginInstance *>;

// [filters.NAME]: one filter instance, shared by every chain that names it.
struct FilterConfig {
    std::string name;
    PluginInstance *instance = nullptr;
};

struct PeerConfig {
    std::string address_text; // as written: "127.0.0.1:9001", "https://api.example:443"
    NetAddress address;
    uint32_t weight = 1;
    std::string authority; // host:port, without the scheme (a Host for clients that sent none)
    // TLS to this peer: written https://, or its group has a `tls` table.
    bool tls = false;
    std::string tls_name;        // sent as SNI and checked: the group's server_name, else the host
    bool tls_name_is_ip = false; // checked against the certificate's IP addresses, not sent as SNI
    // A slot for a peer found in DNS (UpstreamConfig::discovery): each worker's pool holds the
    // address that fills it now, if any; this entry only names the slot.
    bool discovered = false;
};

struct UpstreamConfig {
    std::string name;
    std::vector<PeerConfig> peers;
    PluginInstance *balancer = nullptr;
    Duration connect_timeout{5000};
    Duration read_timeout{60000};  // between two reads of the response (and to its first byte)
    Duration send_timeout{60000};  // between two successful writes of the request
    Duration keepalive_timeout{60000}; // an idle pooled connection is closed after this
    uint32_t keepalive = 32;           // idle connections kept per peer and worker
    // An idle connection beyond keepalive is closed if not reused within this (0: at once, as
    // nginx does), so a burst wider than keepalive does not close and reopen connections.
    Duration keepalive_surplus_timeout{1000};
    uint32_t max_tries = 3;            // attempts per request across peers
    uint32_t max_fails = 1;            // failures that mark a peer down ...
    Duration fail_timeout{10000};      // ... for this long
    std::optional<HealthCheckConfig> health_check; // active checks, one checker per process
    Duration slow_start{0}; // a returning or new peer ramps to its weight over this long; 0: at once
    UpstreamPolicies policies;         // connection limits and queue, retry_on and budget, outliers
    // The client side of TLS for the peers that speak it (null when none does); shared by every
    // worker's connections, immutable once loaded.
    std::shared_ptr<const TlsClientContext> tls;
    // Peers found in DNS (peers entries `resolve` and `srv`), followed without a reload. They fill
    // the slots peers[discovery_first_slot..] (max_peers of them), which are vacant until then.
    std::vector<DiscoverySource> discovery;
    DiscoveryTiming discovery_timing;
    size_t discovery_first_slot = 0;
    std::string discovery_tls_name; // the tls table's server_name, when it has one
    FilterChain filters; // run after routing chose this group
};

struct HandlerConfig {
    std::string name;
    PluginInstance *instance = nullptr;
    FilterChain filters; // run after routing chose this handler
};

struct LimitsConfig {
    size_t max_header_bytes = 32 * 1024;  // request line + headers
    uint32_t max_headers = 100;
    uint64_t max_body_bytes = 0;          // 0 = unlimited
    Duration header_timeout{10000};       // to receive a whole request head
    // To complete a TLS handshake, from the accept; header_timeout starts once it completes.
    Duration handshake_timeout{10000};
    Duration body_timeout{60000};         // between two reads of a request body
    Duration keepalive_timeout{75000};    // idle client connection
    Duration send_timeout{60000};         // between two successful writes to a client
    // How long a filter's request_head may stay pending before the core gives up on it (500).
    Duration filter_timeout{60000};
    Duration shutdown_timeout{10000};     // grace period on stop and for the old workers on reload
    // On reload or stop, how long an idle keep-alive client connection is kept open, so that its
    // next request is answered (with Connection: close) instead of racing a close.
    Duration drain_timeout{5000};
    uint32_t max_connections = 10000;     // per worker
    bool allow_bare_lf = false;           // accept LF without CR ending a request's head lines
    uint32_t keepalive_requests = 10000;  // requests per client connection, then close (0: no limit)
};

// Field names for what a verified client certificate says; empty when the listener forwards none.
struct ClientCertHeaders {
    std::string subject;     // RFC 4514 distinguished name, when verified
    std::string fingerprint; // SHA-256 of the DER certificate, lower-case hex, when verified
    std::string verify;      // "SUCCESS", "NONE" or "FAILED:reason", as nginx's $ssl_client_verify
    bool none() const { return subject.empty() && fingerprint.empty() && verify.empty(); }
};

struct ListenerConfig {
    std::string name;
    std::string listen_text;
    // Where the address was given, as errors name it: "FILE:LINE:COL: listeners[N].listen".
    // A socket that cannot be opened at start or reload is reported there, as a config error is.
    std::string listen_at;
    NetAddress address;
    PluginInstance *router = nullptr; // optional
    Target target;                    // the default (or only) target
    bool access_log = true;
    bool add_x_forwarded = true; // X-Forwarded-For/-Proto/-Host
    bool add_forwarded = true;   // RFC 7239 Forwarded
    bool add_via = true;
    // [limits] with what the listener's own `limits` table overrides. Only the per-connection
    // keys can differ; max_connections, shutdown_timeout and drain_timeout are process-wide and
    // read from Config::limits.
    LimitsConfig limits;
    // Set when the listener speaks HTTPS: its certificates and protocol settings, shared by every
    // worker's connections (immutable once loaded).
    std::shared_ptr<const TlsServerContext> tls;
    // HTTPS only: the Strict-Transport-Security value put on every final response, replacing any
    // the backend or content plugin gave (RFC 6797: the first one counts, so a second would be
    // ambiguous). Empty: none.
    std::string strict_transport_security;
    // Cleartext only, non-zero: every request is answered with a 308 to https://host:this port.
    uint16_t redirect_https_port = 0;
    // With verify_client on: the fields that carry the client certificate to the upstream. Any
    // of them the client sent is removed first, so they cannot be forged.
    ClientCertHeaders client_cert_headers;
    // The client-certificate field names any listener of the config forwards: removed from every
    // request this listener forwards, so no listener lets a client forge them.
    std::vector<std::string> client_cert_fields_removed;
    FilterChain filters; // run on every request, before routing
    // HTTP/2 for clients: ALPN h2 on TLS, the prior-knowledge preface (h2c) in cleartext.
    bool http2 = false;
    uint32_t http2_max_concurrent_streams = 100;
    // Its flood bounds, H2Limits' defaults (server/h2_connection.cpp hands them over): a request's
    // header list (RFC 9113 §6.5.2 accounting), CONTINUATION frames after one HEADERS, the
    // client's RST_STREAM token bucket, PRIORITY and empty DATA frames per second.
    uint32_t http2_max_header_list_size = 64 * 1024;
    uint32_t http2_max_continuations = 8;
    uint32_t http2_reset_burst = 200;
    uint32_t http2_resets_per_second = 20;
    uint32_t http2_idle_frame_burst = 1000;
    // WebSocket over HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL is advertised and an
    // extended CONNECT (:protocol websocket) is tunnelled to the upstream as an HTTP/1.1 Upgrade.
    bool http2_websocket = false;
};


struct LogConfig {
    std::string access = "stderr"; // "stderr", "off" or an absolute path
    std::string error = "stderr";
    int level = 2;                 // proxyd_log_level
    AccessFormat access_format = AccessFormat::Combined;
};

// The admin listener (/metrics, /status); off unless [admin] listen is set.
struct AdminConfig {
    bool enabled = false;
    std::string listen_text;
    std::string listen_at; // "FILE:LINE:COL: admin.listen", as ListenerConfig::listen_at
    NetAddress address;
    bool allow_remote = false; // a non-loopback listen address is refused without it
    // What every admin request must carry as "Authorization: Bearer TOKEN", read from
    // token_file when the config loads; empty: no authentication (loopback only).
    std::string token;
};

// [resolver]: the DNS servers upstream discovery asks.
struct ResolverConfig {
    std::vector<std::string> servers; // "127.0.0.1:53"; empty: /etc/resolv.conf's
    Duration timeout{2000};           // per try
    uint32_t tries = 2;
};

struct Config {
    std::string path; // the config file, absolute
    unsigned workers = 1;
    ResolverConfig resolver;
    LogConfig log;
    LimitsConfig limits;
    AdminConfig admin;
    // Declaration order matters for destruction: instances before the modules they came from.
    PluginRegistry plugins;
    std::vector<FilterConfig> filters;
    std::vector<UpstreamConfig> upstreams;
    std::vector<HandlerConfig> handlers;
    std::vector<ListenerConfig> listeners;
    // What is valid but worth an operator's look (a certificate about to expire), as
    // "file:line:col: key: message": printed by -t, logged when the config starts serving.
    std::vector<std::string> warnings;

    // The filters a request runs once routing chose target (none for an unknown target).
    const FilterChain *target_filters(Target t) const {
        if (t.kind == Target::Kind::Upstream && t.index < upstreams.size())
            return &upstreams[t.index].filters;
        if (t.kind == Target::Kind::Handler && t.index < handlers.size()) return &handlers[t.index].filters;
        return nullptr;
    }

    const std::string &target_name(Target t) const {
        return t.kind == Target::Kind::Upstream ? upstreams[t.index].name : handlers[t.index].name;
    }
};

} // namespace proxyd
