#!/usr/bin/env bash
# proxyd as a target of the shared benchmark harness (../shared/bench, run.sh).
#
# The harness exports RUN_DIR LISTEN_HOST REVERSE_PORT LB_PORT DEFAULT_BACKEND IMAGES_BACKEND
# PDF_BACKEND LB_BACKENDS LB_COUNT and runs its PROXYD_START command in a process group of its
# own; this script is that command. It writes $RUN_DIR/proxyd.toml and execs proxyd in the
# foreground, so the harness's signal to the group stops it.
#
# The config matches what the harness gives nginx and HAProxy (peers/nginx.sh, peers/haproxy.sh):
#   - reverse listener: path-prefix router, "/" "/images/" "/pdf/" to three upstream groups, the
#     URI passed unchanged (no strip_prefix: every backend serves the whole tree);
#   - lb listener: round-robin over LB_BACKENDS;
#   - upstream keepalive 64 idle connections per peer (nginx: keepalive 64), no access log;
#   - no X-Forwarded-*/Forwarded/Via headers, as nginx's peer config adds none
#     (PROXYD_FORWARD_HEADERS=1 keeps proxyd's defaults on).
#
# Optional environment:
#   PROXYD_BIN       the binary (default: build/proxyd of this checkout)
#   PROXYD_WORKERS   worker threads (default 1)
#   PROXYD_PLUGINS   plugin folder (default: plugins/ beside the binary)
set -euo pipefail
: "${RUN_DIR:?} ${LISTEN_HOST:?} ${REVERSE_PORT:?} ${LB_PORT:?}"
: "${DEFAULT_BACKEND:?} ${IMAGES_BACKEND:?} ${PDF_BACKEND:?} ${LB_BACKENDS:?}"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${PROXYD_BIN:-$repo/build/proxyd}
workers=${PROXYD_WORKERS:-1}
plugins=${PROXYD_PLUGINS:-$(dirname "$bin")/plugins}
[[ -x $bin ]] || { echo "harness-target.sh: no proxyd binary at $bin (set PROXYD_BIN)" >&2; exit 1; }

fwd=false
[[ ${PROXYD_FORWARD_HEADERS:-0} == 1 ]] && fwd=true

# TOML array of the LB peers: "a:1", "b:2", ...
lb_peers=""
for b in $LB_BACKENDS; do lb_peers+="${lb_peers:+, }\"$b\""; done

mkdir -p "$RUN_DIR"
cfg=$RUN_DIR/proxyd.toml
cat >"$cfg" <<EOF
# written by tests/bench/harness-target.sh for the shared benchmark harness (LB_COUNT=${LB_COUNT:-?})
workers = $workers
plugin_dir = "$plugins"

[log]
access = "off"
error = "$RUN_DIR/error.log"
level = "warn"

[limits]
max_connections = 16384
keepalive_timeout = "65s"

[plugins]
prefix = "routing_prefix.so"
round_robin = "balancing_round_robin.so"

[upstreams.web]
peers = ["$DEFAULT_BACKEND"]
keepalive = 64
[upstreams.images]
peers = ["$IMAGES_BACKEND"]
keepalive = 64
[upstreams.pdf]
peers = ["$PDF_BACKEND"]
keepalive = 64
[upstreams.lb]
peers = [$lb_peers]
balancer = "round_robin"
keepalive = 64

[[listeners]]
name = "reverse"
listen = "$LISTEN_HOST:$REVERSE_PORT"
x_forwarded = $fwd
forwarded = $fwd
via = $fwd
[listeners.router]
plugin = "prefix"
routes = [
  { prefix = "/images/", upstream = "images" },
  { prefix = "/pdf/", upstream = "pdf" },
  { prefix = "/", upstream = "web" },
]

[[listeners]]
name = "lb"
listen = "$LISTEN_HOST:$LB_PORT"
upstream = "lb"
x_forwarded = $fwd
forwarded = $fwd
via = $fwd
EOF

"$bin" -t -c "$cfg" >/dev/null
exec "$bin" -c "$cfg"
