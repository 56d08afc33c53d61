#!/usr/bin/env python3
"""Profile proxyd on one benchmark cell: perf (sampling, cpu-clock) or callgrind (instructions).

    python3 tests/bench/profile.py --proxyd BIN --cell rev1k  --tool perf       # wrk c50, 8 s
    python3 tests/bench/profile.py --proxyd BIN --cell lb5    --tool callgrind  # ab -k, bounded
    python3 tests/bench/profile.py --proxyd BIN --cell pdf    --target nginx-w1 # the peer, same load

Cells: rev1k (reverse, /index.html, 681 B, wrk c50), lb5 (5 backends, wrk c50),
lb5close (5 backends, ab c10 without keep-alive), pdf (reverse /pdf/report.pdf, wrk c50).
Uses the backends and the proxyd config of bench.py (workers = 1). Build proxyd with
`-g -fno-omit-frame-pointer` for readable call graphs. Reports go to --out/profile/<stamp>/.
perf: `perf record -e cpu-clock -g` on the target's processes (proxyd, or with --target a peer of
bench.py: nginx's master and worker, HAProxy) for the load's duration, then `perf report`.
callgrind: proxyd runs under valgrind; counters are zeroed after warm-up and dumped after a
bounded load (ab -n), so the totals divided by the requests give instructions per request.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

CELLS = {
    "rev1k": ("rev", "/index.html", True),
    "lb5": ("lb", "/", True),
    "lb5close": ("lb", "/", False),
    "pdf": ("rev", "/pdf/report.pdf", True),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", required=True)
    ap.add_argument("--cell", choices=CELLS, default="rev1k")
    ap.add_argument("--tool", choices=("perf", "callgrind"), default="perf")
    ap.add_argument("--target", choices=[t for t in bench.TARGETS if t != "direct"], default="proxyd-w1",
                    help="perf only: what to profile (default proxyd-w1)")
    ap.add_argument("--seconds", type=int, default=8, help="perf: load duration")
    ap.add_argument("--requests", type=int, default=20000, help="callgrind: requests after warm-up")
    ap.add_argument("--concurrency", type=int, default=10,
                    help="callgrind: ab -c; 1 makes the count independent of the machine's load (one "
                         "event per loop turn), for A/B comparisons of builds")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-selfbench"))
    a = ap.parse_args()
    scen, uri, ka = CELLS[a.cell]
    out = os.path.join(a.out, "profile", time.strftime("%Y%m%d-%H%M%S") + "-" + a.cell + "-" + a.tool)
    os.makedirs(out)
    bench.make_fixtures(os.path.join(a.out, "www"))
    procs = bench.Procs()
    try:
        bench.start_backends(procs, out, os.path.join(a.out, "www"))
        name = a.target if a.tool == "perf" else "proxyd-w1"
        if a.tool == "callgrind" and a.target != "proxyd-w1":
            raise SystemExit("profile: --target is for --tool perf")
        _, _, rev, lb = bench.TARGETS[name]
        port = rev if scen == "rev" else lb
        url = f"http://{bench.HOST}:{port}{uri}"
        if a.tool == "perf":
            p = bench.start_target(procs, name, out, 5, a.proxyd)
            subprocess.run(["wrk", "-t1", "-c50", "-d2s", url], capture_output=True)
            pids = bench.descendants(p.pid)  # nginx's worker is the master's child
            data = os.path.join(out, "perf.data")
            perf = procs.start(["perf", "record", "-e", "cpu-clock", "-F", "2999", "-g", "-o", data,
                                "-p", ",".join(map(str, pids))], os.path.join(out, "perf.log"))
            time.sleep(0.5)
            if ka:
                load = ["wrk", "-t1", "-c50", f"-d{a.seconds}s", "--latency", url]
            else:
                load = ["ab", "-q", "-c", "10", "-n", str(a.seconds * 6000), url]
            c0 = bench.cpu_ns(pids)
            r = subprocess.run(load, capture_output=True, text=True)
            c1 = bench.cpu_ns(pids)
            procs.stop(perf, timeout=30)
            with open(os.path.join(out, "load.log"), "w") as f:
                f.write(r.stdout + r.stderr)
            reqs = None
            m = re.search(r"(\d+) requests in", r.stdout) or re.search(r"Complete requests:\s+(\d+)", r.stdout)
            if m:
                reqs = int(m.group(1))
            print(f"{a.cell}: {reqs} requests, {name} {((c1 - c0) / 1e3 / reqs) if reqs else 0:.1f} us/req "
                  f"(under perf)")
            for mode, args in (("self", ["--no-children"]), ("children", ["--children"])):
                rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--percent-limit", "0.7",
                                      "-g", "none", "--sort", "symbol"] + args,
                                     capture_output=True, text=True)
                with open(os.path.join(out, f"report-{mode}.txt"), "w") as f:
                    f.write(rep.stdout)
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "2",
                                  "-g", "caller,0.5,callee", "--sort", "symbol"], capture_output=True, text=True)
            with open(os.path.join(out, "report-callers.txt"), "w") as f:
                f.write(rep.stdout)
            procs.stop(p)
        else:
            cg = os.path.join(out, "callgrind.out")
            # start proxyd under valgrind with bench.py's config
            p = bench.start_target(procs, name, out, 5, a.proxyd)
            cfg = os.path.join(out, name, "proxyd.toml")
            procs.stop(p)
            time.sleep(0.5)
            p = procs.start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", "--dump-instr=no",
                             a.proxyd, "-c", cfg], os.path.join(out, "valgrind.log"))
            for port_ in (rev, lb):
                if not bench.wait_port(port_, 60):
                    raise SystemExit("proxyd under valgrind did not start")
            abk = ["-k"] if ka else []
            conc = str(a.concurrency)
            subprocess.run(["ab", "-q", "-c", conc, "-n", "2000"] + abk + [url], capture_output=True)
            subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True)
            r = subprocess.run(["ab", "-c", conc, "-n", str(a.requests)] + abk + [url], capture_output=True, text=True)
            subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True)
            time.sleep(1)
            with open(os.path.join(out, "load.log"), "w") as f:
                f.write(r.stdout + r.stderr)
            procs.stop(p, timeout=30)
            dumps = sorted(f for f in os.listdir(out) if f.startswith("callgrind.out."))
            target = os.path.join(out, dumps[-1]) if dumps else cg
            for mode in ("no", "yes"):
                rep = subprocess.run(["callgrind_annotate", f"--inclusive={mode}", "--threshold=99", target],
                                     capture_output=True, text=True)
                with open(os.path.join(out, f"annotate-inclusive-{mode}.txt"), "w") as f:
                    f.write(rep.stdout)
            print(f"{a.cell}: {a.requests} requests profiled; see {out}/annotate-*.txt (from {target})")
    finally:
        procs.stop_all()
    print(out)


if __name__ == "__main__":
    main()
