#!/usr/bin/env python3
"""What a non-retrying keep-alive client sees while a proxy reloads or stops: proxyd against nginx.

    python3 tests/bench/reload_errors.py --proxyd /tmp/build-bench/proxyd
    python3 tests/bench/reload_errors.py --proxyd PATH --scenarios reload,stop --repeat 2
    python3 tests/bench/reload_errors.py --proxyd PATH --scenarios stop-lb-profile

The client is wrk (`-t2 -c32 -d8s`, keep-alive, no retries): every request that dies on a closed
connection is a "read" or "write" socket error, every 5xx the proxy makes up is a non-2xx.

  * backends: ONE separate nginx process (1 worker, access log off) serving a small static file
    on five loopback ports; the same backends for both proxies, started once for the whole run.
  * proxies, each started fresh for every run from a config generated in the temp folder:
    proxyd (1 worker, round robin over the five backends, upstream keepalive 32, access log off)
    and nginx (worker_processes 1, the same upstream with keepalive 32, HTTP/1.1 upstream,
    Connection "", access_log off). Both keep client connections alive.
  * scenario "reload": SIGHUP to the proxy's PID (nginx: its master) at about 2, 4 and 6 s of the
    wrk run; the error logs are checked for three completed reloads.
  * scenario "stop": at about 4 s proxyd gets SIGTERM (its graceful stop), nginx gets SIGQUIT (its
    graceful stop; SIGTERM would be nginx's fast shutdown). Connect errors after that are expected
    (the listener is gone) and reported in their own column; read/write errors and non-2xx are
    failures.
  * scenario "stop-lb-profile" (proxyd only): the repository's conf.d/lb.toml as it is (the
    balancer on 127.0.0.1:44444 whose five demo backends, 9001-9005, are listeners of the same
    process; admin on 19444), wrk against :44444 and SIGTERM at about 4 s. The profile is copied
    into the temp folder beside links to the repository's conf.d files and www/, so its relative
    paths resolve as in the repository; --lb-profile FILE or --lb-rev REV (git show
    REV:conf.d/lb.toml) measure another version of it.

Counting: wrk's connect() is non-blocking and it never checks its result, so a connect refused
after the listener closed shows up as a "write" error on first use, not as "connect". The column
"refused" counts those refusals separately: the kernel's TCP AttemptFails over the run (minus the
refused upstream connects the proxy itself logged, the lb profile's backends closing with it). So
that nothing else adds to that counter, the run re-executes itself in a private network namespace
(unshare -n, loopback only; --shared-netns to stay), and in the stop scenarios the script takes the
port over 0.7 s before the end with a listener that never accepts, so that no refusal is counted by
the kernel and not yet by wrk when wrk ends. fail = connect + read + write - refused + timeout +
non-2xx: requests lost on connections the proxy had accepted, plus error responses.

Only 127.0.0.1 is used; every wrk run is bounded (-d); every process started here is stopped by
its PID (nginx's workers, should the master not take them down, by theirs).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"
URI = "/index.html"
LB_PROFILE_PORTS = [44444, 9001, 9002, 9003, 9004, 9005, 19444]
COLUMNS = ("requests", "connect", "read", "write", "timeout", "non2xx")


# ---------------------------------------------------------------- processes started here
def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


class Procs:
    """Every process started here, stopped by its PID."""

    def __init__(self):
        self.live = []

    def start(self, argv, log, cwd=None):
        with open(log, "ab") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=cwd)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=20.0):
        if p.poll() is None:
            kids = children_of(p.pid)
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                kids += children_of(p.pid)
                for pid in [p.pid] + kids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                p.wait()
            # nginx workers whose master went away (should not happen): by their PIDs
            for pid in kids:
                if os.path.exists(f"/proc/{pid}"):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            self.stop(p)


def accepts(port):
    try:
        socket.create_connection((HOST, port), 0.2).close()
        return True
    except OSError:
        return False


def bindable(port):
    """Nobody listens on it and no connected socket holds it (TIME_WAIT is fine, as for the
    proxies, which bind with SO_REUSEADDR)."""
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_free(ports, timeout=60.0):
    end = time.time() + timeout
    while True:
        busy = [p for p in ports if not bindable(p)]
        if not busy:
            return
        if time.time() > end:
            raise SystemExit(f"reload_errors: ports still in use after {timeout:.0f} s: {busy}")
        time.sleep(0.2)


def wait_accepting(p, ports, log, timeout=15.0):
    end = time.time() + timeout
    for port in ports:
        while not accepts(port):
            if p.poll() is not None:
                raise RuntimeError(f"exited ({p.returncode}) before listening on {port}; see {log}:\n"
                                   + tail(log))
            if time.time() > end:
                raise RuntimeError(f"not listening on {port} after {timeout:.0f} s; see {log}:\n" + tail(log))
            time.sleep(0.05)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def smoke(port, count=5):
    """count GETs on one keep-alive connection; each must be a 200."""
    with socket.create_connection((HOST, port), 5) as s:
        s.settimeout(5)
        f = s.makefile("rb")
        for _ in range(count):
            s.sendall(f"GET {URI} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            status = f.readline().split()
            if len(status) < 2 or status[1] != b"200":
                raise RuntimeError(f"smoke test on {port}: {status}")
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            f.read(length)


# ---------------------------------------------------------------- configs
BACKENDS_CONF = """worker_processes 1;
pid {run}/backends.pid;
error_log {run}/backends-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {run}/tmp/b-body;
    proxy_temp_path {run}/tmp/b-proxy;
    fastcgi_temp_path {run}/tmp/b-fastcgi;
    uwsgi_temp_path {run}/tmp/b-uwsgi;
    scgi_temp_path {run}/tmp/b-scgi;
    default_type text/html;
    server {{
{listens}
        root {www};
    }}
}}
"""

NGINX_CONF = """worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log notice;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream pool {{
{servers}
        keepalive 32;
        keepalive_requests 1000000;
    }}
    server {{
        listen {host}:{port} backlog=4096;
        location / {{ proxy_pass http://pool; }}
    }}
}}
"""

PROXYD_CONF = """# generated by tests/bench/reload_errors.py
workers = 1
plugin_dir = "{plugins}"

[log]
access = "off"
error = "{run}/error.log"
level = "info"

[limits]
keepalive_timeout = "65s"

[plugins]
round_robin = "balancing_round_robin.so"

[upstreams.pool]
peers = [{peers}]
balancer = "round_robin"
keepalive = 32

[[listeners]]
name = "front"
listen = "{host}:{port}"
upstream = "pool"
x_forwarded = false
forwarded = false
via = false
"""


def start_backends(procs, top, ports):
    run = os.path.join(top, "backends")
    www = os.path.join(run, "www")
    os.makedirs(os.path.join(run, "tmp"))
    os.makedirs(www)
    with open(os.path.join(www, URI.lstrip("/")), "w") as f:
        f.write("<!doctype html><title>reload_errors</title>\n" + "<p>small static page</p>\n" * 20)
    conf = os.path.join(run, "nginx.conf")
    listens = "\n".join(f"        listen {HOST}:{p} backlog=4096;" for p in ports)
    with open(conf, "w") as f:
        f.write(BACKENDS_CONF.format(run=run, www=www, listens=listens))
    log = os.path.join(run, "out.log")
    wait_free(ports)
    p = procs.start(["nginx", "-p", run, "-e", os.path.join(run, "backends-error.log"), "-c", conf,
                     "-g", "daemon off;"], log)
    wait_accepting(p, ports, log)
    for port in ports:
        smoke(port, 1)
    return p


def write_proxy_conf(kind, run, port, backend_ports, plugins):
    os.makedirs(os.path.join(run, "tmp"), exist_ok=True)
    if kind == "proxyd":
        conf = os.path.join(run, "proxyd.toml")
        peers = ", ".join(f'"{HOST}:{p}"' for p in backend_ports)
        text = PROXYD_CONF.format(plugins=plugins, run=run, peers=peers, host=HOST, port=port)
    else:
        conf = os.path.join(run, "nginx.conf")
        servers = "\n".join(f"        server {HOST}:{p};" for p in backend_ports)
        text = NGINX_CONF.format(run=run, servers=servers, host=HOST, port=port)
    with open(conf, "w") as f:
        f.write(text)
    return conf


def stage_lb_profile(top, a):
    """The lb profile in TOP/lb-profile/conf.d/lb.toml, beside links to the repository's other
    conf.d files and to www/, so that its relative paths (../www/default, mime.toml) resolve."""
    base = os.path.join(top, "lb-profile")
    confd = os.path.join(base, "conf.d")
    os.makedirs(confd)
    if a.lb_rev:
        text = subprocess.run(["git", "-C", REPO, "show", f"{a.lb_rev}:conf.d/lb.toml"], check=True,
                              capture_output=True, text=True).stdout
        origin = f"git show {a.lb_rev}:conf.d/lb.toml"
    else:
        src = a.lb_profile or os.path.join(REPO, "conf.d", "lb.toml")
        with open(src) as f:
            text = f.read()
        origin = src
        if not a.lb_profile:
            last = subprocess.run(["git", "-C", REPO, "log", "-1", "--format=%h", "--", "conf.d/lb.toml"],
                                  capture_output=True, text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "conf.d/lb.toml"],
                                   capture_output=True, text=True).stdout.strip()
            origin += f" (working tree{', modified' if dirty else ''}; last commit {last or '?'})"
    for name in os.listdir(os.path.join(REPO, "conf.d")):
        if name != "lb.toml":
            os.symlink(os.path.join(REPO, "conf.d", name), os.path.join(confd, name))
    os.symlink(os.path.join(REPO, "www"), os.path.join(base, "www"))
    path = os.path.join(confd, "lb.toml")
    with open(path, "w") as f:
        f.write(text)
    return path, origin


# ---------------------------------------------------------------- one run
def parse_wrk(out, rc):
    res = {k: 0 for k in COLUMNS}
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["connect"], res["read"], res["write"], res["timeout"] = map(int, m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    res["wrk_rc"] = rc
    return res


def tcp_counters():
    """The Tcp line of /proc/net/snmp (this network namespace): AttemptFails counts connects that
    went from SYN-SENT to CLOSED, i.e. refused ones."""
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Tcp:")]
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if v.lstrip("-").isdigit()}


def hold_port(port):
    """A listener on port that never accepts (backlog 1): from now on wrk's reconnects are neither
    refused nor answered (SYNs beyond the queue are dropped), so none is left counted by the kernel
    but not yet by wrk when the run ends. None when the port cannot be bound."""
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        s.listen(1)
        return s
    except OSError:
        s.close()
        return None


def load_with_signals(proxy, port, seconds, signals, logfile, hold_at=None):
    """wrk for `seconds` against port; signals = [(at_s, signum)] sent to proxy.pid meanwhile.
    Returns wrk's counters plus when each signal went out and when the proxy exited (if it did),
    both in seconds from wrk's start, and the refused connects the kernel counted (AttemptFails).
    hold_at: when to take the port over with hold_port() (stop scenarios): wrk's refused connects
    become write errors on first use, and when the run ends each connection may have one that the
    kernel has counted and wrk not yet; from hold_at on there are no new refusals, and wrk has
    counted all earlier ones by the time it ends."""
    argv = ["wrk", "-t2", "-c32", f"-d{seconds}s", f"http://{HOST}:{port}{URI}"]
    todo = sorted(signals)
    sent, exited, holder, held = [], None, None, None
    c0 = tcp_counters()
    t0 = time.monotonic()
    with open(logfile, "w") as log:
        log.write(" ".join(argv) + "\n")
        log.flush()
        wrk = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            while wrk.poll() is None:
                now = time.monotonic() - t0
                if now > seconds + 30:
                    wrk.kill()       # wrk itself is bounded by -d; this is a safety net
                    wrk.wait()
                    break
                if todo and now >= todo[0][0]:
                    _, sig = todo.pop(0)
                    if proxy.poll() is None:
                        os.kill(proxy.pid, sig)
                    sent.append((round(now, 2), signal.Signals(sig).name))
                if exited is None and proxy.poll() is not None:
                    exited = now
                if hold_at is not None and held is None and now >= hold_at:
                    holder = hold_port(port)
                    held = round(now, 2) if holder else False
                time.sleep(0.01)
        except BaseException:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
            raise
        finally:
            c1 = tcp_counters()
            if holder:
                holder.close()
    with open(logfile) as f:
        out = f.read()
    res = parse_wrk(out, wrk.returncode)
    res["refused"] = c1["AttemptFails"] - c0["AttemptFails"]
    res["signals"] = sent
    res["exited"] = exited
    res["held"] = held
    return res


def count(path, pattern):
    try:
        with open(path, errors="replace") as f:
            return len(re.findall(pattern, f.read()))
    except OSError:
        return 0


def run_once(procs, a, kind, scenario, rep, top, backend_ports, ports):
    run = os.path.join(top, f"r{rep}-{kind}-{scenario}")
    os.makedirs(run)
    log = os.path.join(run, "out.log")
    if scenario == "stop-lb-profile":
        conf, _ = a.lb_staged
        argv = [a.proxyd, "-c", conf] + (["-p", a.plugins] if a.plugins_given else [])
        port, wait_ports = 44444, LB_PROFILE_PORTS
    else:
        port = ports[kind]
        conf = write_proxy_conf(kind, run, port, backend_ports, a.plugins)
        wait_ports = [port]
        if kind == "proxyd":
            argv = [a.proxyd, "-c", conf]
        else:
            argv = ["nginx", "-p", run, "-e", os.path.join(run, "error.log"), "-c", conf, "-g", "daemon off;"]
    wait_free(wait_ports)
    p = procs.start(argv, log, cwd=run)
    row = {"proxy": kind, "scenario": scenario, "rep": rep, "dir": run}
    try:
        wait_accepting(p, wait_ports, log)
        smoke(port)
        if scenario == "reload":
            sigs = [(a.seconds * f, signal.SIGHUP) for f in (0.25, 0.5, 0.75)]
        else:
            stop = signal.SIGQUIT if kind == "nginx" else signal.SIGTERM
            sigs = [(a.seconds * 0.5, stop)]
        hold_at = None if scenario == "reload" else max(a.seconds - 0.7, sigs[0][0] + 0.5)
        row.update(load_with_signals(p, port, a.seconds, sigs, os.path.join(run, "wrk.log"), hold_at))
        if scenario == "reload":
            if kind == "proxyd":
                done = count(os.path.join(run, "error.log"), r"reloaded configuration")
            else:
                done = count(os.path.join(run, "error.log"), r"\d+#\d+: reconfiguring\n")
            row["note"] = f"reloads done {done}/3" + ("" if p.poll() is None else f"; EXITED {p.returncode}")
        else:
            t_sig = row["signals"][0][0] if row["signals"] else None
            if p.poll() is None:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    pass
            if p.poll() is None:
                row["note"] = "still running 30 s after the wrk run; stopped"
            else:
                ex = row["exited"]
                after = f"{ex - t_sig:.2f} s after the signal" if ex is not None and t_sig is not None \
                    else "after the wrk run"
                row["note"] = f"exit {p.returncode} {after}"
            if scenario == "stop-lb-profile":
                # its access log (stderr): the statuses the balancer's listener answered
                codes = {}
                with open(log, errors="replace") as f:
                    for line in f:
                        m = re.search(r'HTTP/1\.[01]" (\d{3}) ', line)
                        if m and "listener=lb" in line:
                            codes[m.group(1)] = codes.get(m.group(1), 0) + 1
                row["note"] += "; access log of :44444: " + (", ".join(f"{k} x{v}" for k, v in sorted(codes.items()))
                                                             or "no lines")
        # AttemptFails also counts the proxy's own refused upstream connects (the lb profile's
        # backends close with it): take the ones it logged off, the rest are wrk's.
        own = sum(count(f, r"connect: connection refused|connect\(\) failed \(111")
                  for f in (log, os.path.join(run, "error.log")))
        row["refused"] = max(0, row["refused"] - own)
        if own:
            row["note"] += f"; proxy's own refused upstream connects {own}"
        if row["held"] is False:
            row["note"] += "; port not free at the end: refused may exceed wrk's count by up to 32"
        elif row["held"]:
            row["note"] += f"; port held (no new refusals) from {row['held']:.1f}s"
        row["fail"] = (row["connect"] + row["read"] + row["write"] - row["refused"] + row["timeout"]
                       + row["non2xx"])
    except (RuntimeError, OSError) as e:
        row.update({k: None for k in COLUMNS + ("refused", "fail")})
        row["note"] = f"FAILED TO RUN: {e}".splitlines()[0]
        print(f"reload_errors: {kind} {scenario}: {e}", file=sys.stderr)
    finally:
        procs.stop(p)
    return row


# ---------------------------------------------------------------- report
def fmt_row(r):
    cells = [r["proxy"], r["scenario"], str(r["rep"])]
    for k in COLUMNS:
        cells.append("-" if r.get(k) is None else str(r[k]))
    for k in ("refused", "fail"):
        cells.append("-" if r.get(k) is None else str(r[k]))
    sig = ", ".join(f"{n}@{t:.1f}s" for t, n in r.get("signals", []))
    cells.append(sig)
    cells.append(r.get("note", ""))
    return cells


HEAD = ["proxy", "scenario", "run", "requests", "connect", "read", "write", "timeout", "non-2xx",
        "refused", "fail", "signals (s from wrk start)", "note"]


def md_table(rows):
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(fmt_row(r)) + " |" for r in rows]
    return "\n".join(lines)


def spread_table(rows):
    groups = {}
    for r in rows:
        if r.get("requests") is not None:
            groups.setdefault((r["proxy"], r["scenario"]), []).append(r)
    keys = COLUMNS + ("refused", "fail")
    lines = ["| proxy | scenario | runs | " + " | ".join(keys) + " |", "|" + "---|" * (3 + len(keys))]
    for (kind, sc), rs in groups.items():
        cells = [kind, sc, str(len(rs))]
        for k in keys:
            vals = [r[k] for r in rs]
            cells.append(str(vals[0]) if min(vals) == max(vals) else
                         f"{min(vals)}-{max(vals)} (median {statistics.median(vals):g})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", default=os.environ.get("PROXYD_BIN", os.path.join(REPO, "build", "proxyd")),
                    help="proxyd binary (default $PROXYD_BIN or build/proxyd)")
    ap.add_argument("--plugins", help="proxyd's plugin folder (default: plugins/ beside the binary); "
                    "plugin_dir of the generated config, and -p for the lb profile")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each proxy and scenario (default 1)")
    ap.add_argument("--only", choices=("proxyd", "nginx"), help="one proxy only")
    ap.add_argument("--scenarios", default="reload,stop,stop-lb-profile",
                    help="comma list of reload, stop, stop-lb-profile (default all three)")
    ap.add_argument("--seconds", type=int, default=8, help="wrk duration (default 8); signals at 1/4, "
                    "1/2, 3/4 of it (reload) or at 1/2 (stop)")
    ap.add_argument("--lb-profile", help="the lb profile to run (default: conf.d/lb.toml of the working tree)")
    ap.add_argument("--lb-rev", help="run `git show REV:conf.d/lb.toml` as the lb profile instead")
    ap.add_argument("--port-base", type=int, default=25800,
                    help="proxyd on BASE+1, nginx on BASE+2, backends on BASE+11..15 (default 25800)")
    ap.add_argument("--shared-netns", action="store_true",
                    help="run in this network namespace instead of a private one (see below)")
    a = ap.parse_args()

    # The refused-connect count comes from the namespace-wide TCP counters, so by default the
    # whole run (this script, backends, proxies, wrk) re-executes itself in a private network
    # namespace with only loopback up: nothing else adds to the counters, and the lb profile's
    # fixed ports are free. Root (or CAP_SYS_ADMIN) only; otherwise it runs where it is.
    if not a.shared_netns and os.environ.get("RELOAD_ERRORS_NETNS") != "1":
        if shutil.which("unshare") and shutil.which("ip") and \
                subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
            os.environ["RELOAD_ERRORS_NETNS"] = "1"
            sys.stdout.flush()
            os.execvp("unshare", ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                                  sys.executable, os.path.abspath(__file__)] + sys.argv[1:])
        print("reload_errors: cannot make a private network namespace (unshare -n): running in this one; "
              "other programs' refused connects will add to the refused column", file=sys.stderr)
    netns = "private network namespace" if os.environ.get("RELOAD_ERRORS_NETNS") == "1" else "shared network namespace"
    # 44444 lies in the ephemeral range: once the lb profile's listener is gone, one of wrk's many
    # reconnects can get 44444 as its own source port and connect to itself (TCP simultaneous
    # open), which wrk counts as a read error. Reserve it, in the private namespace only.
    reserved = "/proc/sys/net/ipv4/ip_local_reserved_ports"
    if netns.startswith("private"):
        try:
            with open(reserved, "w") as f:
                f.write("44444")
        except OSError as e:
            print(f"reload_errors: could not reserve port 44444 ({e})", file=sys.stderr)
    try:
        with open(reserved) as f:
            if "44444" not in f.read():
                print("reload_errors: port 44444 is not in net.ipv4.ip_local_reserved_ports: in the lb "
                      "profile's stop, a reconnect of wrk may connect to itself (a read error)", file=sys.stderr)
    except OSError:
        pass

    scenarios = [s for s in a.scenarios.split(",") if s]
    for s in scenarios:
        if s not in ("reload", "stop", "stop-lb-profile"):
            ap.error(f"unknown scenario {s}")
    kinds = [a.only] if a.only else ["proxyd", "nginx"]
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"reload_errors: {tool} missing (apt-get install wrk nginx)")
    if "proxyd" in kinds and not os.access(a.proxyd, os.X_OK):
        raise SystemExit(f"reload_errors: no proxyd at {a.proxyd} (--proxyd or PROXYD_BIN)")
    a.proxyd = os.path.abspath(a.proxyd)
    a.plugins_given = bool(a.plugins)
    a.plugins = os.path.abspath(a.plugins or os.path.join(os.path.dirname(a.proxyd), "plugins"))

    top = tempfile.mkdtemp(prefix="proxyd-reload-errors-")
    os.chmod(top, 0o755)            # nginx's workers (www-data) read the backends' file from here
    print(f"reload_errors: {time.strftime('%Y-%m-%d %H:%M:%S %Z')} ({netns}); configs, logs and wrk output "
          f"in {top}", flush=True)
    ports = {"proxyd": a.port_base + 1, "nginx": a.port_base + 2}
    backend_ports = [a.port_base + 11 + i for i in range(5)]

    if "stop-lb-profile" in scenarios and "proxyd" in kinds:
        a.lb_staged = stage_lb_profile(top, a)
        r = subprocess.run([a.proxyd, "-t", "-c", a.lb_staged[0]] + (["-p", a.plugins] if a.plugins_given else []),
                           capture_output=True, text=True, timeout=60)
        print(f"reload_errors: lb profile {a.lb_staged[1]} -> {a.lb_staged[0]}; proxyd -t: "
              f"{(r.stdout + r.stderr).strip().splitlines()[-1:] or ['(no output)']}", flush=True)
        if r.returncode:
            print(f"reload_errors: proxyd refuses the lb profile:\n{r.stdout}{r.stderr}"
                  "(an older binary may need an older profile: --lb-rev REV or --lb-profile FILE)",
                  file=sys.stderr)
            scenarios.remove("stop-lb-profile")

    procs = Procs()

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    rows = []
    try:
        backends = None
        if any(s != "stop-lb-profile" for s in scenarios):
            backends = start_backends(procs, top, backend_ports)
        for rep in range(1, a.repeat + 1):
            for sc in scenarios:
                for kind in kinds:
                    if sc == "stop-lb-profile" and kind != "proxyd":
                        continue
                    r = run_once(procs, a, kind, sc, rep, top, backend_ports, ports)
                    rows.append(r)
                    print("  " + " | ".join(fmt_row(r)), flush=True)
                    time.sleep(0.5)
        if backends is not None:
            procs.stop(backends)
    except KeyboardInterrupt:
        print("reload_errors: interrupted; stopping everything started here", file=sys.stderr)
        raise SystemExit(130)
    finally:
        procs.stop_all()

    text = [f"reload_errors.py, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}: wrk -t2 -c32 -d{a.seconds}s "
            f"{URI} (keep-alive, no retries), {netns}; backends: one nginx, 5 ports (lb profile: its own listeners); proxyd {a.proxyd}, "
            "nginx stop = SIGQUIT (graceful), proxyd stop = SIGTERM (graceful).", "",
            "connect/read/write/timeout/non-2xx: wrk's counters. refused: wrk's connects refused "
            "because the listener had closed (kernel TCP AttemptFails over the run, minus refused "
            "upstream connects the proxy logged); wrk counts such a connect as a write (or read) "
            "error, since its non-blocking connect only fails on first use. "
            "fail = connect + read + write - refused + timeout + non-2xx: requests lost on "
            "connections the proxy had accepted, plus error responses.", "", md_table(rows)]
    if a.repeat > 1:
        text += ["", "Spread over the runs (min-max):", "", spread_table(rows)]
    body = "\n".join(text) + "\n"
    with open(os.path.join(top, "results.md"), "w") as f:
        f.write(body)
    print()
    print(body)
    print(f"reload_errors: results in {top}/results.md")


if __name__ == "__main__":
    main()
