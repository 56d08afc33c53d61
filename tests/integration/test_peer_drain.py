#!/usr/bin/env python3
"""Drain and maintenance from the admin listener: POST /upstreams/GROUP/peers/ADDRESS/drain lets a
slow request in flight on that peer finish (200, whole body) while new requests go to the others;
/maintenance also pauses its health checks; /ready brings it back. GET is refused with 405 and
Allow: POST; an unknown group or peer is 404. /status.json shows the admin state and a weight share
of 0 out of rotation; a reload keeps the admin state (documented in docs/operating.md)."""

import json
import os
import threading
import time

from proxyd_harness import (HOST, Proxyd, check, check_equal, config_head, free_ports, get, listener, note,
                            run_test, toml_str, upstream, wait_for, workdir, write_file)
from health_helpers import SwitchableBackend, admin_request, peer_status


def main():
    folder = workdir("peer_drain")
    a, b = SwitchableBackend("alpha"), SwitchableBackend("beta")
    front, admin = free_ports(2)
    config = (config_head(workers=1, plugins=None)
              + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
              + upstream("web", [a.port, b.port],
                         'health_check = { path = "/health", interval = "200ms", rise = 1, fall = 1 }\n')
              + listener("front", front, "upstream", "web"))
    path = write_file(os.path.join(folder, "drain.toml"), config)
    proxyd = Proxyd(path, folder).start([front, admin])
    b_addr = "%s:%d" % (HOST, b.port)
    base = "/upstreams/web/peers/%s/" % b_addr

    for method, target, status in (("GET", base + "drain", 405), ("POST", "/upstreams/nope/peers/%s/drain" % b_addr, 404),
                                   ("POST", "/upstreams/web/peers/127.0.0.1:1/drain", 404),
                                   ("POST", base + "reboot", 404)):
        response = admin_request(admin, method, target)
        check_equal(response.status, status, "%s %s" % (method, target))
        if status == 405:
            check_equal(response.header("Allow"), "POST", "Allow of a GET on a peer-state path")

    # A slow request in flight on beta (round robin over two peers: one of two requests lands there).
    b.slow_seconds = 2.0
    results = {}

    def slow(n):
        results[n] = get(front, "/slow", timeout=10)

    threads = [threading.Thread(target=slow, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    wait_for("beta holds a slow request", lambda: b.count()[0] >= 1, timeout=5)
    response = admin_request(admin, "POST", base + "drain")
    check_equal(response.status, 200, "POST drain")
    note(response.body.decode().strip())
    served_before = b.count()[0]
    statuses = [get(front, "/").status for _ in range(20)]
    check_equal(set(statuses), {200}, "20 requests while beta drains")
    check_equal(b.count()[0] - served_before, 0, "new requests that reached the draining peer")
    for t in threads:
        t.join(10)
    bodies = sorted(r.body for r in results.values())
    check_equal([r.status for r in results.values()], [200, 200], "the slow requests in flight, beta's included")
    check_equal(bodies, [b"alpha\n", b"beta\n"], "their bodies, whole")
    status = peer_status(admin, "web", b_addr)
    check_equal((status["admin_state"], status["effective_weight_percent"]), ("drain", 0),
                "a draining peer's admin state and weight share")

    # Maintenance: out of rotation and no health checks.
    check_equal(admin_request(admin, "POST", base + "maintenance").status, 200, "POST maintenance")
    time.sleep(0.3)  # a check already under way may still land
    checks_before = b.count()[1]
    time.sleep(1.0)
    check_equal(b.count()[1] - checks_before, 0, "health checks of a peer in maintenance within 1 s")
    check_equal(peer_status(admin, "web", b_addr)["admin_state"], "maintenance", "admin state")

    # A reload keeps it.
    proxyd.send_signal(1)
    wait_for("generation 2 serves", lambda: json.loads(admin_request(admin, "GET", "/status.json").body)
             ["config"]["generation"] == 2, timeout=10)
    check_equal(peer_status(admin, "web", b_addr)["admin_state"], "maintenance", "admin state after a reload")
    served_before = b.count()[0]
    statuses = [get(front, "/").status for _ in range(10)]
    check_equal((set(statuses), b.count()[0] - served_before), ({200}, 0),
                "requests after the reload (statuses, those that reached the peer in maintenance)")

    # Ready: back in rotation, checked again.
    check_equal(admin_request(admin, "POST", base + "ready").status, 200, "POST ready")
    served_before, checks_before = b.count()
    statuses = [get(front, "/").status for _ in range(20)]
    check_equal(set(statuses), {200}, "20 requests after ready")
    check(b.count()[0] - served_before >= 5, "beta serves again", str(b.count()[0] - served_before))
    wait_for("beta is checked again", lambda: b.count()[1] > checks_before, timeout=3)
    log = proxyd.stderr_text()
    for state in ("drain", "maintenance", "ready"):
        check("admin: upstream web peer %s: %s" % (b_addr, state) in log, "the log has the change to " + state)
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
