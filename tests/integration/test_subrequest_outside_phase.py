#!/usr/bin/env python3
"""subrequest_start from a hook with no request phase to resume (a balancer's pick, through
tests/loader/balancer_subrequest.c) is refused with PROXYD_ESTATE and one error-log line, and
starts nothing: the group it names hears no request, its done never runs, and the request itself
is proxied as usual."""

import os
import time

from proxyd_harness import (Backend, Proxyd, TestFailure, check, check_equal, config_head, free_ports, get,
                            listener, run_test, toml_str, upstream, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "balancer_subrequest.so")
ESTATE = -4


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("subrequest-outside-phase")
    app, side = Backend(tag="app"), Backend(tag="side")
    (port,) = free_ports(1)
    config = (config_head(level="warn", plugins=("round_robin",)).replace(
                  "[plugins]\n", "[plugins]\npick = %s\n" % toml_str(PLUGIN))
              + upstream("side", [side.port], 'balancer = "round_robin"\n')
              + upstream("app", [app.port], 'balancer = { plugin = "pick", subrequest_to = "side" }\n')
              + listener("front", port, "upstream", "app"))
    path = write_file(os.path.join(folder, "pick.toml"), config)
    proxyd = Proxyd(path, folder, tag="pick").start([port])

    response = get(port, "/through-pick")
    check_equal(response.status, 200, "the request is proxied to the peer the balancer picked")
    time.sleep(0.3)  # what a started subrequest would have sent by now
    log = proxyd.stderr_text()
    check("subrequest_start in pick returned %d" % ESTATE in log,
          "subrequest_start inside pick returns PROXYD_ESTATE", proxyd.stderr_tail())
    check_equal(log.count("subrequest_start refused"), 1, "proxyd logs the refusal once")
    check_equal(len(side.requests), 0, "the group the subrequest named heard nothing")
    check("done ran" not in log, "the refused subrequest's done never runs")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
