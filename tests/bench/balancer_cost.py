#!/usr/bin/env python3
"""CPU per request of the balancers, side by side in one proxyd: the lb5 shape of bench.py (five
nginx backends serving /index.html, keep-alive clients, upstream keepalive 64, workers = 1, no
access log), one listener per balancer, all measured in the same run.

    python3 tests/bench/balancer_cost.py --proxyd BIN                     # CPU time, ab -k c10
    python3 tests/bench/balancer_cost.py --proxyd BIN --tool callgrind    # instructions per request

cpu: on-CPU time of proxyd's threads (schedstat) per request, the listeners taking turns for
--reps rounds, medians; each figure also as a ratio to round_robin of the same round.
callgrind: proxyd under valgrind; for each listener the counters are zeroed, --requests requests
run, and the dump's total instructions divided by the requests: deterministic, so usable on a busy
machine. Not a ctest test; needs nginx and ab (apache2-utils), and valgrind for callgrind.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# name -> balancer. Every listener gets the same requests, X-User included, so that only the
# balancer differs.
BALANCERS = {
    "round_robin": '"round_robin"',
    "least_conn": '"least_conn"',
    "hash_client": '{ plugin = "hash" }',
    "hash_header": '{ plugin = "hash", key = "header:X-User" }',
    "hash_bounded": '{ plugin = "hash", key = "header:X-User", bounded_load = 1.25 }',
}
AB_HEADERS = ["-H", "X-User: user-4711"]


def config(plugins, base_port):
    peers = ", ".join('"%s:%d"' % (bench.HOST, p) for p in bench.LB_POOL)
    text = 'workers = 1\nplugin_dir = "%s"\n\n[log]\naccess = "off"\nlevel = "warn"\n\n' % plugins
    for i, (name, balancer) in enumerate(BALANCERS.items()):
        text += "[upstreams.%s]\npeers = [%s]\nbalancer = %s\nkeepalive = 64\n\n" % (name, peers, balancer)
        text += ('[[listeners]]\nname = "%s"\nlisten = "%s:%d"\nupstream = "%s"\nx_forwarded = false\n'
                 'forwarded = false\nvia = false\n\n' % (name, bench.HOST, base_port + i, name))
    return text


def ab(port, n, c):
    argv = ["ab", "-q", "-r", "-k", "-n", str(n), "-c", str(c)] + AB_HEADERS + ["http://%s:%d/index.html" % (bench.HOST, port)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    done = re.search(r"Complete requests:\s+(\d+)", r.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", r.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", r.stdout)
    errors = (int(failed.group(1)) if failed else 0) + (int(non2xx.group(1)) if non2xx else 0)
    if not done or errors or r.returncode:
        raise SystemExit("balancer_cost: ab on %d failed (%s errors):\n%s%s" % (port, errors, r.stdout, r.stderr))
    return int(done.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", required=True)
    ap.add_argument("--tool", choices=("cpu", "callgrind"), default="cpu")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5, help="cpu: rounds over the balancers")
    ap.add_argument("--port", type=int, default=24301, help="first listener port (one per balancer)")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-selfbench"))
    a = ap.parse_args()
    ports = {name: a.port + i for i, name in enumerate(BALANCERS)}
    for port in list(ports.values()) + bench.LB_POOL:
        if bench.port_busy(port):
            raise SystemExit("balancer_cost: port %d is in use" % port)
    out = os.path.join(a.out, "balancer_cost", time.strftime("%Y%m%d-%H%M%S") + "-" + a.tool)
    os.makedirs(out)
    bench.make_fixtures(os.path.join(a.out, "www"))
    cfg = os.path.join(out, "proxyd.toml")
    with open(cfg, "w") as f:
        f.write(config(os.path.join(os.path.dirname(os.path.abspath(a.proxyd)), "plugins"), a.port))
    procs = bench.Procs()
    try:
        bench.start_backends(procs, out, os.path.join(a.out, "www"))
        argv = [a.proxyd, "-c", cfg]
        if a.tool == "callgrind":
            argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(out, "cg.out.%p"),
                    "--dump-instr=no"] + argv
        p = procs.start(argv, os.path.join(out, "proxyd.log"))
        for port in ports.values():
            if not bench.wait_port(port, 60):
                raise SystemExit("balancer_cost: proxyd did not listen on %d (see %s)" % (port, out))
        for name, port in ports.items():  # warm-up: connections pooled, pages cached
            ab(port, 2000, a.concurrency)
        rows = {name: [] for name in BALANCERS}
        if a.tool == "cpu":
            names = list(BALANCERS)
            for rep in range(a.reps):
                order = names[rep % len(names):] + names[:rep % len(names)]  # rotate who goes first
                for name in order:
                    c0 = bench.cpu_ns([p.pid])
                    n = ab(ports[name], a.requests, a.concurrency)
                    rows[name].append((bench.cpu_ns([p.pid]) - c0) / 1e3 / n)
            unit = "us CPU/request"
        else:
            for name in BALANCERS:
                subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, check=True)
                n = ab(ports[name], a.requests, a.concurrency)
                before = set(os.listdir(out))
                subprocess.run(["callgrind_control", "--dump=" + name, str(p.pid)], capture_output=True, check=True)
                time.sleep(1)
                dumps = sorted(set(os.listdir(out)) - before)
                with open(os.path.join(out, dumps[-1])) as f:
                    total = int(re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M).group(1))
                rows[name].append(total / n)
            unit = "instructions/request"
        procs.stop(p, timeout=30)
        base = statistics.median(rows["round_robin"])
        lines = ["| balancer | %s (median of %d) | ratio to round_robin | runs |" % (unit, len(rows["round_robin"])),
                 "| --- | --- | --- | --- |"]
        for name, values in rows.items():
            m = statistics.median(values)
            lines.append("| %s | %.1f | %.3f | %s |" % (name, m, m / base, ", ".join("%.1f" % v for v in values)))
        report = "\n".join(lines)
        with open(os.path.join(out, "results.md"), "w") as f:
            f.write(report + "\n")
        print(report)
    finally:
        procs.stop_all()
    print(out)


if __name__ == "__main__":
    main()
