#!/usr/bin/env python3
"""max_connections and outlier ejection for a group whose peers come from DNS (issue 14 on top of
discovery): each discovered slot's shared state belongs to the peer filling it. Against dnsmasq on
a loopback port (test_discovery.py's), with SRV records the test changes. What a user relies on:

- a peer that DNS puts in the slot of an ejected one is not ejected: it serves as soon as proxyd
  resolves the new records;
- a peer that DNS puts in the slot of one busy with a long request (max_connections = 1) gets its
  own connections at once, while the old peer's request finishes normally;
- a vacant slot is no part of max_ejection_percent's base: the one peer left of a group at 50 %
  is never ejected, however many 500s it answers."""

import os
import re
import threading
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, get, listener,
                            note, response_bytes, run_test, toml_str, wait_for, workdir, write_file)
from test_discovery import DNSMASQ, Dnsmasq

LONG = 2.5  # seconds the busy peer's request takes


def backend(tag, status):
    """Answers status[0] (a list, so the test can change it) with its tag; /sleep/S after S seconds."""
    def handler(request, conn_id):
        pieces = [response_bytes(status[0], tag.encode(), [("Content-Type", "text/plain")])]
        m = re.match(r"/sleep/([0-9.]+)", request.target)
        if m:
            pieces.insert(0, float(m.group(1)))
        return pieces, False
    return Backend(handler, tag=tag)


def srv(b):
    return "_http._tcp.app.test,%s.test,%d,0,1" % (b.tag, b.port)


def answers(front, n, target="/"):
    """n GETs, one after the other: [(status, body)]."""
    out = []
    for _ in range(n):
        with Client(front, timeout=10) as c:
            r = c.request("GET", target)
            out.append((r.status, r.body.decode()))
    return out


def wait_answered_by(front, tag, timeout=6):
    """Polls until a GET is answered by tag; the seconds it took."""
    began = time.monotonic()
    deadline = began + timeout
    while time.monotonic() < deadline:
        if tag in [body for _, body in answers(front, 2)]:
            return time.monotonic() - began
        time.sleep(0.1)
    check(False, "within %d s: %s answers" % (timeout, tag))


def main():
    check(os.path.exists(DNSMASQ), "dnsmasq is installed (packaging/build-deps.sh --test installs dnsmasq-base)")
    folder = workdir("upstream_limits_discovery")
    statuses = {tag: [500 if tag == "bad" else 200] for tag in ("bad", "good", "fresh", "slow", "spare")}
    bad, good, fresh, slow, spare = (backend(tag, statuses[tag]) for tag in statuses)
    everyone = (bad, good, fresh, slow, spare)
    front, dns_port = free_ports(2)
    dns = Dnsmasq(folder, dns_port)
    hosts = [("127.0.0.1", "%s.test" % b.tag) for b in everyone]
    dns.start(hosts, [srv(bad), srv(good)])
    try:
        config = (config_head()
                  + "[resolver]\nservers = [%s]\ntimeout = \"300ms\"\ntries = 1\n\n" % toml_str("127.0.0.1:%d" % dns_port)
                  + "[upstreams.app]\npeers = [{ srv = \"_http._tcp.app.test\" }]\nmax_peers = 2\n"
                  + "resolve_interval = \"1s\"\nmax_fails = 0\nmax_connections = 1\n"
                  + "outlier = { consecutive_5xx = 2, base_ejection = \"30s\", max_ejection_percent = 50 }\n\n"
                  + listener("front", front, "upstream", "app"))
        path = write_file(os.path.join(folder, "limits.toml"), config)
        proxyd = Proxyd(path, folder, tag="limits").start([front])
        wait_for("both discovered peers answer",
                 lambda: {body for _, body in answers(front, 2)} == {"bad", "good"}, timeout=6)

        # Ejection: two 500s in a row eject bad for 30 s; then only good answers.
        got = answers(front, 8)
        check("ejected for 30000 ms (consecutive 5xx)" in proxyd.stderr_text(), "bad is ejected")
        check_equal([s for s, body in got[-4:]], [200] * 4, "after the ejection, good answers")
        before = len(bad.requests)
        note("bad ejected after %d requests to it" % before)

        # DNS replaces bad by fresh: the slot's ejection is bad's, not fresh's.
        dns.restart(hosts, [srv(fresh), srv(good)])
        took = wait_answered_by(front, "fresh")
        note("fresh, in the ejected peer's slot, answered %.2f s after the DNS change" % took)
        check_equal(len(bad.requests), before, "requests bad saw after it left")
        check_equal(proxyd.stderr_text().count("ejected for"), 1, "ejections logged (fresh never)")

        # max_connections = 1: slow's slot is busy with a long request; DNS replaces slow by spare,
        # which gets its own connection at once.
        dns.restart(hosts, [srv(slow), srv(good)])
        wait_answered_by(front, "slow")
        results = {}

        def long_request(key):
            try:
                results[key] = get(front, "/sleep/%s" % LONG, timeout=10)
            except Exception as e:  # recorded, checked below
                results[key] = e
        threads = [threading.Thread(target=long_request, args=(k,), daemon=True) for k in ("one", "two")]
        for t in threads:
            t.start()
            time.sleep(0.1)
        def sleeping(b):
            return sum(1 for _, r in b.requests if r.target.startswith("/sleep"))
        wait_for("a long request at each peer", lambda: sleeping(slow) == 1 and sleeping(good) == 1, timeout=5)
        check_equal(answers(front, 1)[0][0], 503, "both peers at max_connections: 503")
        changed = time.monotonic()
        dns.restart(hosts, [srv(spare), srv(good)])
        took = wait_answered_by(front, "spare", timeout=LONG)
        note("spare, in the busy peer's slot, answered %.2f s after the DNS change (slow's request "
             "still running)" % took)
        check(time.monotonic() - changed < LONG, "spare served before slow's request ended")
        for t in threads:
            t.join(10)
        for key in ("one", "two"):
            r = results[key]
            check(not isinstance(r, Exception), "the long request %s answered" % key, repr(r))
            check_equal(r.status, 200, "the long request %s" % key)
        # The old request's end gave back nothing of spare's: spare still takes one at a time.
        check_equal({s for s, _ in answers(front, 4)}, {200}, "after the long requests ended")

        # One peer left in a group at 50 %: never ejected, however often it answers 500.
        dns.restart(hosts, [srv(spare)])
        wait_for("good leaves", lambda: {body for _, body in answers(front, 2)} == {"spare"}, timeout=6)
        statuses["spare"][0] = 500
        got = answers(front, 6)
        check_equal([status for status, _ in got], [500] * 6, "the last peer's answers")
        check_equal(proxyd.stderr_text().count("ejected for"), 1, "ejections logged (the last peer never)")
        check_equal(proxyd.stop(), 0, "proxyd's exit code")
    finally:
        dns.stop()


if __name__ == "__main__":
    run_test(main)
