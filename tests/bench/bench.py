#!/usr/bin/env python3
"""proxyd's own benchmark: proxyd, nginx and HAProxy side by side, on loopback, in one run.

    python3 tests/bench/bench.py            reduced matrix (~7 min): LB with 1 and 5 backends,
                                            wrk runs of 3 s; writes docs/benchmarks.{md,png}
    python3 tests/bench/bench.py --full     the report's whole table: LB with 1..5 backends,
                                            wrk runs of 5 s (~12 min)
    python3 tests/bench/bench.py --help     every option

What it does (see tests/bench/README.md):
  * backends: ONE separate nginx process (1 worker, no access log) serving a fixture tree on
    every backend port: 23888 (default site), 23889 (images), 23890 (pdf), 23901..23905 (LB
    pool). Every target, and the "direct" ceiling, reaches these same backends.
  * targets, each started in the foreground from a config in this folder: proxyd with 1 and 2
    workers (proxyd.toml), nginx with 1 and 2 workers (nginx.conf), HAProxy with 1 and 2
    threads (haproxy.cfg); all are the same path-prefix reverse proxy and round-robin balancer.
  * cells: the report's LB table (ab -n 10000, c 2/5/10, with and without -k, for each backend
    count) and wrk cells (-t1, c 10/50/200, fixed duration) on a small page, a 64 KiB file and
    the ~540 KB PDF through the reverse profile. Within a cell the targets run back to back,
    the start position rotating, so they see the same machine.
  * per run: req/s, p50/p99 latency, errors + non-2xx, and the proxy's on-CPU microseconds per
    request from /proc/PID/task/*/schedstat deltas (all its threads and child processes), plus
    the CPU of backends and client and the foreign load (whole-machine busy time minus ours).
  * output: results/<stamp>/raw.json and results.md under --out, and (unless --no-docs) the
    generated part of docs/benchmarks.md and the chart docs/benchmarks.png (gnuplot).

Only 127.0.0.1 is used; every load run is bounded (ab -n, wrk -d); every process started here
is stopped by its PID on exit, Ctrl-C or SIGTERM.
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"
REV_BACKENDS = {"default": 23888, "images": 23889, "pdf": 23890}
LB_POOL = [23901, 23902, 23903, 23904, 23905]

# name -> (kind, workers, reverse port, lb port); "direct" is the backends themselves
TARGETS = {
    "direct": ("direct", 0, REV_BACKENDS["default"], LB_POOL[0]),
    "proxyd-w1": ("proxyd", 1, 24001, 24101),
    "proxyd-w2": ("proxyd", 2, 24002, 24102),
    "nginx-w1": ("nginx", 1, 24003, 24103),
    "nginx-w2": ("nginx", 2, 24004, 24104),
    "haproxy-t1": ("haproxy", 1, 24005, 24105),
    "haproxy-t2": ("haproxy", 2, 24006, 24106),
}
REF = "nginx-w1"
# the reverse profile's objects: URI, expected body size (filled from the fixture tree)
OBJECTS = {"small": "/index.html", "64k": "/static/64k.bin", "pdf": "/pdf/report.pdf"}

CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- processes we start
class Procs:
    """Every process this script starts, so that all of them are stopped by PID."""

    def __init__(self):
        self.live = []

    def start(self, argv, log, **kw):
        f = open(log, "ab")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        f.close()
        self.live.append(p)
        return p

    def stop(self, p, timeout=5.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)   # the session we created: master + workers
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            self.stop(p)


def descendants(pid):
    """pid and every process whose parent chain leads to it."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ns(pids):
    """On-CPU nanoseconds of every thread of these processes (schedstat field 1)."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def machine_busy_s():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / CLK


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def port_busy(port):
    try:
        socket.create_connection((HOST, port), 0.2).close()
        return True
    except OSError:
        return False


def fill(template, values):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = [m for line in text.splitlines() if not line.lstrip().startswith("#")
            for m in re.findall(r"@[A-Z_]+@", line)]
    if left:
        raise SystemExit(f"bench: {template}: unfilled {sorted(set(left))}")
    return text


# ---------------------------------------------------------------- fixtures and backends
def make_fixtures(www):
    """The fixture tree every backend serves: the demo sites of www/ merged into one tree
    (/, /images/, /pdf/) plus a deterministic 64 KiB file."""
    if os.path.isdir(www):
        shutil.rmtree(www)
    shutil.copytree(os.path.join(REPO, "www", "default"), www)
    shutil.copytree(os.path.join(REPO, "www", "images"), os.path.join(www, "images"))
    shutil.copytree(os.path.join(REPO, "www", "pdf"), os.path.join(www, "pdf"))
    os.makedirs(os.path.join(www, "static"))
    block = bytes((i * 7 + 3) & 0xFF for i in range(256))
    with open(os.path.join(www, "static", "64k.bin"), "wb") as f:
        f.write(block * 256)
    return {name: os.path.getsize(os.path.join(www, uri.lstrip("/"))) for name, uri in OBJECTS.items()}


def start_backends(procs, run, www):
    listens = "\n".join(f"        listen {HOST}:{p} backlog=4096;"
                        for p in list(REV_BACKENDS.values()) + LB_POOL)
    os.makedirs(os.path.join(run, "tmp"), exist_ok=True)
    conf = os.path.join(run, "backends-nginx.conf")
    with open(conf, "w") as f:
        f.write(fill("backends-nginx.conf", {"RUN": run, "WWW": www, "LISTENS": listens}))
    p = procs.start(["nginx", "-p", run, "-e", os.path.join(run, "backends-error.log"), "-c", conf,
                     "-g", "daemon off;"], os.path.join(run, "backends.out"))
    for port in list(REV_BACKENDS.values()) + LB_POOL:
        if not wait_port(port):
            raise SystemExit(f"bench: backends did not listen on {port} (see {run})")
    return p


def start_target(procs, name, run, nb, proxyd_bin):
    kind, workers, rev, lb = TARGETS[name]
    d = os.path.join(run, name)
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    v = {"RUN": d, "HOST": HOST, "WORKERS": workers, "REV_PORT": rev, "LB_PORT": lb,
         "DEFAULT": f"{HOST}:{REV_BACKENDS['default']}", "IMAGES": f"{HOST}:{REV_BACKENDS['images']}",
         "PDF": f"{HOST}:{REV_BACKENDS['pdf']}"}
    peers = [f"{HOST}:{p}" for p in LB_POOL[:nb]]
    log = os.path.join(d, "out.log")
    if kind == "proxyd":
        v["PLUGINS"] = os.path.join(os.path.dirname(proxyd_bin), "plugins")
        v["LB_PEERS"] = ", ".join(f'"{p}"' for p in peers)
        cfg = os.path.join(d, "proxyd.toml")
        with open(cfg, "w") as f:
            f.write(fill("proxyd.toml", v))
        argv = [proxyd_bin, "-c", cfg]
    elif kind == "nginx":
        v["LB_SERVERS"] = "\n".join(f"        server {p};" for p in peers)
        cfg = os.path.join(d, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(fill("nginx.conf", v))
        argv = ["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", cfg, "-g", "daemon off;"]
    else:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        v["MAXCONN"] = max(1000, min(40000, (soft - 200) // 2))
        v["LB_SERVERS"] = "\n".join(f"    server s{i + 1} {p}" for i, p in enumerate(peers))
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(fill("haproxy.cfg", v))
        argv = ["haproxy", "-db", "-f", cfg]
    p = procs.start(argv, log)
    for port in (rev, lb):
        if not wait_port(port):
            procs.stop(p)
            raise SystemExit(f"bench: {name} did not listen on {port}; see {log}")
    return p


def smoke(name, sizes, nb):
    """Each route answers 200 with the expected body size; the LB reaches its pool."""
    _, _, rev, lb = TARGETS[name]
    for obj, uri in OBJECTS.items():
        with urllib.request.urlopen(f"http://{HOST}:{rev}{uri}", timeout=5) as r:
            body = r.read()
            if r.status != 200 or len(body) != sizes[obj]:
                raise SystemExit(f"bench: {name} {uri}: status {r.status}, {len(body)} bytes "
                                 f"(want {sizes[obj]})")
    with urllib.request.urlopen(f"http://{HOST}:{rev}/images/photo.jpg", timeout=5) as r:
        assert r.status == 200
    for _ in range(nb):
        with urllib.request.urlopen(f"http://{HOST}:{lb}/", timeout=5) as r:
            if r.status != 200:
                raise SystemExit(f"bench: {name} lb: status {r.status}")


# ---------------------------------------------------------------- load clients
def to_ms(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s)
    if not m:
        return None
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[m.group(2)]


def run_ab(url, n, c, keepalive, logdir, tag):
    csv = os.path.join(logdir, tag + ".csv")
    argv = ["ab", "-n", str(n), "-c", str(c), "-e", csv, "-q", "-r"] + (["-k"] if keepalive else []) + [url]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    with open(os.path.join(logdir, tag + ".log"), "w") as f:
        f.write(" ".join(argv) + "\n" + out)

    def num(pat, default=0.0):
        m = re.search(pat, out)
        return float(m.group(1)) if m else default
    res = {"rps": num(r"Requests per second:\s+([\d.]+)"),
           "requests": int(num(r"Complete requests:\s+(\d+)")),
           "errors": int(num(r"Failed requests:\s+(\d+)") + num(r"Non-2xx responses:\s+(\d+)")
                         + (1 if r.returncode else 0))}
    pct = {}
    try:
        with open(csv) as f:
            for line in f.read().splitlines()[1:]:
                a, b = line.split(",")
                pct[int(float(a))] = float(b)
    except (OSError, ValueError):
        pass
    res["p50"], res["p99"] = pct.get(50), pct.get(99)
    return res


def run_wrk(url, c, duration, logdir, tag):
    argv = ["wrk", "-t1", f"-c{c}", f"-d{duration}s", "--latency", url]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    out = r.stdout + r.stderr
    with open(os.path.join(logdir, tag + ".log"), "w") as f:
        f.write(" ".join(argv) + "\n" + out)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res = {"rps": float(m.group(1)) if m else 0.0}
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    err = 1 if r.returncode else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        err += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        err += int(m.group(1))
    res["errors"] = err
    for p in (50, 99):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        res[f"p{p}"] = to_ms(m.group(1)) if m else None
    return res


def measure(fn, proxy_pids, backend_pids):
    """Run one load; return its results plus CPU figures."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m0, p0, b0, t0 = machine_busy_s(), cpu_ns(proxy_pids), cpu_ns(backend_pids), time.monotonic()
    res = fn()
    m1, p1, b1, t1 = machine_busy_s(), cpu_ns(proxy_pids), cpu_ns(backend_pids), time.monotonic()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = t1 - t0
    proxy_s, back_s = (p1 - p0) / 1e9, (b1 - b0) / 1e9
    client_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    busy = m1 - m0
    n = max(res["requests"], 1)
    res.update({"wall": wall, "us_req": proxy_s * 1e6 / n, "proxy_cores": proxy_s / wall,
                "backend_cores": back_s / wall, "client_cores": client_s / wall,
                "busy_cores": busy / wall,
                "other_cores": max(0.0, (busy - proxy_s - back_s - client_s) / wall)})
    return res


# ---------------------------------------------------------------- report
def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def medians(rows):
    """Median per (cell, target) over repetitions."""
    groups = {}
    for r in rows:
        groups.setdefault((r["cell"], r["target"]), []).append(r)
    out = {}
    for k, rs in groups.items():
        m = {}
        for f in ("rps", "us_req", "p50", "p99", "other_cores", "proxy_cores"):
            vals = [r[f] for r in rs if r.get(f) is not None]
            m[f] = statistics.median(vals) if vals else None
        m["errors"] = sum(r["errors"] for r in rs)
        # paired ratios to the reference target within the same repetition
        for f, key in (("rps", "rps_ref"), ("us_req", "cpu_ref")):
            ratios = []
            for r in rs:
                ref = [x for x in rows if x["cell"] == r["cell"] and x["target"] == REF and x["rep"] == r["rep"]]
                if ref and ref[0][f]:
                    ratios.append(r[f] / ref[0][f])
            m[key] = statistics.median(ratios) if ratios else None
        out[k] = m
    return out


def cell_label(cell):
    if cell["kind"] == "ab":
        return f"LB {cell['nb']} backend{'s' if cell['nb'] > 1 else ''}, ab{' -k' if cell['ka'] else ''} c{cell['c']}"
    return f"reverse {cell['obj']}, wrk c{cell['c']}"


def tables(cells, targets, med):
    lines = []

    def table(title, cell_list, render):
        lines.append(f"**{title}**\n")
        lines.append("| cell | " + " | ".join(targets) + " |")
        lines.append("| --- |" + " --- |" * len(targets))
        for cell in cell_list:
            row = [cell_label(cell)]
            for t in targets:
                m = med.get((cell["id"], t))
                row.append(render(m, t) if m else "–")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")

    def rps(m, t):
        s = f"{m['rps'] / 1000:.1f}k"
        return s if t == REF or m["rps_ref"] is None else s + f" ({m['rps_ref']:.2f})"

    def cpu(m, t):
        s = f"{m['us_req']:.1f}"
        return s if t == REF or m["cpu_ref"] is None else s + f" ({m['cpu_ref']:.2f})"

    def lat(m, t):
        return f"{fmt(m['p50'], '.2f')} / {fmt(m['p99'], '.2f')}" + (f" **err {m['errors']}**" if m["errors"] else "")

    groups = [("LB profile — the report's table (ab -n 10000)", [c for c in cells if c["kind"] == "ab"]),
              ("Reverse profile (wrk -t1)", [c for c in cells if c["kind"] == "wrk"])]
    for name, cl in groups:
        if not cl:
            continue
        lines.append(f"### {name}\n")
        table(f"req/s (ratio to {REF} in the same run)", cl, rps)
        table(f"proxy CPU µs per request (ratio to {REF}); for direct: the backend's own cost", cl, cpu)
        table("latency p50 / p99 in ms; errors (failed + non-2xx) shown only when non-zero", cl, lat)
    return lines


def machine_text():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return "?"
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
    distro = sh(". /etc/os-release && echo $PRETTY_NAME")
    mem = sh("awk '/MemTotal/{printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
    vers = {"nginx": sh("nginx -v 2>&1 | sed 's/.*\\///'"),
            "haproxy": sh("haproxy -v | head -1 | awk '{print $3}'"),
            "wrk": sh("wrk -v 2>&1 | head -1 | awk '{print $2}'"),
            "ab": sh("ab -V | head -1 | awk '{print $5}'"),
            "proxyd": sh(f"git -C {REPO} rev-parse --short HEAD") + (" (dirty)" if sh(f"git -C {REPO} status --porcelain -- core plugins") else "")}
    return (f"{os.cpu_count()} vCPU {cpu}, {mem} RAM, {distro}, Linux {platform.release()}; "
            + ", ".join(f"{k} {v}" for k, v in vers.items())
            + f"; fd limit {resource.getrlimit(resource.RLIMIT_NOFILE)[1]}")


def chart(path_png, cells, targets, med, workdir):
    """Two panels: proxy CPU per request relative to nginx-w1 on the key cells, and req/s of the
    LB table's 5-backend rows."""
    if not shutil.which("gnuplot"):
        print("bench: gnuplot missing (apt-get install gnuplot-nox): no chart", file=sys.stderr)
        return False
    proxies = [t for t in targets if t != "direct"]
    key = [c for c in cells if (c["kind"] == "wrk" and c["c"] == 50)
           or (c["kind"] == "ab" and c["c"] == 10 and c["nb"] == max(x.get("nb", 0) for x in cells))]
    key = key or cells
    d1 = os.path.join(workdir, "cpu.dat")
    with open(d1, "w") as f:
        f.write("cell " + " ".join(proxies) + "\n")
        for c in key:
            vals = []
            for t in proxies:
                m = med.get((c["id"], t))
                vals.append(f"{m['cpu_ref']:.3f}" if m and m["cpu_ref"] else "NaN")
            f.write('"' + cell_label(c).replace("reverse ", "").replace(" backends", "") + '" ' + " ".join(vals) + "\n")
    lbmax = max((c.get("nb", 0) for c in cells), default=0)
    lbcells = [c for c in cells if c["kind"] == "ab" and c["nb"] == lbmax]
    d2 = os.path.join(workdir, "lb.dat")
    with open(d2, "w") as f:
        f.write("cell " + " ".join(targets) + "\n")
        for c in lbcells:
            vals = []
            for t in targets:
                m = med.get((c["id"], t))
                vals.append(f"{m['rps']:.0f}" if m else "NaN")
            f.write(f'"{"-k " if c["ka"] else ""}c{c["c"]}" ' + " ".join(vals) + "\n")
    palette = {"direct": "#7f7f7f", "proxyd-w1": "#1b9e77", "proxyd-w2": "#66c2a5", "nginx-w1": "#d95f02",
               "nginx-w2": "#fc8d62", "haproxy-t1": "#3b5bdb", "haproxy-t2": "#91a7ff"}

    def series(names, datafile):
        return ", ".join(("''" if i else f"'{datafile}'") + f" using {i + 2}:xtic(1) title columnheader({i + 2}) "
                         f"lc rgb '{palette.get(t, '#000000')}'" for i, t in enumerate(names))
    gp = f"""
set terminal pngcairo size 1400,560 font ',10'
set output '{path_png}'
set multiplot layout 1,2
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top left font ',9'
set grid ytics
set xtics rotate by -25 font ',9'
set title 'Proxy CPU per request, relative to {REF} (same run; lower is better)'
set ylabel 'CPU µs/req ÷ {REF}'
set yrange [0:*]
plot {series(proxies, d1)}, 1 with lines lc rgb 'black' dt 2 notitle
set title 'LB, {lbmax} backends, ab -n 10000: requests per second (higher is better)'
set ylabel 'req/s'
plot {series(targets, d2)}
unset multiplot
"""
    gpf = os.path.join(workdir, "chart.gp")
    with open(gpf, "w") as f:
        f.write(gp)
    r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True)
    if r.returncode:
        print("bench: gnuplot failed:\n" + r.stderr, file=sys.stderr)
        return False
    return True


BEGIN, END = "<!-- bench.py:begin -->", "<!-- bench.py:end -->"


def write_docs(md_body):
    """Replace the generated section of docs/benchmarks.md, keeping the hand-written rest."""
    path = os.path.join(REPO, "docs", "benchmarks.md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    block = BEGIN + "\n" + md_body + "\n" + END
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = "# Benchmarks\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="LB with 1..5 backends and 5 s wrk runs")
    ap.add_argument("--lb-backends", help="backend counts, e.g. 1,5 (default 1,5; --full: 1,2,3,4,5)")
    ap.add_argument("--ab-conc", default="2,5,10")
    ap.add_argument("--ab-requests", type=int, default=10000)
    ap.add_argument("--wrk-conc", default="10,50,200")
    ap.add_argument("--wrk-duration", type=int, help="seconds (default 3; --full: 5)")
    ap.add_argument("--objects", default="small,64k,pdf")
    ap.add_argument("--reps", type=int, default=1, help="repetitions (medians and paired ratios)")
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma list; direct and nginx-w1 always run")
    ap.add_argument("--only", default="lb,rev", help="lb, rev or lb,rev")
    ap.add_argument("--proxyd", default=os.environ.get("PROXYD_BIN", os.path.join(REPO, "build", "proxyd")),
                    help="proxyd binary (default $PROXYD_BIN or build/proxyd; use a Release build)")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-selfbench"))
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.{md,png}")
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between runs")
    a = ap.parse_args()

    lb_counts = [int(x) for x in (a.lb_backends or ("1,2,3,4,5" if a.full else "1,5")).split(",")]
    duration = a.wrk_duration or (5 if a.full else 3)
    targets = [t for t in TARGETS if t in set(a.targets.split(",")) | {"direct", REF}]
    for tool in ("nginx", "haproxy", "ab", "wrk"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} missing: apt-get install nginx haproxy wrk apache2-utils "
                             "gnuplot-nox")
    if any(TARGETS[t][0] == "proxyd" for t in targets) and not os.access(a.proxyd, os.X_OK):
        raise SystemExit(f"bench: no proxyd at {a.proxyd} (build Release, or --proxyd / PROXYD_BIN)")
    try:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    ports = list(REV_BACKENDS.values()) + LB_POOL + [p for t in targets for p in TARGETS[t][2:]]
    busy = sorted({p for p in ports if port_busy(p)})
    if busy:
        raise SystemExit(f"bench: ports already in use: {busy}")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    res_dir = os.path.join(a.out, "results", stamp)
    run, logs = os.path.join(res_dir, "run"), os.path.join(res_dir, "logs")
    os.makedirs(run)
    os.makedirs(logs)
    sizes = make_fixtures(os.path.join(a.out, "www"))

    cells = []
    if "lb" in a.only:
        for nb in lb_counts:
            for ka in (False, True):
                for c in (int(x) for x in a.ab_conc.split(",")):
                    cells.append({"id": f"lb{nb}-ab{'k' if ka else ''}-c{c}", "kind": "ab", "nb": nb, "ka": ka, "c": c})
    if "rev" in a.only:
        for obj in a.objects.split(","):
            for c in (int(x) for x in a.wrk_conc.split(",")):
                cells.append({"id": f"rev-{obj}-wrk-c{c}", "kind": "wrk", "obj": obj, "c": c})
    runs_total = len(cells) * len(targets) * a.reps
    print(f"bench: {len(targets)} targets, {len(cells)} cells, {a.reps} rep(s): {runs_total} runs; "
          f"results in {res_dir}", flush=True)

    procs = Procs()

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    rows, k = [], 0
    t_start = time.time()
    try:
        backends = start_backends(procs, run, os.path.join(a.out, "www"))
        backend_pids = descendants(backends.pid)
        # group the cells by the LB backend count the targets must be started with
        phases = []
        for nb in lb_counts:
            phases.append((nb, [c for c in cells if c["kind"] == "ab" and c["nb"] == nb]))
        wrk_cells = [c for c in cells if c["kind"] == "wrk"]
        if wrk_cells:
            if phases:
                phases[-1] = (phases[-1][0], phases[-1][1] + wrk_cells)
            else:
                phases.append((max(lb_counts), wrk_cells))
        rot = 0
        for rep in range(1, a.reps + 1):
            for nb, pcells in phases:
                if not pcells:
                    continue
                started = {}
                for t in targets:
                    if TARGETS[t][0] != "direct":
                        started[t] = start_target(procs, t, run, nb, a.proxyd)
                pids = {t: descendants(p.pid) for t, p in started.items()}
                pids["direct"] = backend_pids
                for t in targets:
                    smoke(t, sizes, nb)
                    _, _, rev, lb = TARGETS[t]
                    subprocess.run(["ab", "-q", "-k", "-n", "3000", "-c", "10", f"http://{HOST}:{lb}/"],
                                   capture_output=True, timeout=60)
                    subprocess.run(["wrk", "-t1", "-c20", "-d1s", f"http://{HOST}:{rev}{OBJECTS['small']}"],
                                   capture_output=True, timeout=60)
                for cell in pcells:
                    order = targets[rot % len(targets):] + targets[:rot % len(targets)]
                    rot += 1
                    for t in order:
                        k += 1
                        _, _, rev, lb = TARGETS[t]
                        tag = f"r{rep}-{cell['id']}-{t}"
                        if cell["kind"] == "ab":
                            fn = lambda: run_ab(f"http://{HOST}:{lb}/", a.ab_requests, cell["c"], cell["ka"], logs, tag)
                        else:
                            fn = lambda: run_wrk(f"http://{HOST}:{rev}{OBJECTS[cell['obj']]}", cell["c"], duration, logs, tag)
                        time.sleep(a.pause)
                        r = measure(fn, pids[t], backend_pids)
                        r.update({"cell": cell["id"], "target": t, "rep": rep})
                        rows.append(r)
                        print(f"[{k}/{runs_total}] {cell['id']:<18} {t:<11} {r['rps']:>9.0f} req/s  "
                              f"p99 {fmt(r['p99'], '7.2f')} ms  err {r['errors']:<3} {r['us_req']:7.1f} us/req  "
                              f"proxy {r['proxy_cores']:.2f} other {r['other_cores']:.2f} cores", flush=True)
                for t, p in started.items():
                    procs.stop(p)
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("bench: interrupted; stopping everything started", file=sys.stderr)
        procs.stop_all()
        raise SystemExit(130)
    finally:
        procs.stop_all()
    elapsed = time.time() - t_start

    with open(os.path.join(res_dir, "raw.json"), "w") as f:
        json.dump({"cells": cells, "targets": targets, "rows": rows, "sizes": sizes,
                   "args": vars(a), "elapsed_s": elapsed}, f, indent=1)
    med = medians(rows)
    others = [r["other_cores"] for r in rows]
    disturbed = sum(1 for x in others if x > 0.25)
    md = [f"Generated by `python3 tests/bench/bench.py{' --full' if a.full else ''}` on {time.strftime('%Y-%m-%d %H:%M %Z')} "
          f"({elapsed / 60:.1f} min, {a.reps} repetition(s), LB backends {','.join(map(str, lb_counts))}, "
          f"wrk {duration} s).\n",
          f"- Machine: {machine_text()}.",
          "- Backends: one separate nginx process (1 worker, access log off) serving the same fixture tree on "
          "every backend port; the same backends for every target. `direct` = the backend itself.",
          f"- Objects: small = `/index.html` ({sizes['small']} B), 64k = `/static/64k.bin` ({sizes['64k']} B), "
          f"pdf = `/pdf/report.pdf` ({sizes['pdf']} B).",
          f"- Noise: foreign load (whole-machine busy time not spent by proxy, backends or client) median "
          f"{statistics.median(others):.2f} cores, max {max(others):.2f}; {disturbed} of {len(rows)} runs above 0.25 cores. "
          "Ratios are paired within a cell of the same repetition.",
          ""]
    md += tables(cells, targets, med)
    body = "\n".join(md)
    with open(os.path.join(res_dir, "results.md"), "w") as f:
        f.write(body + "\n")
    png = os.path.join(res_dir, "benchmarks.png")
    ok = chart(png, cells, targets, med, res_dir)
    if not a.no_docs:
        if ok:
            os.makedirs(os.path.join(REPO, "docs"), exist_ok=True)
            shutil.copy(png, os.path.join(REPO, "docs", "benchmarks.png"))
            body += "\n\n![proxy CPU per request and LB req/s](benchmarks.png)\n"
        print("bench: wrote", write_docs(body))
    print(f"bench: done in {elapsed / 60:.1f} min; {res_dir}/results.md")


if __name__ == "__main__":
    main()
