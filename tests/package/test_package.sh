#!/usr/bin/env bash
# The Debian package, end to end, on this machine (needs root; it installs and purges "proxyd"):
# build the .deb with cpack, check what it holds, install it with dpkg, validate and serve the
# installed reverse profile, build the SDK example against the installed SDK and serve it, then
# purge the package and check that nothing of it is left.
#
#   tests/package/test_package.sh [--build-dir DIR]
#
# DIR is a build folder configured with -DCMAKE_INSTALL_PREFIX=/usr (the binary has its plugin
# folder compiled in, so the package must install where the build expects). Without it a Release
# build is configured in a temporary folder. Exit 0 on success, 77 when skipped (not root).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=""
while (($#)); do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR]" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: the package test installs a .deb with dpkg and needs root"
  exit 77
fi

step() { echo "=== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

profile_ports=(18000 18001 8888 8889 8890)
profile_lock=${TMPDIR:-/tmp}/proxyd-integration-profile-ports.lock
work=$(mktemp -d "${TMPDIR:-/tmp}/proxyd-package-test.XXXXXX")
pids=()
installed_by_us=0

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if ((installed_by_us)); then
    echo "cleanup: purging the proxyd package"
    dpkg --purge proxyd >/dev/null || echo "cleanup: dpkg --purge proxyd failed" >&2
  fi
  if ((rc != 0)); then
    for log in "$work"/*.log; do
      [[ -f $log ]] || continue
      echo "--- $(basename "$log") (last 40 lines)"
      tail -n 40 "$log"
    done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# Loopback only: is anything listening on 127.0.0.1:port?
port_in_use() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_proxyd LOG PORT ARGS...: starts the installed proxyd in the background, waits (bounded)
# until PORT answers; the PID is in $started_pid.
start_proxyd() {
  local log=$1 port=$2; shift 2
  /usr/sbin/proxyd "$@" >"$log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 100); do
    kill -0 "$started_pid" 2>/dev/null || fail "proxyd $* exited at start-up (see $(basename "$log"))"
    port_in_use "$port" && return 0
    sleep 0.1
  done
  fail "proxyd $* did not listen on 127.0.0.1:$port within 10 s"
}

# stop_proxyd PID: SIGTERM, then expects a clean exit 0 within 15 s.
stop_proxyd() {
  local pid=$1 status=0
  kill -TERM "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "proxyd (pid $pid) still running 15 s after SIGTERM"
  wait "$pid" || status=$?
  ((status == 0)) || fail "proxyd (pid $pid) exited with status $status after SIGTERM"
}

# ---- preconditions ---------------------------------------------------------------------------------
for tool in dpkg dpkg-deb cmake cpack curl pkg-config python3 flock nm; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
if dpkg-query -W -f='${Status}' proxyd 2>/dev/null | grep -qv 'not-installed'; then
  fail "a proxyd package is already on this machine ($(dpkg-query -W -f='${Status}' proxyd)); this test installs and purges its own, so remove that one first (dpkg --purge proxyd)"
fi
[[ -e /etc/proxyd || -e /usr/sbin/proxyd || -e /usr/lib/proxyd ]] &&
  fail "/etc/proxyd, /usr/sbin/proxyd or /usr/lib/proxyd exists without the package; refusing to overwrite it"

# ---- build the package -----------------------------------------------------------------------------
if [[ -n $build_dir ]]; then
  # Absolute: cpack runs from the work folder below.
  build_dir=$(cd "$build_dir" && pwd) || fail "no build folder $build_dir"
  cache=$build_dir/CMakeCache.txt
  [[ -f $cache ]] || fail "$build_dir is not a configured build folder"
  grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$cache" ||
    fail "$build_dir is configured with $(grep '^CMAKE_INSTALL_PREFIX' "$cache"); the package needs -DCMAKE_INSTALL_PREFIX=/usr"
  step "package from $build_dir ($(grep '^CMAKE_BUILD_TYPE' "$cache"))"
else
  build_dir=$work/build
  step "configure and build a Release build in $build_dir"
  cmake -S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DPROXYD_BUILD_TESTS=OFF -DPROXYD_WERROR=ON >"$work/configure.log" 2>&1 || fail "cmake configure failed"
  cmake --build "$build_dir" -j"${JOBS:-2}" >"$work/build.log" 2>&1 || fail "build failed"
fi
step "cpack -G DEB"
(cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/deb") >"$work/cpack.log" 2>&1 ||
  fail "cpack failed"
debs=("$work"/deb/proxyd_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "cpack made no single proxyd_*.deb: $(ls "$work/deb")"
deb=${debs[0]}
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"
dpkg-deb -f "$deb" Package Version Architecture Depends Installed-Size | sed 's/^/  /'

depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *libuv1* ]] || fail "Depends lacks libuv1: $depends"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents.txt"
expected_files=(
  /usr/sbin/proxyd
  /usr/lib/proxyd/plugins/routing_prefix.so
  /usr/lib/proxyd/plugins/balancing_round_robin.so
  /usr/lib/proxyd/plugins/balancing_least_conn.so
  /usr/lib/proxyd/plugins/balancing_hash.so /usr/lib/proxyd/plugins/balancing_sticky.so
  /usr/lib/proxyd/plugins/content_static.so
  /usr/lib/proxyd/plugins/filter_headers.so /usr/lib/proxyd/plugins/filter_access.so
  /usr/lib/proxyd/plugins/filter_rate_limit.so /usr/lib/proxyd/plugins/filter_auth.so
  /usr/lib/proxyd/plugins/builtin_plugins.toml
  /etc/proxyd/proxyd.toml /etc/proxyd/reverse.toml /etc/proxyd/lb.toml /etc/proxyd/backends.toml
  /etc/proxyd/mime.toml /etc/logrotate.d/proxyd
  /usr/share/proxyd/www/default/index.html /usr/share/proxyd/www/images/photo.jpg
  /usr/share/proxyd/www/pdf/report.pdf
  /usr/lib/systemd/system/proxyd.service
  /usr/share/man/man8/proxyd.8.gz
  /usr/include/proxyd-1/proxyd/plugin.h /usr/include/proxyd-1/proxyd/plugin.hpp
  /usr/include/proxyd-1/proxyd/testing/fake_host.hpp
  /usr/share/pkgconfig/proxyd-plugin.pc
  /usr/share/doc/proxyd/writing-plugins.md
  /usr/share/doc/proxyd/examples/sdk-example/CMakeLists.txt
  /usr/share/doc/proxyd/examples/sdk-example/echo_json_test.cpp
  /usr/share/doc/proxyd/examples/sdk-example/served_by.cpp
  /usr/share/doc/proxyd/examples/conf/hash.toml /usr/share/doc/proxyd/examples/conf/auth.toml
)
for f in "${expected_files[@]}"; do
  grep -qx "$f" "$work/contents.txt" || fail "the package lacks $f"
done
plugins=$(grep -c '^/usr/lib/proxyd/plugins/.*\.so$' "$work/contents.txt" || true)
[[ $plugins -eq 10 ]] || fail "the package holds $plugins plugins, expected the 10 shipped ones (no test plugins)"
grep -q 'generate.py' "$work/contents.txt" && fail "the package holds www/generate.py"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles.txt"
for f in proxyd reverse lb backends mime; do
  grep -qx "/etc/proxyd/$f.toml" "$work/conffiles.txt" || fail "/etc/proxyd/$f.toml is not a conffile"
done
grep -qx /etc/logrotate.d/proxyd "$work/conffiles.txt" || fail "/etc/logrotate.d/proxyd is not a conffile"

# ---- install -------------------------------------------------------------------------------------------
# The installed reverse profile listens on the fixed profile ports; the integration tests of any
# build on this machine take this lock before using them.
exec 9>>"$profile_lock"
flock -w 900 9 || fail "the profile ports stayed locked ($profile_lock) for 15 minutes"
# Something else may hold them for a while (a benchmark, a manual run): wait a bounded time,
# then fail naming the holders.
port_wait=${PROXYD_PACKAGE_TEST_PORT_WAIT:-120}
for ((waited = 0; ; waited += 2)); do
  busy=()
  for port in "${profile_ports[@]}"; do port_in_use "$port" && busy+=("$port"); done
  ((${#busy[@]} == 0)) && break
  if ((waited >= port_wait)); then
    command -v ss >/dev/null && ss -ltnp | grep -E "127\.0\.0\.1:($(IFS='|'; echo "${busy[*]}"))\b" >&2
    fail "127.0.0.1 port(s) ${busy[*]} stayed in use for ${port_wait} s; the installed reverse profile needs ${profile_ports[*]}"
  fi
  ((waited == 0)) && echo "waiting up to ${port_wait} s for 127.0.0.1 port(s) ${busy[*]} to be free"
  sleep 2
done

step "dpkg -i $(basename "$deb")"
installed_by_us=1
dpkg -i "$deb" >"$work/dpkg-install.log" 2>&1 || fail "dpkg -i failed"
dpkg-query -W -f='${Status}\n' proxyd | grep -q 'install ok installed' || fail "dpkg does not list proxyd as installed"
for f in "${expected_files[@]}"; do
  [[ -e $f ]] || fail "$f is missing after installation"
done
/usr/sbin/proxyd -v
man -w proxyd >/dev/null 2>&1 || fail "man does not find proxyd(8)"
man_warnings=$(MANWIDTH=80 man --warnings -l /usr/share/man/man8/proxyd.8.gz 2>&1 >/dev/null)
[[ -z $man_warnings ]] || fail "proxyd(8) has roff warnings: $man_warnings"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /usr/lib/systemd/system/proxyd.service >"$work/systemd-analyze.log" 2>&1 ||
    fail "systemd-analyze verify rejects proxyd.service"
fi
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' /usr/lib/systemd/system/proxyd.service ||
  fail "proxyd.service has no ExecReload= sending SIGHUP (systemctl reload)"

step "proxyd -t on the installed profiles"
for profile in reverse lb backends proxyd; do
  out=$(/usr/sbin/proxyd -t -c "/etc/proxyd/$profile.toml" 2>&1) || fail "proxyd -t -c /etc/proxyd/$profile.toml: $out"
  [[ $out == *"configuration OK"* ]] || fail "proxyd -t -c /etc/proxyd/$profile.toml said: $out"
done
out=$(/usr/sbin/proxyd -t 2>&1) || fail "proxyd -t (default config): $out"

step "serve /etc/proxyd/reverse.toml"
start_proxyd "$work/reverse.log" 18000 -c /etc/proxyd/reverse.toml
reverse_pid=$started_pid
check_get() { # URL STATUS CONTENT-TYPE-PREFIX [FILE-TO-COMPARE]
  local got
  got=$(curl -sS --max-time 10 -o "$work/body" -w '%{http_code} %{content_type}' "$1") || fail "curl $1 failed"
  [[ $got == "$2 $3"* ]] || fail "GET $1: expected $2 $3, got '$got'"
  if [[ -n ${4:-} ]]; then cmp -s "$work/body" "$4" || fail "GET $1: body differs from $4"; fi
  echo "  GET $1 -> $got"
}
check_get http://127.0.0.1:18000/ 200 text/html /usr/share/proxyd/www/default/index.html
check_get http://127.0.0.1:18000/images/photo.jpg 200 image/jpeg /usr/share/proxyd/www/images/photo.jpg
check_get http://127.0.0.1:18000/pdf/report.pdf 200 application/pdf /usr/share/proxyd/www/pdf/report.pdf
check_get http://127.0.0.1:18000/no-such-page 404 ""
check_get http://127.0.0.1:18001/metrics 200 "text/plain; version=0.0.4"
grep -q '^proxyd_requests_total{listener="reverse",target="images",code="2xx"} 1$' "$work/body" ||
  fail "the installed reverse profile's /metrics does not count the GET /images/photo.jpg"
# What `systemctl reload proxyd` sends: the installed profile is loaded again and keeps serving.
kill -HUP "$reverse_pid"
for _ in $(seq 100); do grep -q 'reloaded configuration (generation 2)' "$work/reverse.log" && break; sleep 0.1; done
grep -q 'reloaded configuration (generation 2)' "$work/reverse.log" || fail "SIGHUP did not reload /etc/proxyd/reverse.toml"
check_get http://127.0.0.1:18000/ 200 text/html /usr/share/proxyd/www/default/index.html
stop_proxyd "$reverse_pid"
grep -q 'upstream=' "$work/reverse.log" || fail "no access-log line from the installed reverse profile"
flock -u 9

# ---- the plugin SDK ------------------------------------------------------------------------------------
step "SDK: pkg-config, the example plugin and its unit test, built against the installed package only"
cflags=$(pkg-config --cflags proxyd-plugin | xargs)
[[ $cflags == "-I/usr/include/proxyd-1" ]] || fail "pkg-config --cflags proxyd-plugin gave '$cflags'"
plugindir=$(pkg-config --variable=plugindir proxyd-plugin)
[[ $plugindir == /usr/lib/proxyd/plugins ]] || fail "pkg-config plugindir is '$plugindir'"
echo "  cflags $cflags, plugindir $plugindir"
cp -r /usr/share/doc/proxyd/examples/sdk-example "$work/sdk-example"
sdk=$work/sdk-example
# Nothing of the source tree may leak in: a fresh CMake project outside it, default search paths.
(cd "$sdk" && env -u CMAKE_PREFIX_PATH -u PKG_CONFIG_PATH cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
  cmake --build build) >"$work/sdk-build.log" 2>&1 || fail "the SDK example does not build against the package"
grep -q "/usr/include/proxyd-1" "$sdk/build/CMakeFiles/echo_json.dir/flags.make" ||
  fail "the SDK example was not compiled with the installed SDK's include folder"
exported=$(nm -D --defined-only "$sdk/build/echo_json.so" | awk '$2 == "T" {print $3}')
[[ $exported == proxyd_plugin_entry ]] || fail "echo_json.so exports more than its entry symbol: $exported"
exported=$(nm -D --defined-only "$sdk/build/served_by.so" | awk '$2 == "T" {print $3}')
[[ $exported == proxyd_plugin_entry ]] || fail "served_by.so exports more than its entry symbol: $exported"
# The guide's testing section: the example's unit test drives echo_json.so with the installed test
# host (<proxyd/testing/fake_host.hpp>), no proxyd running.
grep -q "/usr/include/proxyd-1" "$sdk/build/CMakeFiles/echo_json_test.dir/flags.make" ||
  fail "the SDK example's unit test was not compiled with the installed SDK's include folder"
(cd "$sdk" && ctest --test-dir build -V) >"$work/sdk-unit-test.log" 2>&1 ||
  fail "the SDK example's unit test fails against the installed test host (see sdk-unit-test.log)"
grep -q "100% tests passed, 0 tests failed out of 2" "$work/sdk-unit-test.log" ||
  fail "ctest ran no unit test of the SDK example: $(tail -n 5 "$work/sdk-unit-test.log")"
echo "  unit test: $(grep -m1 'PASS: ' "$work/sdk-unit-test.log" || true)"

port=$(free_port)
sed "s/^listen = \"127.0.0.1:18080\"/listen = \"127.0.0.1:$port\"/" "$sdk/echo.toml" >"$sdk/test.toml"
grep -q "127.0.0.1:$port" "$sdk/test.toml" || fail "could not set the example's port"
out=$(/usr/sbin/proxyd -t -c "$sdk/test.toml" 2>&1) || fail "proxyd -t on the SDK example: $out"

# Its validation is what makes proxyd -t trustworthy: a wrong type, a bad range and a misspelt key.
sed -e 's/^service = .*/service = 42/' -e 's/^include_headers = true/include_headers = true\nstatus = 99\ncolour = "red"/' \
  "$sdk/test.toml" >"$sdk/bad.toml"
if out=$(/usr/sbin/proxyd -t -c "$sdk/bad.toml" 2>&1); then fail "proxyd -t accepted a bad echo_json block"; fi
for want in "'service' must be a string" "'status' must be within 200..599" "unknown key 'colour'"; do
  [[ $out == *"$want"* ]] || fail "proxyd -t on a bad echo_json block does not say \"$want\": $out"
done
[[ $out == *bad.toml:* ]] || fail "the plugin's config errors do not name the file: $out"

start_proxyd "$work/sdk.log" "$port" -c "$sdk/test.toml"
sdk_pid=$started_pid
curl -sS --max-time 10 -H 'X-Test: package "quoted"' "http://127.0.0.1:$port/hello/there?x=1" -o "$work/echo.json" \
  -w '%{http_code} %{content_type}\n' >"$work/echo.status" || fail "curl on the SDK example failed"
[[ $(cat "$work/echo.status") == "200 application/json" ]] || fail "the SDK example answered $(cat "$work/echo.status")"
python3 - "$work/echo.json" "$port" <<'EOF' || fail "the SDK example's JSON is not what was asked: $(cat "$work/echo.json")"
import json, sys
answer = json.load(open(sys.argv[1]))
assert answer["service"] == "sdk-example", answer
assert answer["method"] == "GET" and answer["path"] == "/hello/there" and answer["query"] == "x=1", answer
assert answer["host"] == "127.0.0.1:" + sys.argv[2], answer
assert answer["client"] == "127.0.0.1" and answer["version"] == "1.1", answer
assert ["X-Test", 'package "quoted"'] in answer["headers"], answer
EOF
echo "  GET /hello/there?x=1 -> $(cat "$work/echo.json")"
# The filter example (ABI 1.3): every response stamped, DELETE refused before the handler.
stamp=$(curl -sS --max-time 10 -D - -o /dev/null "http://127.0.0.1:$port/" | tr -d '\r' | grep -i '^X-Served-By:')
[[ $stamp == "X-Served-By: sdk-example" ]] || fail "the SDK filter example did not stamp the response: '$stamp'"
code=$(curl -sS --max-time 10 -X DELETE -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/x")
[[ $code == 405 ]] || fail "the SDK filter example let a DELETE through: $code"
echo "  filter example: $stamp, DELETE -> $code"
stop_proxyd "$sdk_pid"

# ---- purge ---------------------------------------------------------------------------------------------
step "dpkg --purge proxyd"
dpkg --purge proxyd >"$work/dpkg-purge.log" 2>&1 || fail "dpkg --purge failed"
installed_by_us=0
if dpkg-query -W -f='${Status}' proxyd 2>/dev/null | grep -qv 'not-installed'; then
  fail "dpkg still knows proxyd: $(dpkg-query -W -f='${Status}' proxyd)"
fi
for f in "${expected_files[@]}" /etc/proxyd /usr/lib/proxyd /usr/share/proxyd /usr/include/proxyd-1 /usr/share/doc/proxyd; do
  [[ ! -e $f ]] || fail "$f is still there after dpkg --purge"
done
echo "PASS: built, installed, served, built and unit-tested the SDK example against it, purged; nothing left"
