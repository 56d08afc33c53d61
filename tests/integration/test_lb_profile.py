#!/usr/bin/env python3
"""The load-balancer profile: `proxyd -c conf.d/lb.toml` spreads requests on 127.0.0.1:44444 round-robin
over web1..web5 (9001..9005). 5000 requests: all 200, exactly 1000 per backend, strict rotation, and
one access-log line per request naming the peer that served it."""

import collections
import json
import os
import threading
import time

from proxyd_harness import (CONF_DIR, SOURCE_DIR, WWW_DIR, Client, Proxyd, TestFailure, access_log_entries, check,
                            check_equal, get, note, read_file, require_ports_free, run_test, workdir)

FRONT = 44444
ADMIN = 19444  # [admin] listen
PEERS = {"web%d" % n: "127.0.0.1:%d" % (9000 + n) for n in range(1, 6)}
TOTAL = 5000
SEQUENTIAL = 1000   # on one keep-alive connection, to see the rotation
PARALLEL = 4        # then this many keep-alive connections at once
FRESH = 500         # and finally one new connection per request
DEADLINE = 180.0    # seconds for all of it


def backend_of(response, index):
    if response.status != 200:
        raise TestFailure("request %d: expected 200, got %s" % (index, response.start_line))
    name = response.header("X-Backend")
    if name not in PEERS:
        raise TestFailure("request %d: X-Backend %r is not one of web1..web5" % (index, name))
    return name


def sequential(count, page):
    order = []
    with Client(FRONT) as client:
        for n in range(count):
            response = client.request("GET", "/")
            if response.body != page:
                raise TestFailure("sequential request %d: body differs from www/default/index.html" % n)
            order.append(backend_of(response, n))
    return order


def parallel(connections, each, deadline):
    results, errors = [], []
    lock = threading.Lock()

    def one_connection(tag):
        names = []
        try:
            with Client(FRONT, timeout=15) as client:
                for n in range(each):
                    if time.monotonic() > deadline:
                        raise TestFailure("out of time after %d requests" % n)
                    names.append(backend_of(client.request("GET", "/"), n))
        except Exception as error:  # reported by the main thread
            with lock:
                errors.append("connection %d: %s" % (tag, error))
        with lock:
            results.extend(names)

    threads = [threading.Thread(target=one_connection, args=(t,), daemon=True) for t in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic()))
    if errors or any(t.is_alive() for t in threads):
        raise TestFailure("parallel keep-alive phase: %s" % ("; ".join(errors) or "threads did not finish in time"))
    return results


def fresh_connections(count):
    names = []
    for n in range(count):
        with Client(FRONT) as client:
            names.append(backend_of(client.request("GET", "/", [("Connection", "close")]), n))
    return names


def main():
    require_ports_free([FRONT, ADMIN] + [9000 + n for n in range(1, 6)])
    folder = workdir("lb")
    proxyd = Proxyd(os.path.join(CONF_DIR, "lb.toml"), folder, cwd=SOURCE_DIR)
    proxyd.start([FRONT, ADMIN] + [9000 + n for n in range(1, 6)])
    page = read_file(os.path.join(WWW_DIR, "default", "index.html"))
    started = time.monotonic()
    deadline = started + DEADLINE

    order = sequential(SEQUENTIAL, page)
    check(set(order[:5]) == set(PEERS), "the first 5 sequential requests reach 5 different backends",
          "got %r" % order[:5])
    breaks = [n for n in range(5, len(order)) if order[n] != order[n - 5]]
    check(not breaks, "strict rotation over %d sequential requests (cycle %s)" % (len(order), " ".join(order[:5])),
          "first break at request %d: %r" % (breaks[0], order[max(0, breaks[0] - 6):breaks[0] + 1]) if breaks else "")

    per_connection = (TOTAL - SEQUENTIAL - FRESH) // PARALLEL
    names = order + parallel(PARALLEL, per_connection, deadline) + fresh_connections(FRESH)
    elapsed = time.monotonic() - started
    note("%d requests in %.1f s (%d sequential, %d x %d parallel keep-alive, %d on new connections)"
         % (len(names), elapsed, SEQUENTIAL, PARALLEL, per_connection, FRESH))
    check_equal(len(names), TOTAL, "requests answered 200")
    counts = collections.Counter(names)
    check_equal(dict(sorted(counts.items())), {name: TOTAL // 5 for name in sorted(PEERS)},
                "requests per backend (X-Backend)")
    status = json.loads(get(ADMIN, "/status.json").body)
    check_equal({p["address"]: p["requests"] for u in status["upstreams"] for p in u["peers"]},
                {peer: TOTAL // 5 for peer in PEERS.values()}, "the admin listener's requests per peer")

    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    entries = access_log_entries(proxyd.stderr_text())
    lb_lines = [e for e in entries if e["listener"] == "lb"]
    check_equal(len(lb_lines), TOTAL, "access-log lines with listener=lb")
    peers = collections.Counter(e["upstream"] for e in lb_lines)
    check_equal(dict(sorted(peers.items())), {peer: TOTAL // 5 for peer in sorted(PEERS.values())},
                "access-log lines per upstream peer")
    check(all(e["status"] == "200" and e["upstream_status"] == "200" for e in lb_lines),
          "every lb line says status 200 and upstream_status=200")
    check(all(e["request"] == "GET / HTTP/1.1" for e in lb_lines), "every lb line names the request \"GET / HTTP/1.1\"")
    sizes = {e["bytes"] for e in lb_lines}
    note("response sizes logged: %s" % ", ".join(sorted(sizes)))
    backend_lines = collections.Counter(e["listener"] for e in entries if e["listener"] in PEERS)
    check_equal(dict(sorted(backend_lines.items())), {name: TOTAL // 5 for name in sorted(PEERS)},
                "access-log lines of the backend listeners web1..web5")


if __name__ == "__main__":
    run_test(main)
