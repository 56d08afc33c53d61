#!/usr/bin/env python3
"""Slow start (an upstream's slow_start): a peer that health checks bring back ramps from about
10% of its weight to all of it over slow_start, so its share of round-robin requests grows from
small to even; /status.json shows the ramp as effective_weight_percent; a peer that a reload adds
to its group ramps too, while the peers it had keep their full weight."""

import json
import os
import re
import time

from proxyd_harness import (HOST, Proxyd, check, check_equal, config_head, get, free_ports, listener, note,
                            run_test, toml_str, upstream, wait_for, wait_for_log, workdir, write_file)
from health_helpers import SwitchableBackend, admin_request, peer_status

SLOW_START = 3.0


def main():
    folder = workdir("slow_start")
    a, b, c = SwitchableBackend("alpha"), SwitchableBackend("beta"), SwitchableBackend("gamma")
    front, admin = free_ports(2)
    extra = ('slow_start = "3s"\n'
             'health_check = { path = "/health", interval = "100ms", rise = 1, fall = 1 }\n')

    def config(peers):
        return (config_head(workers=1, plugins=None)
                + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
                + upstream("web", [p.port for p in peers], extra)
                + listener("front", front, "upstream", "web"))

    path = write_file(os.path.join(folder, "slow.toml"), config([a, b]))
    proxyd = Proxyd(path, folder).start([front, admin])
    b_addr = "%s:%d" % (HOST, b.port)
    wait_for("beta checked up", lambda: peer_status(admin, "web", b_addr)["check"] == "up", timeout=5)
    check_equal(peer_status(admin, "web", b_addr)["effective_weight_percent"], 100,
                "a peer that was up from the start has its whole weight")

    b.healthy = False
    wait_for_log(proxyd, r"peer %s: down:" % re.escape(b_addr), timeout=5)
    b.healthy = True
    back = wait_for_log(proxyd, r"peer %s: up: .*slow start over 3000 ms" % re.escape(b_addr), timeout=5)
    percent = peer_status(admin, "web", b_addr)["effective_weight_percent"]
    check(10 <= percent < 50, "effective weight share just after coming back", str(percent))

    # Requests for slow_start and a little more, counted per second since beta came back.
    windows, failed = {}, []
    while time.monotonic() - back < SLOW_START + 1.0:
        second = int(time.monotonic() - back)
        response = get(front, "/")
        if response.status != 200:
            failed.append(response.start_line)
        total, to_beta = windows.get(second, (0, 0))
        windows[second] = (total + 1, to_beta + (response.body == b"beta\n"))
    check_equal(failed, [], "requests during slow start that did not answer 200")
    shares = {s: to_beta / total for s, (total, to_beta) in sorted(windows.items()) if total >= 20}
    note("beta's share of requests per second since it came back: %s"
         % ", ".join("%ds: %.0f%% of %d" % (s, 100 * shares[s], windows[s][0]) for s in shares))
    check(0 in shares and 3 in shares, "enough requests in the first and the last second", str(windows))
    check(shares[0] < 0.33, "beta's share in the first second is small", "%.2f" % shares[0])
    check(shares[3] > 0.42, "beta's share once slow start is over is about even", "%.2f" % shares[3])
    check(shares[0] < shares[1] < shares[3], "beta's share grows", str(shares))
    check_equal(peer_status(admin, "web", b_addr)["effective_weight_percent"], 100, "beta's share, ramped")

    # A reload that adds gamma: it ramps, the others keep their weight.
    write_file(path, config([a, b, c]))
    proxyd.send_signal(1)
    wait_for("generation 2 serves", lambda: json.loads(admin_request(admin, "GET", "/status.json").body)
             ["config"]["generation"] == 2, timeout=10)
    gamma = peer_status(admin, "web", "%s:%d" % (HOST, c.port))["effective_weight_percent"]
    check(gamma < 60, "a peer added by a reload starts its slow start", str(gamma))
    check_equal(peer_status(admin, "web", b_addr)["effective_weight_percent"], 100,
                "a peer the group already had keeps its whole weight across the reload")
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
