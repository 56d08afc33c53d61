#!/usr/bin/env python3
"""Memory cost of idle client keep-alive connections: proxyd (and nginx for reference).

    python3 tests/bench/idle_conns.py [--conns 10000] [--targets proxyd-w1,nginx-w1]

Starts the benchmark's backends and each target (the configs of tests/bench/, as bench.py does),
then for each target: RSS baseline after a warm-up, RSS with N connections open but silent
(inside the header timeout), and RSS once each of them has made one request and sits idle in
keep-alive. Prints the delta per connection. N client sockets plus N proxy sockets must fit the
fd limit (`ulimit -Hn`); the soft limit is raised to the hard one. Loopback only; everything
started is stopped by PID.
"""
import argparse
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def settle(pids):
    time.sleep(1.0)
    return rss_kib(pids)


def open_conns(port, n):
    socks = []
    for i in range(n):
        s = socket.create_connection((bench.HOST, port), 5)
        socks.append(s)
    return socks


def one_request_each(socks, uri):
    """Send one keep-alive request on every socket and read each whole response (by
    Content-Length), with at most a few hundred in flight."""
    req = f"GET {uri} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    pending, i, done, failed = {}, 0, 0, 0
    window = 200
    while done + failed < len(socks):
        while i < len(socks) and len(pending) < window:
            s = socks[i]
            s.setblocking(False)
            s.send(req)
            pending[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
            i += 1
        for key, _ in sel.select(10):
            s = key.fileobj
            data = s.recv(65536)
            buf = pending[s]
            buf += data
            head_end = buf.find(b"\r\n\r\n")
            complete = False
            if not data:
                failed += 1
                complete = True
            elif head_end >= 0:
                head = buf[:head_end].decode("latin-1").lower()
                cl = 0
                for line in head.split("\r\n"):
                    if line.startswith("content-length:"):
                        cl = int(line.split(":", 1)[1])
                if len(buf) >= head_end + 4 + cl:
                    complete = True
                    if b" 200 " not in buf[:16]:
                        failed += 1
                    else:
                        done += 1
            if complete:
                sel.unregister(s)
                del pending[s]
    return done, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--targets", default="proxyd-w1,nginx-w1")
    ap.add_argument("--proxyd", default=os.environ.get("PROXYD_BIN", os.path.join(bench.REPO, "build", "proxyd")))
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "proxyd-selfbench"))
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.conns + 100 > hard:
        raise SystemExit(f"idle_conns: {a.conns} connections do not fit the fd limit {hard}")
    run = os.path.join(a.out, "idle", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(run)
    bench.make_fixtures(os.path.join(a.out, "www"))
    procs = bench.Procs()
    results = []
    try:
        bench.start_backends(procs, run, os.path.join(a.out, "www"))
        for t in a.targets.split(","):
            p = bench.start_target(procs, t, run, 5, a.proxyd)
            pids = bench.descendants(p.pid)
            rev = bench.TARGETS[t][2]
            subprocess.run(["wrk", "-t1", "-c50", "-d2s", f"http://{bench.HOST}:{rev}/index.html"],
                           capture_output=True, timeout=60)
            base = settle(pids)
            t0 = time.monotonic()
            socks = open_conns(rev, a.conns)
            silent = settle(pids)
            ok, bad = one_request_each(socks, "/index.html")
            idle = settle(pids)
            elapsed = time.monotonic() - t0
            for s in socks:
                s.close()
            after = settle(pids)
            procs.stop(p)
            row = (t, base, silent, idle, after, ok, bad, elapsed)
            results.append(row)
            print(f"{t}: baseline {base} KiB; {a.conns} silent conns {silent} KiB "
                  f"(+{(silent - base) * 1024 / a.conns:.0f} B/conn); after one request each, idle "
                  f"keep-alive {idle} KiB (+{(idle - base) * 1024 / a.conns:.0f} B/conn; {ok} ok, {bad} failed; "
                  f"{elapsed:.1f} s); all closed {after} KiB", flush=True)
    finally:
        procs.stop_all()
    print("\n| target | baseline RSS | N silent | per conn | N idle keep-alive | per conn | after close |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for t, base, silent, idle, after, ok, bad, _ in results:
        print(f"| {t} | {base / 1024:.1f} MiB | {silent / 1024:.1f} MiB | {(silent - base) * 1024 / a.conns:.0f} B "
              f"| {idle / 1024:.1f} MiB | {(idle - base) * 1024 / a.conns:.0f} B | {after / 1024:.1f} MiB |")


if __name__ == "__main__":
    main()
