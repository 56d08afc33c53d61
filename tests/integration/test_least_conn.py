#!/usr/bin/env python3
"""The least_conn balancer (ABI 1.1) and the attempt_done hook it stands on (issue 17): every pick
ends in exactly one attempt_done, so the per-peer counts of requests in flight come back to zero.

- A client that leaves before the slow peer answers: its pick ends ABORTED at once, and the next
  sequential requests are spread over both peers (before the fix its pick stayed counted forever,
  inflight=[1,0], and the slow peer got none of them).
- A refused connect is reported once (CONNECT_FAILED), the retry on the other peer once (SUCCESS).
- A reload, and a stop, that cut a request in flight end its attempt (ABORTED), never neither.
- The plugin learns the name it was declared under (config_plugin_name): its lines say "plugin lc:".
The plugin logs each pick and end at debug level (log_attempts = true); this test reads those lines."""

import os
import re
import signal
import threading
import time

from proxyd_harness import (Backend, Client, ConnectionClosed, Proxyd, build_request, check, check_equal,
                            config_head, free_ports, get, listener, note, response_bytes, run_test, upstream,
                            wait_for_log, workdir, write_file)

SLOW_SECONDS = 1.5
SEQUENTIAL = 6


def backend(name):
    def handler(request, conn_id):
        pieces = [response_bytes(200, name.encode() + b"\n", [("Content-Type", "text/plain")])]
        if request.target.startswith("/slow"):
            pieces.insert(0, SLOW_SECONDS)
        return pieces, False
    return Backend(handler, tag=name)


def lines(proxyd, what):
    return [line for line in proxyd.stderr_text().splitlines() if "plugin lc: " in line and what in line]


def config(front, peers, extra=""):
    return (config_head(level="debug", plugins=())
            + 'lc = "balancing_least_conn.so"\n\n'
            + '[limits]\nshutdown_timeout = "500ms"\ndrain_timeout = "200ms"\n\n'
            + upstream("app", peers, 'balancer = { plugin = "lc", log_attempts = true }\n'
                       'connect_timeout = "2s"\nmax_fails = 0\n' + extra)
            + listener("front", front, "upstream", "app"))


def spread(front, n):
    got = {"a": 0, "b": 0}
    for _ in range(n):
        response = get(front, "/")
        check_equal(response.status, 200, "a sequential request's status")
        got[response.body.decode().strip()] += 1
    return got


def abandoned_request(folder):
    a, b = backend("a"), backend("b")
    front, = free_ports(1)
    path = write_file(os.path.join(folder, "abandon.toml"), config(front, [a.port, b.port]))
    proxyd = Proxyd(path, folder, tag="abandon").start([front])

    client = Client(front)
    client.send(build_request("GET", "/slow"))
    wait_for_log(proxyd, r"plugin lc: worker 0 picked peer 0 inflight=\[1,0\]", timeout=10)
    client.close()  # gives up long before the slow peer answers
    wait_for_log(proxyd, r"plugin lc: worker 0 done peer 0 outcome=ABORTED status=0 inflight=\[0,0\]", timeout=10)
    note("the abandoned pick ended ABORTED at once")

    got = spread(front, SEQUENTIAL)
    note("%d sequential requests after the abandoned one: %s" % (SEQUENTIAL, got))
    check_equal(got, {"a": SEQUENTIAL // 2, "b": SEQUENTIAL // 2},
                "requests after an abandoned one are spread as if nothing were in flight")
    # The client can read its answer before the worker has written the attempt's end to stderr.
    deadline = time.monotonic() + 10
    while True:
        picks, ends = lines(proxyd, " picked peer "), lines(proxyd, " done peer ")
        if len(ends) >= len(picks) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    check_equal(len(picks), SEQUENTIAL + 1, "picks: the abandoned one and the sequential ones")
    check_equal(len(ends), len(picks), "attempt_done calls against picks")
    check(ends[-1].endswith("inflight=[0,0]"), "nothing counted in flight at the end", ends[-1])
    check_equal(proxyd.stop(), 0, "proxyd's exit code")


def refused_connect(folder):
    live = backend("b")
    front, dead = free_ports(2)
    path = write_file(os.path.join(folder, "refused.toml"), config(front, [dead, live.port]))
    proxyd = Proxyd(path, folder, tag="refused").start([front])
    response = get(front, "/")
    check_equal((response.status, response.body), (200, b"b\n"), "a request past a refused peer")
    wait_for_log(proxyd, r"done peer 1 outcome=SUCCESS status=200 inflight=\[0,0\]", timeout=10)
    ends = lines(proxyd, " done peer ")
    check_equal([re.search(r"done peer \d outcome=\w+", e).group(0) for e in ends],
                ["done peer 0 outcome=CONNECT_FAILED", "done peer 1 outcome=SUCCESS"],
                "one end per pick: the refused connect, then the answer")
    check_equal(len(lines(proxyd, " picked peer ")), 2, "picks")
    check_equal(proxyd.stop(), 0, "proxyd's exit code")


def cut_in_flight(folder, signum, what):
    a, b = backend("a"), backend("b")
    front, = free_ports(1)
    path = write_file(os.path.join(folder, "cut-%s.toml" % what), config(front, [a.port, b.port]))
    proxyd = Proxyd(path, folder, tag="cut-" + what).start([front])
    client = Client(front, timeout=10)
    client.send(build_request("GET", "/slow"))
    wait_for_log(proxyd, r"picked peer 0 inflight=\[1,0\]", timeout=10)
    proxyd.send_signal(signum)
    # shutdown_timeout (500 ms) cuts the old worker's request before the slow peer (1.5 s) answers.
    if signum == signal.SIGHUP:
        wait_for_log(proxyd, r"done peer 0 outcome=\w+ status=\d+ inflight=\[0,0\]", timeout=10)
    else:
        check_equal(proxyd.wait(15), 0, "proxyd's exit code after the stop")
    ends = lines(proxyd, " done peer 0 ")
    check_equal(len(ends), 1, "%s: the request in flight ended its attempt once" % what)
    ended = re.search(r"outcome=(\w+)", ends[0]).group(1)
    check(ended in ("ABORTED", "SUCCESS"), "%s: the attempt ended ABORTED or SUCCESS" % what, ends[0])
    note("%s: %s" % (what, ends[0].split("plugin lc: ")[1]))
    client.close()
    if signum == signal.SIGHUP:
        got = spread(front, 2)
        check_equal(sum(got.values()), 2, "the new generation serves")
        check_equal(proxyd.stop(), 0, "proxyd's exit code")


def main():
    folder = workdir("least_conn")
    abandoned_request(folder)
    refused_connect(folder)
    cut_in_flight(folder, signal.SIGHUP, "reload")
    cut_in_flight(folder, signal.SIGTERM, "stop")


if __name__ == "__main__":
    run_test(main)
