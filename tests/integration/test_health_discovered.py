#!/usr/bin/env python3
"""Active health checks of peers found in DNS (an SRV record per peer, served by dnsmasq on a
loopback port, changed while clients keep sending requests). What a user relies on:

- A peer that DNS adds to a checked group stays out of rotation until its first check: one whose
  health endpoint answers 500 never gets a client request, and is logged down once.
- Once its health endpoint passes, `rise` passes bring it in.
- The admin listener names it by its current address: drain takes it out, ready brings it back;
  /status.json shows its check state, admin state and DNS name.
- A reload keeps a discovered peer's verdict while the same address fills its slot.
- A slot that DNS gives to another address starts over: the new peer is checked before it serves.
Load is four client threads on keep-alive connections, every error, reset or early close counted
as a failure; every answer must be a 200."""

import os
import re
import signal
import time

from proxyd_harness import (HOST, Proxyd, check, check_equal, config_head, free_ports, listener, note, run_test,
                            toml_str, wait_for, wait_for_log, workdir, write_file)
from health_helpers import SwitchableBackend, admin_request, peer_status
from test_discovery import DNSMASQ, Dnsmasq, Load

SRV = "_http._tcp.app.test"


def record(backend):
    return "%s,%s.test,%d,0,1" % (SRV, backend.name, backend.port)


def main():
    check(os.path.exists(DNSMASQ), "dnsmasq is installed (packaging/build-deps.sh --test installs dnsmasq-base)")
    folder = workdir("health_discovered")
    a, b, c = SwitchableBackend("a"), SwitchableBackend("b"), SwitchableBackend("c")
    b.healthy = False  # b's health endpoint fails from the start; its other answers are 200
    c.healthy = False
    front, admin, dns_port = free_ports(3)
    hosts = [("127.0.0.1", "a.test"), ("127.0.0.1", "b.test"), ("127.0.0.1", "c.test")]
    dns = Dnsmasq(folder, dns_port)
    dns.start(hosts, [record(a)])
    try:
        config = (config_head(workers=2)
                  + "[resolver]\nservers = [%s]\ntimeout = \"300ms\"\ntries = 1\n\n"
                  % toml_str("127.0.0.1:%d" % dns_port)
                  + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
                  + "[upstreams.app]\npeers = [{ srv = %s }]\nmax_peers = 2\nresolve_interval = \"1s\"\n"
                  % toml_str(SRV)
                  + "max_fails = 0\n"
                  + 'health_check = { path = "/health", interval = "300ms", timeout = "500ms", rise = 2, '
                    'fall = 2 }\n\n'
                  + listener("front", front, "upstream", "app"))
        path = write_file(os.path.join(folder, "health_discovered.toml"), config)
        proxyd = Proxyd(path, folder).start([front, admin])
        a_addr, b_addr, c_addr = ("%s:%d" % (HOST, x.port) for x in (a, b, c))
        load = Load(front)
        load.wait_for("a serves", lambda got: set(got) == {"a\n"})

        # DNS adds b, whose health check fails: the checks keep it out before any client request.
        started = time.monotonic()
        dns.restart(hosts, [record(a), record(b)])
        wait_for_log(proxyd, r"upstream app: discovered peers .*%s" % re.escape(b_addr), timeout=5)
        wait_for_log(proxyd, r"upstream app peer %s: down: its first health check failed \(status 500\)"
                     % re.escape(b_addr), timeout=5)
        note("b discovered and marked down %.2f s after the DNS change" % (time.monotonic() - started))
        got = load.window(0.6)
        check_equal(b.count()[0], 0, "client requests that reached b (its health check fails)")
        check_equal(set(got), {"a\n"}, "only a serves while b's checks fail")
        status = peer_status(admin, "app", b_addr)
        check_equal((status["check"], status["last_check"], status["source"]), ("down", "fail", SRV),
                    "/status.json: b by its address, checked down, with its DNS name")
        check_equal(len(re.findall(r"peer %s: down" % re.escape(b_addr), proxyd.stderr_text())), 1,
                    "b's down state logged once")

        # b recovers: rise passes bring it in.
        b.healthy = True
        load.wait_for("b joins after its checks pass", lambda got: set(got) == {"a\n", "b\n"}, timeout=5)
        check_equal(peer_status(admin, "app", b_addr)["check"], "up", "b's check state")

        # The admin drains b by its current address, then readmits it.
        response = admin_request(admin, "POST", "/upstreams/app/peers/%s/drain" % b_addr)
        check_equal((response.status, response.body.decode().strip()),
                    (200, "upstream app peer %s: drain (was ready)" % b_addr), "POST drain of a discovered peer")
        check_equal(peer_status(admin, "app", b_addr)["admin_state"], "drain", "b's admin state")
        load.wait_for("a drained discovered peer gets no new request", lambda got: set(got) == {"a\n"}, timeout=3)
        check_equal(admin_request(admin, "POST", "/upstreams/app/peers/%s/ready" % b_addr).status, 200,
                    "POST ready")
        load.wait_for("b back after ready", lambda got: set(got) == {"a\n", "b\n"}, timeout=3)

        # A reload keeps b's verdict: the new generation serves it at once.
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reloaded configuration", timeout=10)
        check_equal(set(load.window(0.6)), {"a\n", "b\n"}, "right after a reload, b (checked up) serves")
        check_equal(peer_status(admin, "app", b_addr)["check"], "up", "b's check state after the reload")

        # DNS replaces b by c in the same slot; c's checks fail: c gets nothing.
        dns.restart(hosts, [record(a), record(c)])
        wait_for_log(proxyd, r"upstream app peer %s: down: its first health check failed" % re.escape(c_addr),
                     timeout=5)
        # Each worker takes the new slot table from its own loop: one may still send to b (alive,
        # answering) for a moment after c's check failed; c, failing, must never get a request.
        load.wait_for("after b left and c failed its check, only a serves", lambda got: set(got) == {"a\n"},
                      timeout=3)
        check_equal(set(load.window(0.6)), {"a\n"}, "only a serves, for a while")
        check_equal(c.count()[0], 0, "client requests that reached c (a new occupant of b's slot, failing)")
        wait_for("b is gone from /status.json",
                 lambda: b_addr not in admin_request(admin, "GET", "/status.json").body.decode(), timeout=3)

        load.stop()
        note("%d requests, %d failed" % (load.total, len(load.failures)))
        check(load.total > 200, "the load ran (%d requests)" % load.total)
        check_equal(load.failures[:5], [], "failed requests while discovered peers were checked")
        check_equal(proxyd.stop(), 0, "proxyd's exit code")
    finally:
        dns.stop()


if __name__ == "__main__":
    run_test(main)
