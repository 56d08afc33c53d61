#!/usr/bin/env python3
"""HTTP/2 side by side: proxyd and nginx 1.22, one worker each, same ECDSA P-256 certificate,
TLS 1.3 only, h2 by ALPN; h2load as the client.

    python3 tests/bench/h2_bench.py --proxyd build/proxyd                 # all cells, 3 reps
    python3 tests/bench/h2_bench.py --proxyd ... --cells static1k --reps 5
    python3 tests/bench/h2_bench.py --proxyd ... --baseline OTHER --callgrind --small 2000 --large 100

Each target serves two HTTPS listeners with HTTP/2 on (proxyd `http2 = true`, nginx 1.22
`listen ... ssl http2`) from its port base B:
B   reverse proxy to bench.py's backends (one separate nginx, cleartext HTTP/1.1, keep-alive 64)
B+1 static files (bench.py's fixture tree with a 1 KiB file added).
Ports: proxyd-w1 24301, nginx-w1 24311.

Cells (each repeated --reps times, the targets back to back, the first one alternating):
  proxy1k    1 KiB through the reverse proxy:   h2load -t1 -c 50 -m 10 -n --small
  proxypdf   the 548,797-byte PDF through it:   h2load -t1 -c 50 -m 10 -n --large
  static1k   1 KiB from static files:           the same as proxy1k
  staticpdf  the PDF from static files:         the same as proxypdf
  idle       RSS per idle h2 connection, on the target restarted for it: N TLS connections that
             each did the h2 handshake and one GET of 1 KiB, then stay open; RSS delta / N.
Per run: the target's CPU µs per request (on-CPU time of all threads of its processes, from
/proc/PID/task/*/schedstat before and after: the finer clock behind /proc/PID/stat's utime and
stime), requests per second (h2load's count over its wall time), errors (failed, errored,
timed-out or non-2xx), and the CPU ratio to nginx from the same repetition. Median and min-max
over the repetitions. --baseline BIN adds target proxyd-base (port base 24321), another proxyd
binary (a build of main) measured in the same run. Target proxyd-nginxpool (port base 24331,
added with --targets) is this proxyd with keepalive_surplus_timeout = "0s": nginx's rule of
closing an idle upstream connection beyond keepalive at once, for the proxied cells.
--callgrind runs every target under valgrind's callgrind (nginx without its master process) and
reports instructions per request instead of CPU time: a figure that foreign load on the machine does not move (user-space instructions only: page
faults and system calls are not in it). Loopback only; bounded loads; every process started here is stopped by
its PID (its process group) on exit.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import bench  # noqa: E402
import tls_bench  # noqa: E402
from h2_frames import H2Client, Target, h2  # noqa: E402
from idle_conns import settle as settled_rss  # noqa: E402

HOST = bench.HOST
TARGETS = {"proxyd-w1": ("proxyd", 1, 24301), "nginx-w1": ("nginx", 1, 24311), "proxyd-base": ("proxyd", 1, 24321),
           "proxyd-nginxpool": ("proxyd", 1, 24331)}
# proxyd closing an idle upstream connection beyond keepalive at once, as nginx does, instead of
# keeping it keepalive_surplus_timeout (1s) for the next request.
NGINX_POOL_TARGETS = {"proxyd-nginxpool"}
CELLS = ["proxy1k", "proxypdf", "static1k", "staticpdf", "idle"]
ONE_K = "/static/1k.bin"
PDF = "/pdf/report.pdf"


def _h2_nginx_conf(tls_conf):
    """tls_bench's nginx config (the same certificate, TLS 1.3 settings and upstreams, as the issue
    asks) with HTTP/2 on its two TLS listeners and without its cleartext one."""
    swaps = [("    ssl_protocols TLSv1.3;\n",
              "    ssl_protocols TLSv1.3;\n"
              "    # nginx 1.22's HTTP/2 defaults otherwise: 128 concurrent streams, 3 min idle timeout.\n"),
             (" ssl backlog=4096;", " ssl http2 backlog=4096;"),
             ("    server {{\n        listen {host}:{p2} backlog=4096;\n        root {www};\n    }}\n", "")]
    for old, new in swaps:
        if old not in tls_conf:
            raise SystemExit("h2_bench: tls_bench's nginx config no longer has %r" % old)
        tls_conf = tls_conf.replace(old, new)
    return tls_conf


NGINX_CONF = _h2_nginx_conf(tls_bench.NGINX_CONF)

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
name = "h2-proxy"
listen = "{host}:{p0}"
http2 = true
tls = {{ certificate = "{cert}", key = "{key}", protocols = ["TLSv1.3"] }}
x_forwarded = false
forwarded = false
via = false
[listeners.router]
plugin = "prefix"
routes = [{{ prefix = "/pdf/", upstream = "pdf" }}, {{ prefix = "/", upstream = "web" }}]

[[listeners]]
name = "h2-static"
listen = "{host}:{p1}"
http2 = true
tls = {{ certificate = "{cert}", key = "{key}", protocols = ["TLSv1.3"] }}
handler = "site"
"""


def callgrind_argv(d, argv):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/callgrind.out.%%p" % d] + argv


def callgrind_instructions(pid, d):
    """Instructions since the last zeroing: a dump of the running target, read back."""
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=60)
    dumps = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("callgrind.out.%d." % pid)]
    with open(max(dumps, key=os.path.getmtime)) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise SystemExit("h2_bench: no instruction count in the callgrind dump of %d" % pid)


def start_target(procs, name, run, www, cert, key, proxyd_bin, generation=0, callgrind=False):
    kind, workers, base = TARGETS[name]
    d = os.path.join(run, name if generation == 0 else "%s.%d" % (name, generation))
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    v = {"workers": workers, "run": d, "www": www, "cert": cert, "key": key, "host": HOST, "p0": base,
         "p1": base + 1, "web": "%s:%d" % (HOST, bench.REV_BACKENDS["default"]),
         "pdf": "%s:%d" % (HOST, bench.REV_BACKENDS["pdf"]),
         "plugins": os.path.join(os.path.dirname(os.path.abspath(proxyd_bin)), "plugins")}
    for port in (base, base + 1):
        if bench.port_busy(port):
            raise SystemExit("h2_bench: port %d is in use" % port)
    if kind == "proxyd":
        cfg = os.path.join(d, "proxyd.toml")
        text = PROXYD_CONF.format(**v)
        if name in NGINX_POOL_TARGETS:
            if text.count("keepalive = 64\n") != 2:
                raise SystemExit("h2_bench: PROXYD_CONF no longer has two upstreams with keepalive = 64")
            text = text.replace("keepalive = 64\n", "keepalive = 64\nkeepalive_surplus_timeout = \"0s\"\n")
        with open(cfg, "w") as f:
            f.write(text)
        argv = [proxyd_bin, "-c", cfg]
        if callgrind:
            argv = callgrind_argv(d, argv)
    else:
        cfg = os.path.join(d, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(NGINX_CONF.format(**v))
        argv = ["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", cfg, "-g", "daemon off;"]
        if callgrind:
            argv = callgrind_argv(d, argv[:-1] + ["daemon off; master_process off;"])
    p = procs.start(argv, os.path.join(d, "out.log"))
    for port in (base, base + 1):
        if not bench.wait_port(port, 60.0 if callgrind else 10.0):
            procs.stop(p)
            raise SystemExit("h2_bench: %s did not listen on %d; see %s" % (name, port, d))
    return p


def fetch_h2(port, uri):
    """One GET over TLS h2; returns (client still open, status, body)."""
    c = H2Client(Target(HOST, port, tls=True, authority="bench.test", path=uri), timeout=10)
    stream_id = c.request()
    c.wait(lambda: c.response_done(stream_id), "the response to %s" % uri, timeout=10)
    return c, c.status(stream_id), c.data.get(stream_id, b"")


def smoke(name, sizes):
    """Both listeners answer 200 with the whole body, over h2 (ALPN checked by Target)."""
    base = TARGETS[name][2]
    for port in (base, base + 1):
        for uri in (ONE_K, PDF):
            c, status, body = fetch_h2(port, uri)
            c.close()
            if status != 200 or len(body) != sizes[uri]:
                raise SystemExit("h2_bench: %s :%d%s over h2: %s, %d bytes" % (name, port, uri, status, len(body)))


def measure_idle(pids, base, n):
    """On a freshly started target: N idle h2 connections on the static listener."""
    for _ in range(2):
        fetch_h2(base + 1, ONE_K)[0].close()
    before = settled_rss(pids)
    conns = []
    for _ in range(n):
        c, status, _ = fetch_h2(base + 1, ONE_K)
        if status != 200:
            raise SystemExit("h2_bench: idle connection %d answered %s" % (len(conns), status))
        conns.append(c)
    after = settled_rss(pids)
    for c in conns:
        c.close()
    return {"idle": (after - before) * 1024 / n, "requests": n}


def spread(values, spec):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, spec)
    return "%s (%s–%s)" % (format(med, spec), format(min(values), spec), format(max(values), spec))


def report(rows, targets, cells):
    lines = []
    perf = [c for c in cells if c != "idle"]
    if perf:
        figure = "instructions per request (callgrind)" if any(r.get("callgrind") for r in rows) else "CPU µs per request"
        lines += ["| cell | target | %s | ratio to nginx | requests/s | errors |" % figure,
                  "| --- | --- | --- | --- | --- | --- |"]
        for cell in perf:
            for t in targets:
                mine = [r for r in rows if r["cell"] == cell and r["target"] == t]
                if not mine:
                    continue
                ratios = []
                for r in mine:
                    ref = [x for x in rows if x["cell"] == cell and x["target"] == "nginx-w1" and x["rep"] == r["rep"]]
                    if ref and ref[0]["us_req"] > 0:
                        ratios.append(r["us_req"] / ref[0]["us_req"])
                lines.append("| %s | %s | %s | %s | %s | %d |" % (
                    cell, t, spread([r["us_req"] for r in mine], ".1f"), spread(ratios, ".2f"),
                    spread([r["rps"] for r in mine], ".0f"), sum(r["errors"] for r in mine)))
    if "idle" in cells:
        lines += ["", "| target | RSS per idle h2 connection over TLS (bytes) |", "| --- | --- |"]
        for t in targets:
            mine = [r for r in rows if r["cell"] == "idle" and r["target"] == t]
            if mine:
                lines.append("| %s | %s |" % (t, spread([r["idle"] for r in mine], ".0f")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", default=os.environ.get("PROXYD_BIN", os.path.join(bench.REPO, "build", "proxyd")))
    ap.add_argument("--baseline", help="another proxyd binary, measured as target proxyd-base")
    ap.add_argument("--callgrind", action="store_true", help="instructions per request under callgrind")
    ap.add_argument("--targets", default="proxyd-w1,nginx-w1")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--small", type=int, default=20000, help="requests per 1 KiB run (h2load -n)")
    ap.add_argument("--large", type=int, default=1000, help="requests per PDF run (h2load -n)")
    ap.add_argument("--conns", type=int, default=1000, help="idle h2 connections in the idle cell")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-h2bench"))
    a = ap.parse_args()
    if h2 is None:
        raise SystemExit("h2_bench: python3-h2 is not installed")
    targets, cells = a.targets.split(","), a.cells.split(",")
    if a.baseline and "proxyd-base" not in targets:
        targets.append("proxyd-base")
    if "proxyd-base" in targets and not a.baseline:
        raise SystemExit("h2_bench: target proxyd-base needs --baseline BIN")
    if a.callgrind and "idle" in cells:
        cells.remove("idle")  # RSS under valgrind says nothing about proxyd's own
    for t in targets:
        if t not in TARGETS:
            raise SystemExit("h2_bench: unknown target %s (known: %s)" % (t, ", ".join(TARGETS)))
    for c in cells:
        if c not in CELLS:
            raise SystemExit("h2_bench: unknown cell %s (known: %s)" % (c, ", ".join(CELLS)))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    run = os.path.join(a.out, "results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(run)
    www = os.path.join(a.out, "www")
    bench.make_fixtures(www)
    with open(os.path.join(www, ONE_K.lstrip("/")), "wb") as f:
        f.write(bytes((i * 13 + 5) & 0xFF for i in range(1024)))
    sizes = {ONE_K: 1024, PDF: os.path.getsize(os.path.join(www, PDF.lstrip("/")))}
    cert, key = tls_bench.make_certificate(run)
    for port in list(bench.REV_BACKENDS.values()) + bench.LB_POOL:
        if bench.port_busy(port):
            raise SystemExit("h2_bench: backend port %d is in use (another benchmark running?)" % port)
    procs = bench.Procs()
    rows = []
    try:
        backends = bench.start_backends(procs, run, www)
        backend_pids = bench.descendants(backends.pid)
        pids, started = {}, {}
        for t in targets:
            binary = a.baseline if t == "proxyd-base" else a.proxyd
            started[t] = start_target(procs, t, run, www, cert, key, binary, callgrind=a.callgrind)
            time.sleep(0.3)
            pids[t] = bench.descendants(started[t].pid)
            smoke(t, sizes)
        print("h2_bench: results in %s" % run, flush=True)
        for rep in range(a.reps):
            for ci, cell in enumerate(cells):
                shift = (rep + ci) % len(targets)
                for t in targets[shift:] + targets[:shift]:
                    base = TARGETS[t][2]
                    tag = "%s-%s-r%d" % (cell, t, rep)
                    if cell == "idle":
                        procs.stop(started[t])  # a fresh process: memory freed earlier would hide the cost
                        binary = a.baseline if t == "proxyd-base" else a.proxyd
                        started[t] = start_target(procs, t, run, www, cert, key, binary, rep + 1)
                        time.sleep(0.3)
                        pids[t] = bench.descendants(started[t].pid)
                        res = measure_idle(pids[t], base, a.conns)
                        res.update({"us_req": 0.0, "rps": 0.0, "errors": 0})
                    else:
                        port = base if cell.startswith("proxy") else base + 1
                        uri = ONE_K if cell.endswith("1k") else PDF
                        count = a.small if uri == ONE_K else a.large
                        argv = ["h2load", "-t1", "-c50", "-m10", "-n", str(count), "https://%s:%d%s" % (HOST, port, uri)]
                        if a.callgrind:
                            d = os.path.join(run, t)
                            subprocess.run(["callgrind_control", "-z", str(started[t].pid)], capture_output=True,
                                           timeout=60)
                            res = tls_bench.run_h2load_argv(argv, run, tag)
                            res["us_req"] = callgrind_instructions(started[t].pid, d) / max(res["requests"], 1)
                            res.update({"callgrind": True, "other_cores": 0.0})
                        else:
                            res = bench.measure(lambda: tls_bench.run_h2load_argv(argv, run, tag), pids[t],
                                                backend_pids)
                    res.update({"cell": cell, "target": t, "rep": rep})
                    rows.append(res)
                    if cell == "idle":
                        print("  %s: %.0f B per idle h2 connection" % (tag, res["idle"]), flush=True)
                    else:
                        print("  %s: %.1f %s, %.0f/s, errors %d, foreign load %.2f cores"
                              % (tag, res["us_req"], "instructions/req" if a.callgrind else "µs/req", res["rps"],
                                 res["errors"], res["other_cores"]), flush=True)
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
