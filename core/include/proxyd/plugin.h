/*
 * proxyd plugin ABI — the whole boundary between the proxyd core and a plugin.
 *
 * A plugin is a shared object that exports one function, PROXYD_PLUGIN_ENTRY, returning a
 * constant descriptor. Only C types cross this boundary (no C++ type, toml++ node, libuv handle or
 * exception), so a plugin built with another compiler or standard library still loads.
 *
 * Versioning: the core refuses a plugin whose abi_major differs from its own, or whose abi_minor is
 * newer than its own. A plugin built against an older minor loads; the struct_size fields tell the
 * core which trailing members exist.
 * New members are only ever appended; each is marked with the minor that added it ("1.1"), and
 * the core never reads one past the struct_size the plugin gave. A frozen copy of each older
 * header is built in proxyd's tests, so old plugins are proven to keep loading.
 *
 * What each minor added (docs/writing-plugins.md tells more):
 *   1.1  content plugins' cancelled and max_body, request_body, worker_post, create_worker_ex,
 *        balancers' attempt_done, the config_plugin_name and config_peer_* calls
 *   1.2  request_tls and proxyd_tls_info
 *   1.3  the filter kind, request-head editing, request_respond, response_head_*, per-request
 *        state, timer_start, queue_work, filter_resume, the request view's request_id and scheme
 *   1.4  subrequest_start and subrequest_cancel; balancers' response_head (sticky sessions)
 *   1.5  a content plugin's body may be several response_body and response_file calls in any
 *        order (a 1.4 proxyd took at most one file range, and no bytes with it); no new member
 *   1.6  the request view's protocol (HTTP/2.0 told apart) and received_ns (when it began)
 *   1.7  a routing plugin may answer with a redirect (PROXYD_ROUTE_REDIRECT, proxyd_route's
 *        location), as nginx sends /images to /images/
 *
 * Lifetimes and threads (each hook runs only on the thread named):
 *   module    the .so itself. Loaded and unloaded on the main thread; stays mapped while any
 *             instance created from it is alive.
 *   instance  one TOML plugin block. create_instance/destroy_instance run on the main thread.
 *             The instance is immutable once create_instance returns, so workers share it
 *             without locks.
 *   worker    per-instance state of one worker thread: create_worker/destroy_worker and every
 *             hook taking that worker pointer run on that worker's thread only.
 *   request   per request, on its worker; memory from proxyd_host.request_alloc, and state kept
 *             with request_state_set (1.3), live as long as the request: until its last log
 *             hook returns, or, for a hook that keeps it past its return (a content plugin's
 *             response, a pending filter), until the matching finish, resume or cancelled.
 *   host      the proxyd_host table handed to create_instance belongs to the config generation
 *             that created the instance: valid until destroy_instance returns (a reload makes a
 *             new generation with its own table), so an instance may keep the pointer.
 *
 * One instance per config item: each upstream group gets its own balancer instance, each listener
 * or route its own routing and content instances, even when several name the same plugin.
 * Workers share an instance; an instance may keep state that workers change only through its
 * own synchronisation (atomics, a short mutex), since hooks of several workers run at once.
 *
 * Ownership: everything the core passes into a hook is borrowed until the hook returns, unless
 * a member's comment says otherwise. What a plugin allocates, only the plugin frees. Strings are
 * (pointer, length) and are not NUL-terminated unless stated.
 *
 * Errors: functions return int, 0 (PROXYD_OK) on success and a negative PROXYD_E* on failure.
 * As in libuv: if a host call that takes a callback returns an error, the callback is never
 * called.
 */
#ifndef PROXYD_PLUGIN_H
#define PROXYD_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROXYD_ABI_MAJOR 1
#define PROXYD_ABI_MINOR 7

/* The one symbol every plugin exports. */
#define PROXYD_PLUGIN_ENTRY proxyd_plugin_entry
#define PROXYD_PLUGIN_ENTRY_NAME "proxyd_plugin_entry"

#if defined(__GNUC__)
#define PROXYD_EXPORT __attribute__((visibility("default")))
#else
#define PROXYD_EXPORT
#endif

enum {
    PROXYD_OK = 0,
    PROXYD_EINVAL = -1,   /* an argument or a config value is not acceptable */
    PROXYD_ENOENT = -2,   /* not found (config key, header, target) */
    PROXYD_ETYPE = -3,    /* a config value has another type */
    PROXYD_ESTATE = -4,   /* the call is not allowed in the object's current state */
    PROXYD_ENOMEM = -5,
    PROXYD_EIO = -6,      /* an I/O error (sending a response, opening a file) */
    PROXYD_EPLUGIN = -7   /* a plugin-specific failure, already logged by the plugin */
};

typedef struct proxyd_str {
    const char *ptr;
    size_t len;
} proxyd_str;

typedef enum proxyd_kind {
    PROXYD_KIND_ROUTING = 1,
    PROXYD_KIND_BALANCING = 2,
    PROXYD_KIND_CONTENT = 3,
    PROXYD_KIND_FILTER = 4 /* 1.3 */
} proxyd_kind;

typedef enum proxyd_log_level {
    PROXYD_LOG_ERROR = 0,
    PROXYD_LOG_WARN = 1,
    PROXYD_LOG_INFO = 2,
    PROXYD_LOG_DEBUG = 3
} proxyd_log_level;

/* ---------------------------------------------------------------------------------------------
 * Configuration: a read-only view of the plugin's own TOML table.
 * Nodes are owned by the core and valid until destroy_instance returns.
 */
typedef struct proxyd_config_node proxyd_config_node;

typedef enum proxyd_config_type {
    PROXYD_CONFIG_NONE = 0, /* the node pointer was NULL (key absent) */
    PROXYD_CONFIG_STRING,
    PROXYD_CONFIG_INTEGER,
    PROXYD_CONFIG_FLOAT,
    PROXYD_CONFIG_BOOLEAN,
    PROXYD_CONFIG_ARRAY,
    PROXYD_CONFIG_TABLE,
    PROXYD_CONFIG_OTHER /* dates and times */
} proxyd_config_type;

/* Handed to create_instance; says where the instance's block came from. Valid during
 * create_instance only. */
typedef struct proxyd_load_context proxyd_load_context;

/* ---------------------------------------------------------------------------------------------
 * Requests and responses, as plugins see them.
 */
typedef struct proxyd_request_handle proxyd_request_handle;   /* opaque, owned by the core */
typedef struct proxyd_response_handle proxyd_response_handle; /* opaque, owned by the core */

typedef struct proxyd_request {
    uint32_t struct_size;
    proxyd_str method;      /* "GET", as sent */
    proxyd_str target;      /* the raw request-target, "/a%20b?x=1" */
    proxyd_str path;        /* the path part of target, percent-encoded but for unreserved
                               characters ("%61" is "a", "%2e" "."), with its dot segments removed
                               and runs of slashes merged: what routing and filters decide on;
                               after a routing plugin rewrote it, the rewritten path */
    proxyd_str query;       /* after '?', without it; empty when absent */
    proxyd_str host;        /* the Host header (or the authority of an absolute-form target) */
    /* 1, with http_minor 0 or 1: the HTTP/1.x rules the request follows. A request of an
     * HTTP/2 stream reads 1.1 here; `protocol` (1.6) says what the client spoke. */
    uint8_t http_major;
    uint8_t http_minor;
    proxyd_str client_address; /* "127.0.0.1" */
    const proxyd_request_handle *handle; /* for host calls about this request */

    /* ---- 1.3 ---- */
    proxyd_str request_id; /* the X-Request-ID the client sent when it is valid (1 to 200
                              characters of [A-Za-z0-9._:-]), else one proxyd made; one a
                              filter set replaces it (request_set_header); the same value goes
                              to the upstream and the access log */
    proxyd_str scheme;     /* "https" on a TLS listener, else "http" */

    /* ---- 1.6 ---- (a subrequest's balancer sees the client request's two) */
    proxyd_str protocol;  /* what the client spoke, as the access log writes it: "HTTP/1.0",
                             "HTTP/1.1" or "HTTP/2.0" (h2 over TLS and cleartext h2c alike) */
    uint64_t received_ns; /* when the request began (its first byte; an HTTP/2 stream's first
                             HEADERS frame; a pipelined request's when proxyd turns to it, after
                             the one before), in nanoseconds of CLOCK_MONOTONIC (clock_gettime's;
                             libuv's uv_hrtime on Linux): now minus this is the time the request
                             has taken, the access log's request_time */
} proxyd_request;

/* A routing target: an upstream group or a content handler, resolved to an id at load time. */
typedef enum proxyd_target_kind {
    PROXYD_TARGET_UPSTREAM = 1,
    PROXYD_TARGET_HANDLER = 2
} proxyd_target_kind;

/* The core zeroes it before each route call, so a plugin sets only what its result uses. */
typedef struct proxyd_route {
    uint32_t target;       /* an id from proxyd_host.resolve_target */
    proxyd_str rewritten_path; /* {NULL,0}: keep the path. Otherwise a path starting with '/'
                                  that lives at least as long as the request (in the instance,
                                  or in request_alloc memory). */
    /* ---- 1.7 ---- */
    proxyd_str location; /* PROXYD_ROUTE_REDIRECT's Location field value, as sent: a path
                            ("/images/", query included if wanted) or an absolute URI; the same
                            lifetime rules as rewritten_path. Ignored for the other results. */
} proxyd_route;

typedef enum proxyd_route_result {
    PROXYD_ROUTE_DECLINE = 0, /* not mine: the listener's default target answers */
    PROXYD_ROUTE_MATCH = 1,
    /* ---- 1.7 ---- */
    /* Answer with a redirect to route->location and route nowhere: 301 to a GET or HEAD, 308
     * (which keeps the method and body, RFC 9110 §15.4.9) to any other method, whose body is
     * read and dropped. Neither the listener's default target nor any target's filters see the
     * request; the listener's filters already have. A route hook of a plugin that declares an
     * older minor returning it counts as DECLINE; an empty location, or one with a byte outside
     * visible ASCII (a blank, CR LF, UTF-8: percent-encode it), gets 500 and an error in the log. */
    PROXYD_ROUTE_REDIRECT = 2
} proxyd_route_result;

/* A peer of an upstream group as balancers see it. The array handed to pick() has the same
 * length and order on every call for one instance, so worker state may index by position. Its
 * layout is frozen: what later minors tell about peers comes through other structures. */
typedef struct proxyd_peer {
    proxyd_str address; /* as written: "127.0.0.1:9001", "https://api.internal:443" */
    uint32_t weight;    /* >= 1 */
    bool down;          /* out of rotation: passive health (max_fails), a health check or an
                           outlier ejection has it down. When no untried peer is up, every peer
                           is offered again with down false (Envoy's panic routing; nginx and
                           HAProxy answer 502/503 at once instead), except for an empty slot
                           of a DNS-discovered group, which stays down */
} proxyd_peer;

typedef enum proxyd_outcome {
    PROXYD_OUTCOME_SUCCESS = 0,       /* outcome(): a response head arrived.
                                         attempt_done(): the whole response arrived */
    PROXYD_OUTCOME_CONNECT_FAILED = 1,
    PROXYD_OUTCOME_TIMEOUT = 2,       /* no progress within the upstream's timeouts */
    PROXYD_OUTCOME_BROKEN = 3,        /* closed or garbage (before the head for outcome(); before
                                         the end of the response for attempt_done()) */
    PROXYD_OUTCOME_ABORTED = 4        /* 1.1, attempt_done() only: proxyd ended the attempt itself:
                                         the client left, or a stop or reload cut it */
} proxyd_outcome;

/* 1.1: how one attempt on a peer ended, for balancing hooks' attempt_done. */
typedef struct proxyd_attempt {
    uint32_t struct_size;
    proxyd_outcome outcome;
    int status;           /* the response's status; 0 when no final head arrived */
    uint64_t duration_ns; /* from the pick to the end of the attempt (monotonic clock) */
} proxyd_attempt;

/* 1.1: what a worker is, handed to create_worker_ex. Valid until destroy_worker returns. */
typedef struct proxyd_worker_handle proxyd_worker_handle; /* opaque, owned by the core */
typedef struct proxyd_worker_info {
    uint32_t struct_size;
    uint32_t index;                      /* 0 .. count-1 within the config generation */
    uint32_t count;                      /* the generation's workers (the config's workers) */
    const proxyd_worker_handle *handle;  /* for worker_post */
} proxyd_worker_info;

/* 1.2: how a client's certificate fared (mTLS), in proxyd_tls_info. */
typedef enum proxyd_tls_verify {
    PROXYD_TLS_VERIFY_NONE = 0,    /* no certificate asked for, or none sent */
    PROXYD_TLS_VERIFY_SUCCESS = 1, /* sent, and it chains to the listener's client_ca */
    PROXYD_TLS_VERIFY_FAILED = 2   /* sent but not verified (verify_client = "optional" only) */
} proxyd_tls_verify;

/* 1.2: the TLS a request came over, filled by request_tls. The plugin sets struct_size to
 * sizeof(proxyd_tls_info) as it was built; the core writes no member past it. The strings live
 * as long as the request; an absent one is empty (length 0). */
typedef struct proxyd_tls_info {
    uint32_t struct_size;
    proxyd_str version;     /* "TLSv1.3" */
    proxyd_str cipher;      /* "TLS_AES_128_GCM_SHA256" */
    proxyd_str server_name; /* the SNI name the client sent; empty without one */
    proxyd_str alpn;        /* "http/1.1"; empty when the client offered none */
    bool session_reused;    /* the handshake resumed a session (ticket or cache) */
    proxyd_tls_verify client_verify;
    proxyd_str client_subject;      /* RFC 4514 distinguished name; only with VERIFY_SUCCESS */
    proxyd_str client_fingerprint;  /* SHA-256 of the DER certificate, lower-case hex; only with
                                       VERIFY_SUCCESS */
    proxyd_str client_verify_error; /* OpenSSL's reason, with VERIFY_FAILED; empty otherwise */
} proxyd_tls_info;

/* 1.3: one header field. Its layout is frozen (arrays of it are handed with a count). */
typedef struct proxyd_header {
    proxyd_str name;
    proxyd_str value;
} proxyd_header;

/* 1.3: what a filter's log hook learns once an exchange is over. The core sets struct_size to the
 * size it was built with; a plugin reads a member only when struct_size covers it. Strings live
 * until the hook returns. */
typedef struct proxyd_exchange_summary {
    uint32_t struct_size;
    int status;                /* the status the client was sent; 0 when no response went out */
    uint64_t body_bytes;       /* response body bytes written to the client */
    proxyd_str upstream;       /* the last peer tried, "127.0.0.1:9001"; empty when none */
    int upstream_status;       /* that peer's final status; 0 when none arrived */
    uint64_t duration_ns;      /* from the request's first byte to the end of the response */
    bool completed;            /* the whole response went out (false: the client left, a stop cut
                                  it, or the response broke after its head) */
} proxyd_exchange_summary;

/* 1.3: a timer started with timer_start. Opaque, owned by the core. */
typedef struct proxyd_timer proxyd_timer;

/* 1.4: a subrequest started with subrequest_start. Opaque, owned by the core. */
typedef struct proxyd_subrequest proxyd_subrequest;

/* 1.4: the most response body a subrequest reads; the rest is not read (body_truncated). */
#define PROXYD_SUBREQUEST_MAX_BODY 4096

/* 1.4: what to send, handed to subrequest_start. Borrowed until that call returns (the core
 * copies what it sends). The request has no body. */
typedef struct proxyd_subrequest_spec {
    uint32_t struct_size;         /* sizeof(proxyd_subrequest_spec) as the plugin was built */
    uint32_t upstream;            /* a target id of an upstream group (resolve_target at load) */
    proxyd_str method;            /* a token, "GET" when empty */
    proxyd_str path;              /* origin-form, starting with '/': "/auth?scope=x" */
    const proxyd_header *headers; /* fields to send; Host defaults to the peer's authority */
    size_t header_count;
} proxyd_subrequest_spec;

/* 1.4: how a subrequest ended. */
typedef enum proxyd_subrequest_result {
    PROXYD_SUBREQUEST_RESPONSE = 0, /* a final response head arrived: status, headers, body */
    PROXYD_SUBREQUEST_FAILED = 1,   /* no peer, connect refused, closed or invalid response */
    PROXYD_SUBREQUEST_TIMEOUT = 2   /* the group's connect/read timeouts ran out */
} proxyd_subrequest_result;

/* 1.4: handed to a subrequest's done callback; everything in it lives until the callback returns.
 * The core sets struct_size; a plugin reads a member only when struct_size covers it. */
typedef struct proxyd_subrequest_response {
    uint32_t struct_size;
    proxyd_subrequest_result result;
    int status;                   /* the final status (RESPONSE); 0 otherwise */
    const proxyd_header *headers; /* the response's fields as received (RESPONSE) */
    size_t header_count;
    proxyd_str body;     /* at most PROXYD_SUBREQUEST_MAX_BODY bytes of the body */
    bool body_truncated; /* the body was longer; the rest was not read */
} proxyd_subrequest_response;

/* ---------------------------------------------------------------------------------------------
 * Host calls: the functions the core offers to plugins. The table is valid as long as the config
 * generation of the instance it was handed to (see "host" above). Each says which thread may call
 * it; a call from another thread is refused with PROXYD_ESTATE and logged (a debug build aborts).
 */
typedef struct proxyd_host {
    uint32_t struct_size;

    /* -- Configuration (main thread, during create_instance) -- */

    /* The value under key in a table node, or NULL when the key is absent (or node is not a
     * table). key is NUL-terminated. */
    const proxyd_config_node *(*config_get)(const proxyd_config_node *table, const char *key);
    proxyd_config_type (*config_type)(const proxyd_config_node *node);
    int (*config_string)(const proxyd_config_node *node, proxyd_str *out); /* NUL-terminated */
    int (*config_integer)(const proxyd_config_node *node, int64_t *out);
    int (*config_float)(const proxyd_config_node *node, double *out); /* integers convert */
    int (*config_boolean)(const proxyd_config_node *node, bool *out);
    /* Number of elements of an array or entries of a table; 0 for anything else. */
    size_t (*config_size)(const proxyd_config_node *node);
    /* Element i of an array, or NULL. */
    const proxyd_config_node *(*config_at)(const proxyd_config_node *array, size_t index);
    /* Entry i of a table (in key order): its key (NUL-terminated) and value; NULL past the end. */
    const proxyd_config_node *(*config_entry)(const proxyd_config_node *table, size_t index,
                                              proxyd_str *key);

    /* Reports a configuration error at node (or at the plugin block when node is NULL). The
     * core prints "file:line:col: plugin NAME: message" and the load fails once create_instance
     * returns. message is NUL-terminated and borrowed. A message starting "unknown key" about a
     * value of the plugin's block points at that value's key instead. */
    void (*config_error)(proxyd_load_context *ctx, const proxyd_config_node *node,
                         const char *message);

    /* A path from the config made absolute: relative paths are taken from the config file's
     * folder. Writes a NUL-terminated string into buf; PROXYD_EINVAL when it does not fit. */
    int (*config_resolve_path)(proxyd_load_context *ctx, proxyd_str path, char *buf,
                               size_t buf_size);

    /* Parses another TOML file (a data file of the plugin's, such as a MIME table; the path is
     * resolved like config_resolve_path) and returns its root table, owned by the core until
     * destroy_instance returns. On failure the core reports the error (naming that file, line and
     * column, or at node when the file cannot be read) and returns NULL. */
    const proxyd_config_node *(*config_load_file)(proxyd_load_context *ctx, proxyd_str path,
                                                  const proxyd_config_node *node);

    /* Looks up a target by name for a routing plugin (or, 1.3, a filter): an upstream group or
     * content handler declared in the config. On PROXYD_ENOENT the core has already reported the
     * error at node. */
    int (*resolve_target)(proxyd_load_context *ctx, proxyd_target_kind kind, proxyd_str name,
                          const proxyd_config_node *node, uint32_t *target_id);

    /* -- Requests (the request's worker thread, while the request is alive) -- */

    /* The first header named name (case-insensitive); PROXYD_ENOENT when absent. */
    int (*request_header)(const proxyd_request_handle *request, proxyd_str name,
                          proxyd_str *value);
    size_t (*request_header_count)(const proxyd_request_handle *request);
    int (*request_header_at)(const proxyd_request_handle *request, size_t index, proxyd_str *name,
                             proxyd_str *value);
    /* Memory freed with the request; NULL when out of memory. Aligned for any scalar type. */
    void *(*request_alloc)(const proxyd_request_handle *request, size_t size);

    /* -- Responses of content plugins (the request's worker thread) --
     * Order: status and headers, then the body, then finish exactly once. The body is what
     * response_body and response_file calls give, concatenated in call order; from 1.5 they may
     * come several times each and in any order (1.0 to 1.4: bytes, or one file range).
     * The core adds Date, Server, Content-Length (the sum of the parts) and the Connection
     * handling itself. */
    int (*response_status)(proxyd_response_handle *response, int status);
    int (*response_header)(proxyd_response_handle *response, proxyd_str name, proxyd_str value);
    /* Body bytes appended, copied by the core. */
    int (*response_body)(proxyd_response_handle *response, const void *data, size_t len);
    /* Body from an open file, appended: [offset, offset+length) of fd, sent without copying
     * (sendfile) and never held in memory whole. Several ranges of one file may name the same
     * descriptor (1.5): it is read at each range's offset, never at its file position.
     * OWNERSHIP: the core owns fd from this call on, on success and on failure, and closes it
     * once, after the last range that names it (a range of length 0 adds no bytes). */
    int (*response_file)(proxyd_response_handle *response, int fd, uint64_t offset,
                         uint64_t length);
    /* Marks the response complete and sends it. After a HEAD request the core sends the head
     * only, with the Content-Length the body would have had. */
    int (*response_finish)(proxyd_response_handle *response);

    /* -- Anywhere, any thread -- */
    /* Writes message to the error log as "[level] plugin NAME: message". host is the table the
     * plugin was handed (the core keeps its logger beside it). */
    void (*log)(const struct proxyd_host *host, proxyd_log_level level, proxyd_str plugin_name,
                proxyd_str message);

    /* ---- 1.1 ---- */

    /* -- Configuration (main thread, during create_instance) -- */
    /* The name the plugin was declared under in [plugins] (or its built-in name), for log(). The
     * string lives as long as the instance's config generation. */
    int (*config_plugin_name)(proxyd_load_context *ctx, proxyd_str *name);
    /* For a balancer: the peers of the upstream group the instance is created for, in the order
     * pick() will see them. PROXYD_ESTATE for other kinds. The address lives as long as the
     * config generation. */
    size_t (*config_peer_count)(proxyd_load_context *ctx);
    int (*config_peer_at)(proxyd_load_context *ctx, size_t index, proxyd_str *address, uint32_t *weight);

    /* -- Requests (the request's worker thread) -- */
    /* The request body read for a content plugin whose hooks set max_body (1.1); {NULL,0} and
     * PROXYD_ENOENT when the request had none. Valid as long as the request. */
    int (*request_body)(const proxyd_request_handle *request, proxyd_str *body);

    /* -- Any thread -- */
    /* Runs fn(arg) soon on the worker's own thread (its event loop): the way back to a worker
     * for a plugin that did work elsewhere (a thread of its own) and must now call a worker-
     * thread host call such as response_finish. Calls posted from one thread run in order.
     * PROXYD_ESTATE once the worker is stopping (fn is then never called): that is once a stop or
     * reload has drained the worker's connections; during the drain posts still run, so a parked
     * response can finish. A call accepted runs exactly once, before destroy_worker is called.
     * The plugin must stop posting before its destroy_worker returns. */
    int (*worker_post)(const proxyd_worker_handle *worker, void (*fn)(void *arg), void *arg);

    /* ---- 1.2 ---- */

    /* -- Requests (the request's worker thread) -- */
    /* The TLS the request came over: PROXYD_OK with info filled, PROXYD_ENOENT over cleartext,
     * PROXYD_EINVAL when info->struct_size does not cover the 1.2 members. */
    int (*request_tls)(const proxyd_request_handle *request, proxyd_tls_info *info);

    /* ---- 1.3 ---- */

    /* -- Requests: editing the head (the request's worker thread; only from a filter's
     * request_head hook, or while that hook is pending, before filter_resume; PROXYD_ESTATE
     * otherwise). Names and values are copied; a name must be a token and a value must hold no CR,
     * LF or NUL (PROXYD_EINVAL). Changes are seen by the next filters, routing, the content plugin
     * and the upstream; the proxyd_request view handed to later hooks reflects them. -- */

    /* Replaces every field called name with one field (appended where the first one was).
     * Framing fields (Content-Length, Transfer-Encoding) cannot be set or added (PROXYD_EINVAL),
     * nor a second Host added. X-Request-ID is the request's id: a value set (or added, which
     * then replaces it as set does: a request has one id) must be a valid one (see request_id;
     * PROXYD_EINVAL otherwise) and becomes request_id, for later hooks, the upstream and the
     * access log; once it is removed, proxyd makes the request an id of its own. Host becomes
     * the upstream's Host (X-Forwarded-Host and Forwarded keep the client's): it must be a
     * non-empty host[:port], without whitespace, controls, a backslash, '"', '#', '/', '<', '>',
     * '?', '@', '^', '`', '{', '|' or '}' (PROXYD_EINVAL), as a client's Host must. */
    int (*request_set_header)(const proxyd_request_handle *request, proxyd_str name, proxyd_str value);
    /* Adds a field after the others, even when one of that name exists. */
    int (*request_add_header)(const proxyd_request_handle *request, proxyd_str name, proxyd_str value);
    /* Removes every field called name; PROXYD_ENOENT when there was none. Framing fields
     * (Content-Length, Transfer-Encoding) and Host cannot be removed (PROXYD_EINVAL). */
    int (*request_remove_header)(const proxyd_request_handle *request, proxyd_str name);
    /* A new method token ("GET"); the body framing stays as the client sent it. */
    int (*request_set_method)(const proxyd_request_handle *request, proxyd_str method);
    /* A new path, percent-encoded and starting with '/'. With a '?' the part after it replaces the
     * query (a trailing '?' removes it); without one the query is kept. */
    int (*request_set_path)(const proxyd_request_handle *request, proxyd_str path);
    /* Sends the request to a target (an id from resolve_target, which filters may call at load
     * time) instead of what routing would choose. Listener filters only: they run before routing,
     * which is then skipped. PROXYD_ESTATE from a target's own filters. */
    int (*request_route_to)(const proxyd_request_handle *request, uint32_t target);

    /* Answers the request from a filter: status (200-599), extra fields, and a body that is
     * copied. The core adds Date, Server, Content-Length and the connection handling, and any
     * request body is read and discarded. The filter then returns (or resumes with)
     * PROXYD_FILTER_RESPONDED. Response-head filters still see this response; log hooks run.
     * Content-Length, Transfer-Encoding, Connection and Date among headers: PROXYD_EINVAL; a
     * second answer for the same request: PROXYD_ESTATE. */
    int (*request_respond)(const proxyd_request_handle *request, int status,
                           const proxyd_header *headers, size_t header_count, proxyd_str body);

    /* -- Response heads: only inside a filter's response_head hook, or (1.4) a balancer's
     * (PROXYD_ESTATE otherwise).
     * Every final response of a request that reached a filter passes there: proxied, a content
     * plugin's, a filter's own answer, and the error pages proxyd makes (4xx/5xx). Interim (1xx)
     * heads and a 101 do not, nor the answer to a head refused while it was read (400, 431,
     * 414, 505), which reaches no filter. Values are
     * copied. Framing fields (Content-Length, Transfer-Encoding), Connection and Date are the
     * core's: changing them is refused with PROXYD_EINVAL. -- */
    int (*response_head_status)(const proxyd_request_handle *request);
    /* A new status for the response (200-599), keeping its body; 1xx, 204 and 304 cannot be
     * set or replaced (their framing differs): PROXYD_EINVAL. */
    int (*response_head_set_status)(const proxyd_request_handle *request, int status);
    /* The first field called name; PROXYD_ENOENT when absent. Valid until the hook returns. */
    int (*response_head_header)(const proxyd_request_handle *request, proxyd_str name,
                                proxyd_str *value);
    size_t (*response_head_header_count)(const proxyd_request_handle *request);
    int (*response_head_header_at)(const proxyd_request_handle *request, size_t index,
                                   proxyd_str *name, proxyd_str *value);
    int (*response_head_set_header)(const proxyd_request_handle *request, proxyd_str name,
                                    proxyd_str value);
    int (*response_head_add_header)(const proxyd_request_handle *request, proxyd_str name,
                                    proxyd_str value);
    int (*response_head_remove_header)(const proxyd_request_handle *request, proxyd_str name);

    /* -- Per-request state (the request's worker thread, while the request is alive) -- */
    /* Keeps state for this request under key (a plugin's instance pointer is the usual key).
     * free_state (may be NULL) is called once with state when the request ends, after the log
     * hooks, on the worker thread; setting a key again replaces its state and frees the old one
     * the same way. */
    int (*request_state_set)(const proxyd_request_handle *request, const void *key, void *state,
                             void (*free_state)(void *state));
    /* The state kept under key, or NULL. */
    void *(*request_state_get)(const proxyd_request_handle *request, const void *key);

    /* -- Waiting (the worker's own thread) -- */
    /* The worker a request runs on, for timer_start and queue_work from a request's hooks. */
    const proxyd_worker_handle *(*request_worker)(const proxyd_request_handle *request);
    /* Calls fn(arg) once on the worker's thread after delay_ms, unless timer_cancel is called
     * first. *timer identifies it until fn runs or timer_cancel returns; the core frees it then.
     * PROXYD_ESTATE once the worker is stopping. Timers still pending when the worker ends are
     * cancelled without a call: a plugin cancels its own timers in destroy_worker or in a
     * request's cancelled hook. */
    int (*timer_start)(const proxyd_worker_handle *worker, uint64_t delay_ms, void (*fn)(void *arg),
                       void *arg, proxyd_timer **timer);
    /* fn will not be called after this returns. Only for a timer that has not fired. */
    void (*timer_cancel)(proxyd_timer *timer);
    /* Runs work(arg) on libuv's thread pool (a thread of no worker: it may block, and must not
     * call any host call but log), then done(arg) on the worker's thread. Both are called exactly
     * once when this returns PROXYD_OK, done before destroy_worker; a stop waits for work
     * running. PROXYD_ESTATE once the worker is stopping. */
    int (*queue_work)(const proxyd_worker_handle *worker, void (*work)(void *arg),
                      void (*done)(void *arg), void *arg);
    /* Resumes a request whose filter's request_head returned PROXYD_FILTER_PENDING, with what
     * the hook would have returned: CONTINUE (the next filter runs, then routing) or RESPONDED
     * (after request_respond). Once per pending hook, on the worker's thread; PROXYD_ESTATE when
     * the request is not pending (it may have been cancelled: see the filter's cancelled hook).
     * The request goes on inside this call (the next filters, the exchange), so it may be over,
     * and its handle and state gone, when filter_resume returns: touch neither afterwards. */
    int (*filter_resume)(const proxyd_request_handle *request, int status);

    /* ---- 1.4 ---- */

    /* -- Subrequests (the request's worker thread, while the request is alive; a filter's or a
     * content plugin's) -- */
    /* Sends a bodiless request to an upstream group, through the group's balancer and pool, with
     * its connect and read timeouts, its retries (max_tries, on other peers, for a failure before
     * any response byte) and its passive health, as a proxied request; then calls
     * done(arg, response) once, on the worker's thread, with the final response's status, fields
     * and up to PROXYD_SUBREQUEST_MAX_BODY bytes of its body. *subrequest identifies it until done
     * runs or subrequest_cancel returns. The request line is "METHOD path HTTP/1.1"; proxyd adds
     * Host (the peer's authority, unless headers hold one) and the request's X-Request-ID, and
     * nothing else: no X-Forwarded-*, no client field it was not handed. The subrequest shows in
     * no access-log line (the request's line names the peer it was proxied to).
     * CANCELLING: when the request ends (its response is complete, the client left, a stop cut
     * it) its subrequests still running are cancelled and done is NOT called for them: a filter
     * that is pending hears its cancelled hook, a content plugin its cancelled hook, and drops
     * its arg there (subrequest_cancel may still be called from those hooks).
     * PROXYD_EINVAL for a bad spec (not an upstream, a path not starting with '/' or holding a
     * space or control byte, a bad field, or Content-Length, Transfer-Encoding, Connection,
     * Upgrade or TE among them); PROXYD_ESTATE when the request is over or the worker is
     * stopping, and (logged) when called outside a filter's request_head (running or pending) and
     * a content plugin's answer (from handle until response_finish): from a balancer's pick, a
     * route, a response_head or log hook, where nothing would wait for it; PROXYD_EIO when it
     * failed at once (no peer could be tried). On any error done is never called. */
    int (*subrequest_start)(const proxyd_request_handle *request, const proxyd_subrequest_spec *spec,
                            void (*done)(void *arg, const proxyd_subrequest_response *response), void *arg,
                            proxyd_subrequest **subrequest);
    /* done will not be called after this returns; the subrequest's connection is closed.
     * PROXYD_ENOENT when subrequest is not one of the request's running subrequests (done has
     * run, or it was cancelled already). */
    int (*subrequest_cancel)(const proxyd_request_handle *request, proxyd_subrequest *subrequest);
    /* -- Balancers (inside pick, on the request's worker thread; PROXYD_ESTATE anywhere else) -- */
    /* Fills in_flight[i] with the requests in flight on peer i of the group being picked for,
     * counted over every worker of the process: each attempt from its pick until its end (what
     * attempt_done hears), this worker's own included. peer_count must be pick's (PROXYD_EINVAL
     * otherwise). Approximate: each count is read on its own (relaxed atomics) while other
     * workers pick and finish, so the set is no snapshot and may be a few off; a discovered slot
     * that got another peer counts from zero again. One call per pick reads every peer; the
     * array is the plugin's. */
    int (*pick_in_flight)(const proxyd_request_handle *request, uint32_t *in_flight, size_t peer_count);
} proxyd_host;

/* ---------------------------------------------------------------------------------------------
 * Hook tables, one per kind. Each starts with its own struct_size.
 */
typedef struct proxyd_routing_hooks {
    uint32_t struct_size;
    /* Maps a request to a target, or declines, or (1.7) answers with a redirect. Request thread;
     * must not block. */
    proxyd_route_result (*route)(void *instance, void *worker, const proxyd_request *request,
                                 proxyd_route *route);
} proxyd_routing_hooks;

typedef struct proxyd_balancing_hooks {
    uint32_t struct_size;
    /* Index of the peer to try, or -1 when none is acceptable. tried[i] is true for peers this
     * request already tried, and for peers it may not use now (an empty slot of a DNS-discovered
     * group, a peer drained or in maintenance, a peer at its max_connections); a balancer must
     * not pick those. Request thread. */
    int (*pick)(void *instance, void *worker, const proxyd_peer *peers, size_t peer_count,
                const bool *tried, const proxyd_request *request);
    /* Told when an attempt on peer index got a response head (SUCCESS) or failed before one
     * (CONNECT_FAILED, TIMEOUT, BROKEN): what passive health needs. Not called when the client
     * leaves first: use attempt_done to balance every pick. May be NULL. Request thread. */
    void (*outcome)(void *instance, void *worker, size_t peer_index, proxyd_outcome outcome);

    /* ---- 1.1 ---- */
    /* Called exactly once for every pick, when that attempt ends, however it ends: the whole
     * response arrived, a failure before or after the head, the client leaving, a stop or reload
     * cutting the connection (ABORTED). Counting picks minus attempt_done calls gives the
     * requests in flight per peer (least-connections). May be NULL. Request thread.
     * A 101 (WebSocket) stays in flight as long as its tunnel: it ends as SUCCESS, status 101,
     * when the tunnel closes, however it closes. A pooled connection that the peer had closed as
     * proxyd reused it ends its pick as BROKEN (outcome() is not told: not the peer's failure),
     * and the request picks again. status is the final head's whenever one arrived, also when the
     * body then failed; duration_ns includes connecting. */
    void (*attempt_done)(void *instance, void *worker, size_t peer_index, const proxyd_attempt *attempt);

    /* ---- 1.4 ---- */
    /* A final response head from peer (peer_index in pick's array), the peer this balancer picked
     * for request, is about to be written to the client: read and change it through the
     * response_head_* host calls, as a filter's response_head hook does (the target's and the
     * listener's filters run after this hook and see what it changed). What a balancer that keeps
     * a client on its peer needs to tell the client which peer that is (a cookie). Not called for
     * interim (1xx) heads, a 101, or the error pages proxyd makes when no peer answered. peer is
     * valid until the hook returns. May be NULL. Request thread. */
    void (*response_head)(void *instance, void *worker, const proxyd_peer *peer, size_t peer_index,
                          const proxyd_request *request);
} proxyd_balancing_hooks;

typedef struct proxyd_content_hooks {
    uint32_t struct_size;
    /* Answers a request through the response host calls. Return PROXYD_OK when finish was
     * called or will be called later on this worker thread (worker_post brings a plugin back to
     * it); a negative code without finish makes the core answer 500. Must not block for long.
     * LIFETIME: request and response stay valid past the hook's return until response_finish
     * returns, or until cancelled (1.1) returns; the response handle is gone after either. */
    int (*handle)(void *instance, void *worker, const proxyd_request *request,
                  proxyd_response_handle *response);

    /* ---- 1.1 ---- */
    /* The client left (or a stop cut the connection) before response_finish was called for a
     * response that handle returned with PROXYD_OK. Called once, on the worker thread; the
     * request and the response handle are freed when it returns, so the plugin must drop them
     * and never call response_* for them again. May be NULL: the core then keeps the response
     * until response_finish (as ABI 1.0 did) and frees it when the worker ends. */
    void (*cancelled)(void *instance, void *worker, proxyd_response_handle *response);
    /* Non-zero: the core reads the whole request body, up to this many bytes (a larger one is
     * answered 413), before calling handle; request_body returns it. 0: handle runs at the head
     * and the body is discarded. */
    uint64_t max_body;
} proxyd_content_hooks;

/* 1.3: what a filter's request_head hook decides. */
typedef enum proxyd_filter_status {
    PROXYD_FILTER_CONTINUE = 0,  /* on to the next filter, then routing and the target */
    PROXYD_FILTER_RESPONDED = 1, /* the filter answered with request_respond: nothing further runs
                                    but the response-head and log hooks */
    PROXYD_FILTER_PENDING = 2    /* the filter will call filter_resume later on this worker's
                                    thread (after a timer, queue_work, a worker_post, a
                                    subrequest (1.4)) */
} proxyd_filter_status;

/* 1.3: a filter, in a chain declared per listener (`filters = [...]`, before routing) and per
 * target, an upstream group or a handler (after routing). Each hook may be NULL. All run on the
 * request's worker thread, must not block, and see the proxyd_request view as the filters before
 * them left it. Hooks of one filter run in the order request_head, response_head, log; a chain
 * runs in its order for request_head and in reverse for response_head and log (the listener's
 * chain outside the target's, like nested middleware). */
typedef struct proxyd_filter_hooks {
    uint32_t struct_size;
    /* The request head arrived (the body, if any, has not been read). Read and change the request
     * through the request_* host calls; answer it (request_respond, then RESPONDED); or return
     * PENDING and resume it later (filter_resume). A negative int makes the core answer 500. */
    int (*request_head)(void *instance, void *worker, const proxyd_request *request);
    /* A final response's head is about to be written; read and change it through the
     * response_head_* host calls. Runs for every request that reached this filter's chain,
     * including the answers of filters before it and proxyd's own error pages. */
    void (*response_head)(void *instance, void *worker, const proxyd_request *request);
    /* The exchange is over, however it ended (also when the client left). Read-only; request
     * host calls that read still work; the request ends when the last log hook returns. */
    void (*log)(void *instance, void *worker, const proxyd_request *request,
                const proxyd_exchange_summary *summary);
    /* The request ended (the client left, a stop cut it, or the wait outlasted the listener's
     * limits.filter_timeout and the core answered 500) while this filter's request_head was
     * pending. Called once, instead of a resume; the plugin must drop its references to the
     * request and must not call filter_resume for it. After a filter_timeout the response_head
     * hooks run for the 500, then the log hooks; its request state is freed after those.
     * May be NULL only for a filter that never returns PENDING. */
    void (*cancelled)(void *instance, void *worker, const proxyd_request *request);
} proxyd_filter_hooks;

/* ---------------------------------------------------------------------------------------------
 * The descriptor returned by PROXYD_PLUGIN_ENTRY. Constant, owned by the plugin, valid while the
 * module is loaded.
 */
typedef struct proxyd_plugin_descriptor {
    uint32_t abi_major;   /* PROXYD_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;
    uint32_t struct_size; /* sizeof(proxyd_plugin_descriptor) as the plugin was built */
    uint32_t kind;        /* a proxyd_kind value (an integer here, so any value can be checked) */
    const char *name;     /* NUL-terminated, e.g. "round_robin" */
    const char *version;  /* NUL-terminated, the plugin's own version */

    /* Main thread. Validates config (reporting each problem through host->config_error) and
     * creates the instance. Returns PROXYD_OK and sets *instance, or a negative code. */
    int (*create_instance)(const proxyd_host *host, proxyd_load_context *ctx,
                           const proxyd_config_node *config, void **instance);
    void (*destroy_instance)(void *instance);

    /* On the worker's own thread. May be NULL when the plugin keeps no per-worker state; the
     * worker pointer handed to hooks is then NULL. */
    int (*create_worker)(void *instance, void **worker);
    void (*destroy_worker)(void *instance, void *worker);

    /* Exactly the one matching kind is non-NULL. */
    const proxyd_routing_hooks *routing;
    const proxyd_balancing_hooks *balancing;
    const proxyd_content_hooks *content;

    /* ---- 1.1 ---- */
    /* When non-NULL, called instead of create_worker (on the worker's own thread), with which
     * worker it is, how many the generation has, and a handle for worker_post. */
    int (*create_worker_ex)(void *instance, const proxyd_worker_info *info, void **worker);

    /* ---- 1.3 ---- */
    const proxyd_filter_hooks *filter; /* the hooks of a PROXYD_KIND_FILTER plugin */
} proxyd_plugin_descriptor;

typedef const proxyd_plugin_descriptor *(*proxyd_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* PROXYD_PLUGIN_H */
