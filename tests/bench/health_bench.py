#!/usr/bin/env python3
"""What active health checks cost the request path: one proxyd round-robins over five backends
(one separate proxyd serving a small static file on five ports), once without health checks and
once with an http check of every peer each second; wrk -t1 runs alternate between the two for
--reps repetitions. Prints req/s and the front proxy's CPU microseconds per request (all its
threads, the checker's included, from /proc/PID/task/*/schedstat), medians and the ratio with to
without. Loopback only; both proxies are stopped by PID.

    python3 tests/bench/health_bench.py --proxyd build/proxyd [--reps 3] [--seconds 5] [--conns 50]
    python3 tests/bench/health_bench.py --proxyd build/proxyd --tool callgrind [--conns 10]

--tool callgrind runs both front proxies under valgrind and gives instructions per request instead
(all threads, the checker's included: counters zeroed before each wrk run, dumped after, the
dump's total divided by the requests), which a busy machine does not disturb.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (cpu_ns)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("port %d never accepted" % port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxyd", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--tool", choices=("cpu", "callgrind"), default="cpu")
    args = ap.parse_args()
    callgrind = args.tool == "callgrind"
    proxyd = os.path.abspath(args.proxyd)
    plugins = os.path.join(os.path.dirname(proxyd), "plugins")
    folder = tempfile.mkdtemp(prefix="proxyd-health-bench-")
    root = os.path.join(folder, "www")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><title>bench</title>\n" + "x" * 600 + "\n")
    backends = free_ports(5)
    fronts = free_ports(2)
    head = 'workers = 1\nplugin_dir = "%s"\n[log]\naccess = "off"\nlevel = "warn"\n\n' % plugins
    back = head + '[handlers.site]\nplugin = "static"\nroot = "%s"\n\n' % root
    for n, p in enumerate(backends):
        back += '[[listeners]]\nname = "b%d"\nlisten = "127.0.0.1:%d"\nhandler = "site"\n\n' % (n, p)
    peers = ", ".join('"127.0.0.1:%d"' % p for p in backends)
    checks = 'health_check = { path = "/index.html", interval = "1s" }\n'
    procs = []
    try:
        for name, text, port in [("backends", back, backends[0])] + [
                (name, head + "[upstreams.u]\npeers = [%s]\nkeepalive = 64\n%s\n[[listeners]]\nname = \"f\"\n"
                 "listen = \"127.0.0.1:%d\"\nupstream = \"u\"\nx_forwarded = false\nforwarded = false\nvia = false\n"
                 % (peers, extra, port), port)
                for name, extra, port in (("plain", "", fronts[0]), ("checked", checks, fronts[1]))]:
            path = os.path.join(folder, name + ".toml")
            with open(path, "w") as f:
                f.write(text)
            argv = [proxyd, "-c", path]
            if callgrind and name != "backends":
                argv = ["valgrind", "--tool=callgrind", "--dump-instr=no",
                        "--callgrind-out-file=" + os.path.join(folder, name + ".cg.%p")] + argv
            procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(folder, name + ".log"), "w")))
            wait_port(port, 60 if callgrind else 10)
        results = {"plain": [], "checked": []}
        for rep in range(args.reps):
            order = [("plain", procs[1], fronts[0]), ("checked", procs[2], fronts[1])]
            for name, proc, port in (order if rep % 2 == 0 else order[::-1]):
                if callgrind:
                    subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=True)
                before = bench.cpu_ns([proc.pid])
                out = subprocess.run(["wrk", "-t1", "-c%d" % args.conns, "-d%ds" % args.seconds,
                                      "http://127.0.0.1:%d/index.html" % port],
                                     capture_output=True, text=True).stdout
                cpu = bench.cpu_ns([proc.pid]) - before
                requests = int(re.search(r"(\d+) requests in", out).group(1))
                if callgrind:  # instructions, reported in the CPU column as "per request" units of 1000
                    dumps_before = set(os.listdir(folder))
                    subprocess.run(["callgrind_control", "--dump", str(proc.pid)], capture_output=True, check=True)
                    time.sleep(1)
                    dump = sorted(set(os.listdir(folder)) - dumps_before)[-1]
                    with open(os.path.join(folder, dump)) as f:
                        cpu = int(re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M).group(1))
                errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
                results[name].append((rps, cpu / 1000 / requests))
                print("rep %d %-8s %9.0f req/s  %6.2f %s/request%s" % (
                    rep + 1, name, rps, cpu / 1000 / requests, "k instructions" if callgrind else "us CPU",
                    "  errors: " + errors.group(0) if errors else ""))
        med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
               for n, v in results.items()}
        print("median   plain %.0f req/s %.2f; checked %.0f req/s %.2f (per request); ratio checked/plain: "
              "req/s %.3f, CPU/request %.3f" % (med["plain"][0], med["plain"][1], med["checked"][0],
                                                 med["checked"][1], med["checked"][0] / med["plain"][0],
                                                 med["checked"][1] / med["plain"][1]))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
