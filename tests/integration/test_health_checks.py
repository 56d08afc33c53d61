#!/usr/bin/env python3
"""Active health checks (an upstream's health_check table): a backend whose health endpoint starts
answering 500 is taken out of rotation by the checks before any client request finds it (its
requests answer 500 too from then on, and no client sees a 5xx), and comes back after `rise`
passing checks; a peer that nobody listens on is marked down by tcp checks; a flapping health
endpoint (pass, fail, pass, ...) changes no state and so logs no line; /status.json and /metrics show
each peer's check state, last check, admin state and effective weight; one checker for the process
(two workers, one /health request per interval); a peer that passive health marked down for 30 s
(max_fails) is back as soon as a health check passes after the mark, not after fail_timeout."""

import os
import re
import time

from proxyd_harness import (HOST, Backend, Proxyd, check, check_equal, config_head, free_ports, get, listener, note,
                            run_test, toml_str, upstream, wait_for, wait_for_log, workdir, write_file)
from health_helpers import SwitchableBackend, admin_request, peer_status, recovers

INTERVAL = 0.2


def main():
    folder = workdir("health_checks")
    a, b = SwitchableBackend("alpha"), SwitchableBackend("beta")
    front, tcp_front, closed_port, admin, passive_front = free_ports(5)
    restarting = Backend(tag="restarting")
    checks = ('health_check = { path = "/health", interval = "200ms", timeout = "500ms", rise = 2, fall = 2, '
              'expect_status = "200-299", expect_body = "ok" }\nmax_fails = 0\n')
    config = (config_head(workers=2, plugins=None)
              + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
              + upstream("web", [a.port, b.port], checks)
              + upstream("tcp", [a.port, closed_port], 'health_check = { type = "tcp", interval = "200ms" }\n')
              + listener("front", front, "upstream", "web")
              + listener("tcp-front", tcp_front, "upstream", "tcp")
              # fall = 3 at 1 s: the checks still call the peer up while passive health marks it.
              + upstream("passive", [a.port, restarting.port],
                         'health_check = { type = "tcp", interval = "1s", rise = 1, fall = 3 }\n'
                         'max_fails = 1\nfail_timeout = "30s"\n')
              + listener("passive-front", passive_front, "upstream", "passive"))
    path = write_file(os.path.join(folder, "health.toml"), config)
    proxyd = Proxyd(path, folder).start([front, tcp_front, admin])
    a_addr, b_addr = "%s:%d" % (HOST, a.port), "%s:%d" % (HOST, b.port)

    wait_for("both peers checked up", lambda: peer_status(admin, "web", b_addr)["check"] == "up"
             and peer_status(admin, "web", a_addr)["check"] == "up", timeout=5)
    status = peer_status(admin, "web", b_addr)
    check_equal((status["last_check"], status["admin_state"], status["effective_weight_percent"]),
                ("pass", "ready", 100), "a healthy peer's last check, admin state and weight share")
    check(abs(status["last_check_time"] - time.time()) < 5, "last_check_time is a recent Unix time",
          str(status["last_check_time"]))

    # One checker for the process: two workers, yet about one check per interval.
    _, before = b.count()
    time.sleep(1.5)
    _, after = b.count()
    note("%d health checks of beta in 1.5 s at a %.1f s interval, 2 workers" % (after - before, INTERVAL))
    check(after - before <= 1.5 / INTERVAL + 2, "one checker per process, not one per worker",
          "%d checks in 1.5 s" % (after - before))

    statuses = [get(front, "/").status for _ in range(20)]
    check_equal(set(statuses), {200}, "20 requests with both peers up")
    check(b.count()[0] > 0, "beta served some of them", str(b.count()))

    # Beta's health endpoint fails; its requests will fail too. The checks take it out first.
    b.healthy = False
    started = time.monotonic()
    wait_for_log(proxyd, r"upstream web peer %s: down: 2 health check\(s\) failed in a row \(last: status 500"
                 % re.escape(b_addr), timeout=5)
    note("beta marked down %.2f s after its health endpoint failed (fall = 2, interval %.1f s)"
         % (time.monotonic() - started, INTERVAL))
    b.sick = True
    served_before = b.count()[0]
    statuses = [get(front, "/").status for _ in range(40)]
    check_equal(set(statuses), {200}, "40 requests while beta is sick and checked down")
    check_equal(b.count()[0] - served_before, 0, "client requests that reached the sick peer")
    status = peer_status(admin, "web", b_addr)
    check_equal((status["check"], status["last_check"]), ("down", "fail"), "the sick peer's check state")
    metrics = admin_request(admin, "GET", "/metrics").body.decode()
    for line in ('proxyd_upstream_peer_check_state{upstream="web",peer="%s",state="down"} 1' % b_addr,
                 'proxyd_upstream_peer_check_state{upstream="web",peer="%s",state="up"} 0' % b_addr,
                 'proxyd_upstream_peer_admin_state{upstream="web",peer="%s",state="ready"} 1' % b_addr,
                 'proxyd_upstream_peer_last_check{upstream="web",peer="%s",result="fail"} 1' % b_addr,
                 'proxyd_upstream_peer_effective_weight_percent{upstream="web",peer="%s"} 100' % a_addr):
        check(line in metrics, "/metrics has: " + line)

    # Healthy again: back after rise = 2 passes.
    recovers(proxyd, front, b, b_addr)

    # A flapping health endpoint: pass and fail alternate, never fall (2) in a row: no state change.
    lines_before = len(re.findall(r"peer %s: (up|down):" % re.escape(b_addr), proxyd.stderr_text()))
    b.flap = True
    time.sleep(2.0)
    b.flap = False
    lines = len(re.findall(r"peer %s: (up|down):" % re.escape(b_addr), proxyd.stderr_text())) - lines_before
    note("%d state change lines while beta's health flapped for 2 s (about %d checks)" % (lines, 2 / INTERVAL))
    check_equal(lines, 0, "state change lines while the health endpoint alternates pass and fail")

    # tcp checks: the closed port is marked down, and requests avoid it.
    closed_addr = "%s:%d" % (HOST, closed_port)
    wait_for("the closed port checked down", lambda: peer_status(admin, "tcp", closed_addr)["check"] == "down",
             timeout=5)
    statuses = [get(tcp_front, "/").status for _ in range(10)]
    check_equal(set(statuses), {200}, "requests to a group whose other peer refuses connections")
    check(re.search(r"upstream tcp peer %s: down: 3 health check\(s\) failed in a row \(last: connect: "
                    % re.escape(closed_addr), proxyd.stderr_text()) is not None,
          "the tcp check's down line names the connect failure", proxyd.stderr_tail())
    # Passive health and checks together: the restarting peer goes away, a request fails on it and
    # marks it down for 30 s; it comes back, and the first check that passes afterwards lifts the
    # mark (before, it stayed out for the whole fail_timeout).
    restarting_addr = "%s:%d" % (HOST, restarting.port)
    restarting.stop()
    marked = r"upstream passive %s: marked down for 30000 ms" % re.escape(restarting_addr)
    statuses = []

    def marked_in_both_workers():
        # Passive health is per worker: send until each of the two has marked the peer.
        statuses.append(get(passive_front, "/").status)
        return len(re.findall(marked, proxyd.stderr_text())) >= 2

    wait_for("both workers mark the stopped peer down", marked_in_both_workers, timeout=5)
    check_equal(set(statuses), {200}, "requests while a peer refuses connections (retried on the other)")
    restarting = Backend(tag="restarting", port=restarting.port)
    started = time.monotonic()
    # The mark is lifted when a worker next picks for the group: keep sending.
    wait_for("requests reach the restarted peer",
             lambda: get(passive_front, "/").status == 200 and len(restarting.requests) > 0, timeout=5)
    check(re.search(r"upstream passive %s: passed a health check since it was marked down"
                    % re.escape(restarting_addr), proxyd.stderr_text()) is not None,
          "the worker logs why the peer is back early", proxyd.stderr_tail())
    note("the restarted peer served again %.2f s after it listened (fail_timeout 30 s, check interval 1 s)"
         % (time.monotonic() - started))
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
