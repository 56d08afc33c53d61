#!/usr/bin/env python3
"""The load-test figures of active health checks (issue 14), against the test harness's backends:
one proxyd round-robins over three backends with an http check of each (interval 500 ms, rise 2,
fall 2), while client threads send GETs on keep-alive connections and every answer is recorded.

- kill: one backend's listening socket and every connection close at once (as when its process
  is killed), and 3 s later a new backend listens on the same port. Requests, failures (a non-200,
  a reset, an early close), and how long until it served again.
- sick: one backend answers 500 to everything (health checks included) for 4 s, then recovers.
  Time from the first 500 until the checks marked it down, requests that saw a 5xx, and time from
  recovery until it was marked up.
- flap: one backend's health endpoint fails for 1.5 s, passes for 1.5 s, three times (each a real
  state change: down then up); then alternates pass/fail on every check (never `fall` in a row).
  Error-log lines about its state per flap.
Loopback only; proxyd is stopped by its PID (the harness does).

    python3 tests/bench/health_load.py --proxyd build/proxyd [--threads 4]
"""
import argparse
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxyd", required=True)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    os.environ["PROXYD_BIN"] = os.path.abspath(args.proxyd)
    return args


ARGS = parse()

from proxyd_harness import (HOST, Backend, Client, Proxyd, config_head, free_ports, listener, run_test,  # noqa: E402
                            toml_str, upstream, wait_for_log, workdir, write_file)
from health_helpers import SwitchableBackend  # noqa: E402


class Recorder:
    """Client threads on keep-alive connections; every answer as (monotonic time, status or the
    exception's name, body)."""

    def __init__(self, port, threads):
        self.port, self.stopping, self.lock = port, threading.Event(), threading.Lock()
        self.events = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        client = None
        while not self.stopping.is_set():
            try:
                if client is None:
                    client = Client(self.port, timeout=5)
                response = client.request("GET", "/")
                event = (time.monotonic(), response.status, response.body.decode().strip())
                if (response.header("connection") or "").lower() == "close":
                    client.close()
                    client = None
            except Exception as e:  # a reset or an early close is a failure a user sees
                event = (time.monotonic(), type(e).__name__, "")
                client = None
            with self.lock:
                self.events.append(event)
        if client:
            client.close()

    def since(self, start):
        with self.lock:
            return [e for e in self.events if e[0] >= start]

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(10)


def state_lines(proxyd, address):
    return re.findall(r"peer %s: (?:up|down):" % re.escape(address), proxyd.stderr_text())


def main():
    folder = workdir("health_load")
    backends = [SwitchableBackend(n) for n in ("a", "b", "c")]
    a, b, c = backends
    front, = free_ports(1)
    checks = 'health_check = { path = "/health", interval = "500ms", timeout = "500ms", rise = 2, fall = 2 }\n'
    config = (config_head(access="off", workers=2, plugins=None)
              + upstream("web", [x.port for x in backends], checks)
              + listener("front", front, "upstream", "web"))
    proxyd = Proxyd(write_file(os.path.join(folder, "health_load.toml"), config), folder).start([front])
    addr = {x.name: "%s:%d" % (HOST, x.port) for x in backends}
    time.sleep(1.5)  # every peer checked up once
    load = Recorder(front, ARGS.threads)
    time.sleep(1.0)

    # kill: c's socket and connections close at once; a new c listens on its port 3 s later.
    start = time.monotonic()
    c.backend.stop()
    time.sleep(3.0)
    restarted = time.monotonic()
    c.backend = Backend(c._handle, tag="c", port=c.port)
    while time.monotonic() - restarted < 8 and not any(e[2] == "c" for e in load.since(restarted)):
        time.sleep(0.05)
    back = [e for e in load.since(restarted) if e[2] == "c"]
    time.sleep(1.0)
    events = load.since(start)
    failed = [e for e in events if e[1] != 200]
    print("kill: %d requests over %.1f s, %d failed%s; c served again %.2f s after it listened again" % (
        len(events), time.monotonic() - start, len(failed), (" " + repr(failed[:3])) if failed else "",
        (back[0][0] - restarted) if back else float("nan")))

    # sick: b answers 500 to everything for 4 s.
    lines_before = len(state_lines(proxyd, addr["b"]))
    start = time.monotonic()
    b.sick, b.healthy = True, False
    down_at = wait_for_log(proxyd, r"peer %s: down:" % re.escape(addr["b"]), timeout=10)
    time.sleep(max(0.0, 4.0 - (time.monotonic() - start)))
    healed = time.monotonic()
    b.sick, b.healthy = False, True
    up_at = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and up_at is None:
        if len(state_lines(proxyd, addr["b"])) >= lines_before + 2:
            up_at = time.monotonic()
        time.sleep(0.02)
    time.sleep(0.5)
    events = load.since(start)
    fives = [e for e in events if isinstance(e[1], int) and e[1] >= 500]
    other = [e for e in events if e[1] != 200 and not (isinstance(e[1], int) and e[1] >= 500)]
    print("sick: %d requests; %d saw a 5xx, the last %.2f s after b turned sick; b checked down %.2f s after; "
          "%d other failures; up again %.2f s after it recovered" % (
              len(events), len(fives), (fives[-1][0] - start) if fives else 0.0, down_at - start, len(other),
              (up_at - healed) if up_at else float("nan")))

    # flap: three real flaps (down for 1.5 s, up for 1.5 s), then per-check alternation for 3 s.
    lines_before = len(state_lines(proxyd, addr["a"]))
    start = time.monotonic()
    for _ in range(3):
        a.healthy = False
        time.sleep(1.5)
        a.healthy = True
        time.sleep(1.5)
    time.sleep(1.0)
    flap_lines = len(state_lines(proxyd, addr["a"])) - lines_before
    events = load.since(start)
    failed = [e for e in events if e[1] != 200]
    lines_before = len(state_lines(proxyd, addr["a"]))
    a.flap = True
    time.sleep(3.0)
    a.flap = False
    alternating = len(state_lines(proxyd, addr["a"])) - lines_before
    print("flap: 3 flaps, %d state lines (%.1f per flap), %d failed requests of %d; pass/fail on every check "
          "for 3 s: %d lines" % (flap_lines, flap_lines / 3, len(failed), len(events), alternating))
    load.stop()
    print("total: %d requests, %d not 200 (the 5xx of 'sick' included)" % (
        len(load.events), len([e for e in load.events if e[1] != 200])))
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
