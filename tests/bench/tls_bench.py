#!/usr/bin/env python3
"""TLS side by side: proxyd and nginx 1.22 in one run, same ECDSA P-256 certificate, TLS 1.3.

    python3 tests/bench/tls_bench.py --proxyd /tmp/build-bench/proxyd            # all cells, 3 reps
    python3 tests/bench/tls_bench.py --proxyd ... --targets proxyd-w1,nginx-w1 --cells wrk1k --reps 5

Targets (each one process tree, started once and kept for the whole run): proxyd with workers = 1
and 2, nginx with worker_processes 1 and 2. Each serves three listeners from its port base B:
B   HTTPS reverse proxy to bench.py's backends (one separate nginx, cleartext, keep-alive 64),
B+1 HTTPS static files (the fixture tree, with a 1 KiB file added),
B+2 cleartext static files (the same tree: the reference for idle memory).
Ports: proxyd-w1 24201, nginx-w1 24211, proxyd-w2 24221, nginx-w2 24231 (+0..2).

Cells (every one repeated --reps times, the targets back to back with the start position rotating,
so all see the same state of a shared machine):
  full      full handshakes: h2load --h1 -H 'Connection: close' -c 16 -n 1500 (a new TLS 1.3
            connection, ECDHE X25519 + ECDSA P-256 signature, per request of 1 KiB)
  stime     full handshakes, one at a time: openssl s_time -new (a GET of 1 KiB per connection)
  resumed   resumed handshakes: openssl s_time -reuse (session tickets; TLS 1.3 PSK + ECDHE)
  wrk1k     1 KiB keep-alive through the HTTPS reverse proxy: wrk -t1 -c50
  static1k  1 KiB keep-alive from HTTPS static files: wrk -t1 -c50
  pdfstatic the 548,797-byte PDF from HTTPS static files: wrk -t1 -c10
  pdfproxy  the same PDF through the HTTPS reverse proxy: wrk -t1 -c10
  idle      RSS per idle connection, on the target restarted for it (memory that earlier cells
            freed would hide the cost): N connections to the cleartext static listener, each
            with one request answered and then idle in keep-alive; RSS delta / N. Then, those
            still open, the same on the HTTPS static listener. Ratio TLS / cleartext.
Per run: the target's CPU µs per request or per handshake (on-CPU time of all threads of all its
processes, /proc/PID/task/*/schedstat before and after, divided by the requests or connections
completed), requests or connections per second, errors; each CPU figure also as a ratio to the
nginx target with the same worker count, from the same repetition. The table gives the median and
the min-max over the repetitions. Loopback only; every load is bounded in time; every process
started here is stopped by its PID (its process group) on exit.
"""
import argparse
import json
import os
import re
import resource
import selectors
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from idle_conns import settle as settled_rss  # noqa: E402

HOST = bench.HOST
# name -> (kind, workers, port base)
TARGETS = {
    "proxyd-w1": ("proxyd", 1, 24201),
    "nginx-w1": ("nginx", 1, 24211),
    "proxyd-w2": ("proxyd", 2, 24221),
    "nginx-w2": ("nginx", 2, 24231),
}
CELLS = ["full", "stime", "resumed", "wrk1k", "static1k", "pdfstatic", "pdfproxy", "idle"]
ONE_K = "/static/1k.bin"
PDF = "/pdf/report.pdf"

NGINX_CONF = """worker_processes {workers};
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    types {{ text/html html; application/pdf pdf; }}
    default_type application/octet-stream;
    # nginx's defaults otherwise: session tickets on (keys per worker process unless
    # ssl_session_ticket_key is set), no shared session cache, no kTLS.
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.3;
    # proxyd's default TLS 1.3 suites, in its order, the server's order deciding and ChaCha20 for a
    # client that puts it first: each client gets the same suite from both servers (left to the
    # client, nginx gives wrk AES-256-GCM and h2load AES-128-GCM).
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    ssl_conf_command Options PrioritizeChaCha;

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffer_size 16k;
    proxy_buffers 8 16k;
    proxy_max_temp_file_size 0;
    upstream web {{ server {web}; keepalive 64; keepalive_requests 1000000; }}
    upstream pdf {{ server {pdf}; keepalive 64; keepalive_requests 1000000; }}

    server {{
        listen {host}:{p0} ssl backlog=4096;
        location /     {{ proxy_pass http://web; }}
        location /pdf/ {{ proxy_pass http://pdf; }}
    }}
    server {{
        listen {host}:{p1} ssl backlog=4096;
        root {www};
    }}
    server {{
        listen {host}:{p2} backlog=4096;
        root {www};
    }}
}}
"""

PROXYD_CONF = """workers = {workers}
plugin_dir = "{plugins}"
[log]
access = "off"
error = "{run}/error.log"
level = "warn"
[limits]
max_connections = 16384
keepalive_timeout = "65s"
[plugins]
prefix = "routing_prefix.so"
static = "content_static.so"
[upstreams.web]
peers = ["{web}"]
keepalive = 64
[upstreams.pdf]
peers = ["{pdf}"]
keepalive = 64
[handlers.site]
plugin = "static"
root = "{www}"

[[listeners]]
name = "tls-proxy"
listen = "{host}:{p0}"
tls = {{ certificate = "{cert}", key = "{key}", protocols = ["TLSv1.3"] }}
x_forwarded = false
forwarded = false
via = false
[listeners.router]
plugin = "prefix"
routes = [{{ prefix = "/pdf/", upstream = "pdf" }}, {{ prefix = "/", upstream = "web" }}]

[[listeners]]
name = "tls-static"
listen = "{host}:{p1}"
tls = {{ certificate = "{cert}", key = "{key}", protocols = ["TLSv1.3"] }}
handler = "site"

[[listeners]]
name = "clear-static"
listen = "{host}:{p2}"
handler = "site"
"""


def make_certificate(folder):
    cert, key = os.path.join(folder, "bench.crt"), os.path.join(folder, "bench.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=bench.test",
                    "-addext", "subjectAltName=DNS:bench.test"], check=True, capture_output=True)
    return cert, key


def start_target(procs, name, run, www, cert, key, proxyd_bin, generation=0):
    kind, workers, base = TARGETS[name]
    d = os.path.join(run, name if generation == 0 else f"{name}.{generation}")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    v = {"workers": workers, "run": d, "www": www, "cert": cert, "key": key, "host": HOST,
         "p0": base, "p1": base + 1, "p2": base + 2,
         "web": f"{HOST}:{bench.REV_BACKENDS['default']}", "pdf": f"{HOST}:{bench.REV_BACKENDS['pdf']}",
         "plugins": os.path.join(os.path.dirname(os.path.abspath(proxyd_bin)), "plugins")}
    for port in (base, base + 1, base + 2):
        if bench.port_busy(port):
            raise SystemExit(f"tls_bench: port {port} is in use")
    if kind == "proxyd":
        cfg = os.path.join(d, "proxyd.toml")
        with open(cfg, "w") as f:
            f.write(PROXYD_CONF.format(**v))
        argv = [proxyd_bin, "-c", cfg]
    else:
        cfg = os.path.join(d, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(NGINX_CONF.format(**v))
        argv = ["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", cfg, "-g", "daemon off;"]
    p = procs.start(argv, os.path.join(d, "out.log"))
    for port in (base, base + 1, base + 2):
        if not bench.wait_port(port):
            procs.stop(p)
            raise SystemExit(f"tls_bench: {name} did not listen on {port}; see {d}")
    return p


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def smoke(name, sizes):
    """Every listener answers 200 with the right body, over TLS 1.3 where it should."""
    base = TARGETS[name][2]
    for port, scheme, uri in ((base, "https", ONE_K), (base, "https", PDF), (base + 1, "https", ONE_K),
                              (base + 1, "https", PDF), (base + 2, "http", ONE_K)):
        ctx = tls_context() if scheme == "https" else None
        with urllib.request.urlopen(f"{scheme}://{HOST}:{port}{uri}", timeout=5, context=ctx) as r:
            body = r.read()
            if r.status != 200 or len(body) != sizes[uri]:
                raise SystemExit(f"tls_bench: {name} {scheme}://:{port}{uri}: {r.status}, {len(body)} bytes")
    with socket.create_connection((HOST, base + 1), 5) as raw, \
            tls_context().wrap_socket(raw, server_hostname="bench.test") as s:
        if s.version() != "TLSv1.3":
            raise SystemExit(f"tls_bench: {name} negotiated {s.version()}")


# ---------------------------------------------------------------- load clients
def run_h2load(url, conns, count, logdir, tag):
    # A count, not -D: h2load 1.52 with -D and Connection: close stops without its summary.
    return run_h2load_argv(["h2load", "--h1", "-H", "Connection: close", "-t1", "-c", str(conns), "-n", str(count),
                            url], logdir, tag)


def run_h2load_argv(argv, logdir, tag):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    with open(os.path.join(logdir, tag + ".log"), "w") as f:
        f.write(" ".join(argv) + "\n" + out)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", out)
    done = int(m.group(4)) if m else 0
    errors = (int(m.group(5)) + int(m.group(6)) + int(m.group(7))) if m else 1
    m2 = re.search(r"status codes: (\d+) 2xx", out)
    if m2 and int(m2.group(1)) != done:
        errors += done - int(m2.group(1))
    m3 = re.search(r"finished in ([\d.]+)(ms|s),", out)
    wall = (float(m3.group(1)) / (1000 if m3.group(2) == "ms" else 1)) if m3 else 0.0
    # Connection: close makes every request its own connection: one full handshake each.
    return {"requests": done, "rps": done / wall if wall else 0.0, "errors": errors + (1 if r.returncode else 0)}


def run_s_time(port, mode, seconds, logdir, tag):
    argv = ["openssl", "s_time", "-connect", f"{HOST}:{port}", mode, "-time", str(seconds), "-www", ONE_K]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout + r.stderr
    with open(os.path.join(logdir, tag + ".log"), "w") as f:
        f.write(" ".join(argv) + "\n" + out)
    # s_time reports "N connections in T real seconds" for the timed loop only
    m = re.findall(r"(\d+) connections in ([\d.]+) real seconds", out)
    n, wall = (int(m[-1][0]), float(m[-1][1])) if m else (0, float(seconds))
    errors = 0 if (m and r.returncode == 0) else 1
    return {"requests": n, "rps": n / wall if wall else 0.0, "errors": errors}


def idle_connections(port, n, use_tls):
    """n connections, each with one complete keep-alive request and response; returns the sockets."""
    ctx = tls_context() if use_tls else None
    req = f"GET {ONE_K} HTTP/1.1\r\nHost: bench.test\r\n\r\n".encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection((HOST, port), 5)
        if ctx:
            s = ctx.wrap_socket(s, server_hostname="bench.test")
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit(f"tls_bench: idle connection {len(socks)} closed by the server")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"content-length:\s*(\d+)", buf[:end], re.I)
                if m and len(buf) >= end + 4 + int(m.group(1)):
                    break
        if b" 200 " not in buf[:16]:
            raise SystemExit(f"tls_bench: idle connection answered {buf[:40]!r}")
        socks.append(s)
    return socks


def measure_idle(pids, base, n):
    """On a freshly started target: N idle cleartext connections, then (those still open, so that
    the TLS ones cannot reuse their memory) N idle TLS connections."""
    for s in idle_connections(base + 2, 1, False) + idle_connections(base + 1, 1, True):
        s.close()
    before = settled_rss(pids)
    clear = idle_connections(base + 2, n, False)
    with_clear = settled_rss(pids)
    tls = idle_connections(base + 1, n, True)
    with_tls = settled_rss(pids)
    for s in clear + tls:
        s.close()
    res = {"clear": (with_clear - before) * 1024 / n, "tls": (with_tls - with_clear) * 1024 / n, "requests": n}
    res["ratio"] = res["tls"] / res["clear"] if res["clear"] > 0 else float("nan")
    return res


# ---------------------------------------------------------------- callgrind
CALLGRIND_LOADS = {
    # cell -> (listener offset, URI, client argv after the URL is known, how many)
    "full": (1, ONE_K, lambda url, n: ["h2load", "--h1", "-H", "Connection: close", "-c4", "-n", str(n), url], 300),
    "resumed": (1, ONE_K, None, 300),
    # 10 connections' handshakes are counted too: about 2,400 instructions per request at 10,000
    "wrk1k": (0, ONE_K, lambda url, n: ["h2load", "--h1", "-c10", "-n", str(n), url], 10000),
    "static1k": (1, ONE_K, lambda url, n: ["h2load", "--h1", "-c10", "-n", str(n), url], 10000),
    "pdfstatic": (1, PDF, lambda url, n: ["h2load", "--h1", "-c4", "-n", str(n), url], 200),
    "pdfproxy": (0, PDF, lambda url, n: ["h2load", "--h1", "-c4", "-n", str(n), url], 200),
}


def callgrind_totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return 0


def callgrind_cell(procs, run, www, cert, key, binary, label, cell, backends_up):
    """Instructions per request (or per connection) of proxyd-w1 under callgrind: counters zeroed
    after a warm-up, dumped after a bounded load, so the total divided by the count is repeatable."""
    offset, uri, client, count = CALLGRIND_LOADS[cell]
    base = TARGETS["proxyd-w1"][2]
    d = os.path.join(run, f"callgrind-{label}-{cell}")
    p = start_target(procs, "proxyd-w1", d, www, cert, key, binary)  # writes the config
    procs.stop(p)
    cfg = os.path.join(d, "proxyd-w1", "proxyd.toml")
    out = os.path.join(d, "callgrind.out")
    p = procs.start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no", binary,
                     "-c", cfg], os.path.join(d, "valgrind.log"))
    try:
        for port in (base, base + 1, base + 2):
            if not bench.wait_port(port, 60):
                raise SystemExit(f"tls_bench: proxyd under valgrind did not listen on {port}; see {d}")
        url = f"https://{HOST}:{base + offset}{uri}"

        def load(n):
            if client is None:
                return run_s_time(base + offset, "-reuse", max(2, n // 100), d, f"load-{n}")["requests"]
            r = run_h2load_argv(client(url, n), d, f"load-{n}")
            return r["requests"] - r["errors"]
        load(max(20, count // 10))
        subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, timeout=60)
        done = load(count)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, timeout=60)
        time.sleep(0.5)
    finally:
        procs.stop(p, timeout=30)
    dumps = sorted((f for f in os.listdir(d) if f.startswith("callgrind.out.")), key=lambda f: os.path.getmtime(
        os.path.join(d, f)))
    total = callgrind_totals(os.path.join(d, dumps[-1])) if dumps else 0
    return total / max(done, 1), done


# ---------------------------------------------------------------- report
def spread(values, spec):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, spec)
    return f"{format(med, spec)} ({format(min(values), spec)}–{format(max(values), spec)})"


def reference(name):
    return "nginx-w%d" % TARGETS[name][1]


def report(rows, targets, cells):
    lines = []
    perf_cells = [c for c in cells if c != "idle"]
    if perf_cells:
        lines += ["| cell | target | CPU µs per request/handshake | ratio to nginx (same workers) | per second | errors |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for cell in perf_cells:
            for t in targets:
                mine = [r for r in rows if r["cell"] == cell and r["target"] == t]
                if not mine:
                    continue
                ratios = []
                for r in mine:
                    ref = [x for x in rows if x["cell"] == cell and x["target"] == reference(t) and x["rep"] == r["rep"]]
                    if ref and ref[0]["us_req"] > 0:
                        ratios.append(r["us_req"] / ref[0]["us_req"])
                lines.append(f"| {cell} | {t} | {spread([r['us_req'] for r in mine], '.1f')} | "
                             f"{spread(ratios, '.2f')} | {spread([r['rps'] for r in mine], '.0f')} | "
                             f"{sum(r['errors'] for r in mine)} |")
    if "idle" in cells:
        lines += ["", "| target | RSS per idle TLS conn (B) | per idle cleartext conn (B) | TLS / cleartext |",
                  "| --- | --- | --- | --- |"]
        for t in targets:
            mine = [r for r in rows if r["cell"] == "idle" and r["target"] == t]
            if mine:
                lines.append(f"| {t} | {spread([r['tls'] for r in mine], '.0f')} | "
                             f"{spread([r['clear'] for r in mine], '.0f')} | {spread([r['ratio'] for r in mine], '.2f')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", default=os.environ.get("PROXYD_BIN", os.path.join(bench.REPO, "build", "proxyd")))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3, help="length of each timed load")
    ap.add_argument("--handshakes", type=int, default=1500, help="connections of the full cell (h2load -n)")
    ap.add_argument("--conns", type=int, default=2000, help="idle connections per listener in the idle cell")
    ap.add_argument("--callgrind", action="append", metavar="NAME=PROXYD",
                    help="instead of the timed cells: instructions per request of these proxyd builds (workers = "
                         "1) under callgrind, for the cells given (not idle, not stime)")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-tlsbench"))
    a = ap.parse_args()
    targets = a.targets.split(",")
    cells = a.cells.split(",")
    for t in targets:
        if t not in TARGETS:
            raise SystemExit(f"tls_bench: unknown target {t} (known: {', '.join(TARGETS)})")
    for c in cells:
        if c not in CELLS:
            raise SystemExit(f"tls_bench: unknown cell {c} (known: {', '.join(CELLS)})")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.conns + 200 > hard:
        raise SystemExit(f"tls_bench: {a.conns} idle connections do not fit the fd limit {hard}")
    run = os.path.join(a.out, "results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(run)
    www = os.path.join(a.out, "www")
    bench.make_fixtures(www)
    with open(os.path.join(www, ONE_K.lstrip("/")), "wb") as f:
        f.write(bytes((i * 13 + 5) & 0xFF for i in range(1024)))
    sizes = {ONE_K: 1024, PDF: os.path.getsize(os.path.join(www, PDF.lstrip("/")))}
    cert, key = make_certificate(run)
    for port in list(bench.REV_BACKENDS.values()) + bench.LB_POOL:
        if bench.port_busy(port):
            raise SystemExit(f"tls_bench: backend port {port} is in use (another benchmark running?)")
    procs = bench.Procs()
    rows = []
    if a.callgrind:
        builds = [b.split("=", 1) for b in a.callgrind]
        lines = ["| cell | " + " | ".join(f"{name} instructions" for name, _ in builds) + " | count |",
                 "| --- |" + " --- |" * (len(builds) + 1)]
        try:
            bench.start_backends(procs, run, www)
            for cell in cells:
                if cell not in CALLGRIND_LOADS:
                    continue
                figures = []
                for name, binary in builds:
                    per, done = callgrind_cell(procs, run, www, cert, key, binary, name, cell, True)
                    figures.append(per)
                    print(f"  callgrind {cell} {name}: {per:,.0f} instructions per request ({done})", flush=True)
                lines.append(f"| {cell} | " + " | ".join(f"{x:,.0f}" for x in figures) + f" | {done} |")
        finally:
            procs.stop_all()
        print("\n" + "\n".join(lines))
        with open(os.path.join(run, "callgrind.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return
    try:
        backends = bench.start_backends(procs, run, www)
        backend_pids = bench.descendants(backends.pid)
        pids, started = {}, {}
        for t in targets:
            started[t] = start_target(procs, t, run, www, cert, key, a.proxyd)
            time.sleep(0.3)
            pids[t] = bench.descendants(started[t].pid)
            smoke(t, sizes)
        print(f"tls_bench: results in {run}", flush=True)
        for rep in range(a.reps):
            for ci, cell in enumerate(cells):
                shift = (rep + ci) % len(targets)
                for t in targets[shift:] + targets[:shift]:
                    base = TARGETS[t][2]
                    tag = f"{cell}-{t}-r{rep}"
                    if cell == "idle":
                        # a fresh process: memory freed by earlier cells would hide the cost
                        procs.stop(started[t])
                        started[t] = start_target(procs, t, run, www, cert, key, a.proxyd, rep + 1)
                        time.sleep(0.3)
                        pids[t] = bench.descendants(started[t].pid)
                        res = measure_idle(pids[t], base, a.conns)
                        res["us_req"], res["rps"], res["errors"] = 0.0, 0.0, 0
                    else:
                        if cell == "full":
                            fn = lambda: run_h2load(f"https://{HOST}:{base + 1}{ONE_K}", 16, a.handshakes, run,
                                                    tag)
                        elif cell in ("stime", "resumed"):
                            mode = "-new" if cell == "stime" else "-reuse"
                            fn = lambda: run_s_time(base + 1, mode, a.seconds, run, tag)
                        else:
                            port = base + 1 if cell in ("static1k", "pdfstatic") else base
                            uri = ONE_K if cell in ("wrk1k", "static1k") else PDF
                            conns = 50 if uri == ONE_K else 10
                            fn = lambda: bench.run_wrk(f"https://{HOST}:{port}{uri}", conns, a.seconds, run, tag)
                        res = bench.measure(fn, pids[t], backend_pids)
                    res.update({"cell": cell, "target": t, "rep": rep})
                    rows.append(res)
                    if cell == "idle":
                        print(f"  {tag}: TLS {res['tls']:.0f} B/conn, cleartext {res['clear']:.0f} B/conn",
                              flush=True)
                    else:
                        print(f"  {tag}: {res['us_req']:.1f} µs/req, {res['rps']:.0f}/s, errors {res['errors']}, "
                              f"foreign load {res['other_cores']:.2f} cores", flush=True)
    finally:
        procs.stop_all()
    with open(os.path.join(run, "raw.json"), "w") as f:
        json.dump(rows, f, indent=1)
    table = report(rows, targets, cells)
    with open(os.path.join(run, "results.md"), "w") as f:
        f.write(table + "\n")
    print("\n" + table)


if __name__ == "__main__":
    main()
