#!/usr/bin/env python3
"""CPU cost per request of each shipped filter, against no filter, in one proxyd process and one run.

    python3 tests/bench/filter_cost.py --proxyd build-release/proxyd [--requests 20000 --rounds 5]

One proxyd (workers = 1, access log off) serves www/default/index.html with the static plugin on one
listener per variant: none, headers (a request field with $client_address and HSTS on the
response), access (two CIDR rules), rate_limit (a bucket too large to refuse), auth with a bearer
token, and auth with Basic credentials (bcrypt cost 4, verified once, then from the worker's cache).
Each round runs `ab -k -c 10 -n N` on every listener, the start rotating; proxyd's CPU time is read
from /proc/PID/task/*/schedstat around each run. Prints the median CPU µs per request per variant
and its difference to `none`. A Release build gives the figures that matter.

With --callgrind, proxyd runs under valgrind's callgrind instead, and the figure is user-space
instructions per request (counters zeroed before and dumped after each run: deterministic, so one
round of a few thousand requests is enough; the kernel's share is not counted).

Its config, proxyd's stderr and callgrind's dumps go to a /tmp/proxyd-filter-cost-* folder that is
removed when the script ends, however it ends (an error, Ctrl-C, SIGTERM); proxyd's last stderr
lines are printed first when the run failed.
"""
import glob
import argparse
import base64
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

HOST = "127.0.0.1"
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "bench-token-0123456789abcdef"
# htpasswd -nbB -C 4 alice wonderland
USERS = "alice:$2y$04$uzhPrPXXWm0IhNchC5.2d.xUsjjis4vySEPaiLnwcUOqeDj8LC2de\n"
VARIANTS = {
    "none": ([], []),
    "headers": (["tracing"], []),
    "access": (["office"], []),
    "rate_limit": (["limit"], []),
    "auth_bearer": (["staff"], ["Authorization: Bearer " + TOKEN]),
    "auth_basic_cached": (["staff"], ["Authorization: Basic " + base64.b64encode(b"alice:wonderland").decode()]),
}
FILTERS = """
[filters.tracing]
plugin = "headers"
request.set = { "X-Client" = "$client_address" }
response.set = { "Strict-Transport-Security" = "max-age=63072000; includeSubDomains" }

[filters.office]
plugin = "access"
rules = ["deny 10.9.0.0/16", "allow 127.0.0.0/8"]

[filters.limit]
plugin = "rate_limit"
rate = 1000000
burst = 1000000

[filters.staff]
plugin = "auth"
htpasswd = "users.htpasswd"
tokens = ["%s"]
""" % TOKEN


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind((HOST, 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def cpu_ns(pid):
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total


def run_ab(port, n, headers):
    argv = ["ab", "-q", "-k", "-c", "10", "-n", str(n)]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + ["http://%s:%d/index.html" % (HOST, port)], capture_output=True, text=True,
                         timeout=300).stdout
    done = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
    bad = re.search(r"Non-2xx responses:\s+(\d+)", out)
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    if done != n or bad or failed:
        sys.exit("ab on port %d: %s" % (port, out[-600:]))


def instructions(pid, folder, port, n, headers):
    """Instructions proxyd ran for n requests, from callgrind's counters zeroed and dumped around them."""
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, check=True)
    run_ab(port, n, headers)
    before = set(glob.glob(os.path.join(folder, "cg.out.*")))
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True)
    total = 0
    for dump in set(glob.glob(os.path.join(folder, "cg.out.*"))) - before:
        with open(dump) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    total += int(line.split()[1])
                    break
    return total / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", required=True)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--callgrind", action="store_true", help="instructions per request under callgrind")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="a subset, comma-separated ('none' is kept)")
    args = ap.parse_args()
    wanted = {"none"} | set(args.variants.split(","))
    # SIGTERM ends the script as Ctrl-C does: through the finally clauses that stop proxyd and
    # remove the folder.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    folder = tempfile.mkdtemp(prefix="proxyd-filter-cost-")
    try:
        measure(args, wanted, folder)
    except BaseException:
        stderr_path = os.path.join(folder, "proxyd.stderr")
        if os.path.exists(stderr_path):
            with open(stderr_path, errors="replace") as f:
                tail = f.read().splitlines()[-20:]
            if tail:
                print("filter_cost: proxyd's stderr ended with:\n  " + "\n  ".join(tail), file=sys.stderr)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(args, wanted, folder):
    with open(os.path.join(folder, "users.htpasswd"), "w") as f:
        f.write(USERS)
    ports = dict(zip(VARIANTS, free_ports(len(VARIANTS))))
    config = 'workers = 1\n\n[log]\naccess = "off"\nlevel = "warn"\n\n'
    config += '[handlers.site]\nplugin = "static"\nroot = "%s"\n' % os.path.join(SOURCE_DIR, "www", "default")
    config += FILTERS
    for name, (filters, _) in VARIANTS.items():
        config += '\n[[listeners]]\nname = "%s"\nlisten = "%s:%d"\nhandler = "site"\nfilters = [%s]\n' % (
            name, HOST, ports[name], ", ".join('"%s"' % f for f in filters))
    path = os.path.join(folder, "filter_cost.toml")
    with open(path, "w") as f:
        f.write(config)
    argv = [args.proxyd, "-c", path]
    if args.callgrind:
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(folder, "cg.out.%p")] + argv
    with open(os.path.join(folder, "proxyd.stderr"), "w") as stderr:
        proxyd = subprocess.Popen(argv, stderr=stderr)
    try:
        deadline = time.time() + (60 if args.callgrind else 10)
        while time.time() < deadline:
            try:
                socket.create_connection((HOST, ports["auth_basic_cached"]), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        results = {name: [] for name in VARIANTS}
        names = [name for name in VARIANTS if name in wanted]
        for name in names:  # warm-up: caches, the Basic user verified once
            run_ab(ports[name], 200, VARIANTS[name][1])
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                if args.callgrind:
                    results[name].append(instructions(proxyd.pid, folder, ports[name], args.requests, VARIANTS[name][1]))
                    continue
                before = cpu_ns(proxyd.pid)
                run_ab(ports[name], args.requests, VARIANTS[name][1])
                results[name].append((cpu_ns(proxyd.pid) - before) / args.requests / 1000.0)
        base = statistics.median(results["none"])
        print("proxyd %s, workers = 1, static index.html, ab -k -c 10 -n %d, %d rounds (median)" %
              (args.proxyd, args.requests, args.rounds))
        unit = "instr/req" if args.callgrind else "CPU us/req"
        print("%-18s %12s %12s   %s" % ("variant", unit, "vs none", "rounds"))
        for name in names:
            m = statistics.median(results[name])
            print("%-18s %12.2f %+12.2f   %s" % (name, m, m - base, " ".join("%.2f" % x for x in results[name])))
    finally:
        # A second SIGTERM must not cut the cleanup short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        proxyd.terminate()
        try:
            proxyd.wait(10)
        except subprocess.TimeoutExpired:
            proxyd.kill()
            proxyd.wait()


if __name__ == "__main__":
    main()
