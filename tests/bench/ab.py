#!/usr/bin/env python3
"""A/B of proxyd builds beside nginx in one run: the way to measure one optimisation.

    python3 tests/bench/ab.py --bin main=/tmp/perf-base/proxyd --bin new=/tmp/build-bench/proxyd \\
        --cells rev1k,pdf,lb5close --rounds 3

Every --bin is a Release proxyd (its plugins beside it, as in a build tree), started with
bench.py's proxyd.toml (workers = 1) on its own ports; nginx-w1 is bench.py's nginx target; all
reach bench.py's backends (one nginx process). Cells rev1k, 64k, pdf and lb5 are wrk -t1 c50
through the reverse / load-balancer profile, lb5close is ab c10 without keep-alive. The static
cells static64k and staticpdf have each proxyd serve the fixture tree itself with the static
plugin, against the backends' nginx serving the same tree (sendfile on, tcp_nopush on).
Within a cell the targets run one after another, --rounds times, the start position rotating,
so all see the same state of a shared machine; the medians are printed at the end, with each
CPU µs/req figure (all threads of the target's processes, /proc/PID/task/*/schedstat deltas ÷
requests) also as a ratio to nginx's in the same run. Logs and raw.json go to --out.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

CELLS = {
    "rev1k": ("rev", "/index.html", "wrk"),
    "64k": ("rev", "/static/64k.bin", "wrk"),
    "pdf": ("rev", "/pdf/report.pdf", "wrk"),
    "lb5": ("lb", "/", "wrk"),
    "lb5close": ("lb", "/", "ab"),
    "static64k": ("static", "/static/64k.bin", "wrk"),
    "staticpdf": ("static", "/pdf/report.pdf", "wrk"),
}
STATIC_CONFIG = """workers = 1
plugin_dir = "{plugins}"
[log]
access = "off"
error = "{run}/error.log"
level = "warn"
[limits]
max_connections = 16384
keepalive_timeout = "65s"
[plugins]
static = "content_static.so"
[handlers.site]
plugin = "static"
root = "{www}"
[[listeners]]
name = "static"
listen = "{host}:{port}"
handler = "site"
"""


def start_static(procs, name, run, binary, www, port):
    d = os.path.join(run, name + "-static")
    os.makedirs(d)
    cfg = os.path.join(d, "proxyd.toml")
    with open(cfg, "w") as f:
        f.write(STATIC_CONFIG.format(plugins=os.path.join(os.path.dirname(binary), "plugins"), run=d, www=www,
                                     host=bench.HOST, port=port))
    p = procs.start([binary, "-c", cfg], os.path.join(d, "out.log"))
    if not bench.wait_port(port):
        raise SystemExit(f"ab: {name} (static) did not listen on {port}; see {d}")
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, metavar="NAME=PATH", help="a proxyd build to compare")
    ap.add_argument("--cells", default="rev1k,pdf,lb5close", help="comma-separated: " + ",".join(CELLS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3, help="wrk duration; ab runs 3000 requests per second of it")
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-selfbench"))
    a = ap.parse_args()
    cells = a.cells.split(",")
    for c in cells:
        if c not in CELLS:
            raise SystemExit(f"ab: unknown cell {c}")
    run = os.path.join(a.out, "ab", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(run)
    www = os.path.join(a.out, "www")
    bench.make_fixtures(www)
    procs = bench.Procs()
    builds = [spec.split("=", 1) for spec in a.bin]
    ports = {}  # name -> {"rev": port, "lb": port, "static": port}
    pids = {}
    try:
        backends = bench.start_backends(procs, run, www)
        time.sleep(0.3)
        backend_pids = bench.descendants(backends.pid)
        ports["nginx-w1"] = {"rev": bench.TARGETS["nginx-w1"][2], "lb": bench.TARGETS["nginx-w1"][3],
                             "static": bench.REV_BACKENDS["default"]}
        for i, (name, binary) in enumerate(builds):
            rev, lb, static = 24011 + i, 24111 + i, 24211 + i
            bench.TARGETS[name] = ("proxyd", 1, rev, lb)
            ports[name] = {"rev": rev, "lb": lb, "static": static}
            p = bench.start_target(procs, name, run, 5, binary)
            pids[name] = {"rev": [p.pid], "lb": [p.pid]}
            if any(CELLS[c][0] == "static" for c in cells):
                pids[name]["static"] = [start_static(procs, name, run, binary, www, static).pid]
        p = bench.start_target(procs, "nginx-w1", run, 5, None)
        time.sleep(0.3)
        pids["nginx-w1"] = {"rev": bench.descendants(p.pid), "lb": bench.descendants(p.pid),
                            "static": backend_pids}
        names = [name for name, _ in builds] + ["nginx-w1"]
        results = {}
        for cell in cells:
            scen, uri, tool = CELLS[cell]
            for r in range(a.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    url = f"http://{bench.HOST}:{ports[name][scen]}{uri}"
                    tag = f"{cell}-{name}-{r}"
                    if tool == "wrk":
                        load = lambda: bench.run_wrk(url, 50, a.seconds, run, tag)  # noqa: E731
                    else:
                        load = lambda: bench.run_ab(url, a.seconds * 3000, 10, False, run, tag)  # noqa: E731
                    # the static cells' nginx is the backends themselves: nothing else to subtract
                    m = bench.measure(load, pids[name][scen], [] if scen == "static" else backend_pids)
                    results.setdefault(cell, {}).setdefault(name, []).append(m)
                    print(f"{cell:9s} round {r} {name:10s} {m['rps']:9.0f} req/s {m['us_req']:7.1f} µs/req "
                          f"errors {m['errors']}", flush=True)
        print("\nmedians (ratio to nginx-w1 in the same run):")
        for cell, by in results.items():
            ref_us = statistics.median(m["us_req"] for m in by["nginx-w1"])
            ref_rps = statistics.median(m["rps"] for m in by["nginx-w1"])
            for name in names:
                ms = by[name]
                us = statistics.median(m["us_req"] for m in ms)
                rps = statistics.median(m["rps"] for m in ms)
                p99 = statistics.median(m["p99"] or 0 for m in ms)
                print(f"{cell:9s} {name:10s} {rps:9.0f} req/s (×{rps / ref_rps:.2f})  {us:7.1f} µs/req "
                      f"(×{us / ref_us:.2f})  p99 {p99:.2f} ms  errors {sum(m['errors'] for m in ms)}")
        with open(os.path.join(run, "raw.json"), "w") as f:
            json.dump(results, f)
        print(run)
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
