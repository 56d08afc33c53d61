#!/usr/bin/env python3
"""Stopping either shipped profile under keep-alive load loses nothing. `proxyd -c conf.d/lb.toml`
and `proxyd -c conf.d/reverse.toml` hold their demo backends as listeners of the same process; on
SIGTERM those drain only after the front listener that proxies to them has, so a request in flight
at the front never finds its backend gone (a 502 before). A load generator that never retries (as
wrk) runs through the stop: every request it sent got a whole 2xx, and new connections are refused
only after the signal. proxyd exits 0."""

import os
import signal
import time

from load_generator import LoadGenerator
from proxyd_harness import (CONF_DIR, SOURCE_DIR, Proxyd, check, check_equal, note, require_ports_free, run_test,
                            workdir)

PROFILES = [
    # profile, front port, every port it listens on, a target that crosses the proxy
    ("lb.toml", 44444, (44444, 19444, 9001, 9002, 9003, 9004, 9005), "/"),
    ("reverse.toml", 18000, (18000, 18001, 8888, 8889, 8890), "/images/"),
]
LOAD_SECONDS_BEFORE_STOP = 2.0
EXIT_WITHIN = 30.0  # drain_timeout twice (front, then backends) and the grace period bound it


def stop_under_load(folder, profile, front, ports, target):
    require_ports_free(ports)
    proxyd = Proxyd(os.path.join(CONF_DIR, profile), folder, cwd=SOURCE_DIR, tag=profile.split(".")[0])
    proxyd.start(list(ports))
    load = LoadGenerator(front, threads=8, duration=EXIT_WITHIN, target=target, new_connection_share=0.05,
                         retry=False).start()
    time.sleep(LOAD_SECONDS_BEFORE_STOP)
    stop_at = time.monotonic()
    proxyd.send_signal(signal.SIGTERM)
    code = proxyd.wait(EXIT_WITHIN)
    exited_at = time.monotonic()
    load.stop()
    check(load.join(), "%s: the load generator finished" % profile)
    results = load.results
    ok = [r for r in results if r.outcome == "ok"]
    bad = [r for r in results if r.outcome in ("failed", "unanswered")]
    refused = [r for r in results if r.outcome == "refused"]
    note("%s stopped under load: %d served (%d after SIGTERM), %d failed or unanswered, %d refused; "
         "exited %.2f s after SIGTERM" % (profile, len(ok), sum(r.finished > stop_at for r in ok), len(bad),
                                          len(refused), exited_at - stop_at))
    check_equal(code, 0, "%s: exit code after SIGTERM under load" % profile)
    check(len(ok) > 100, "%s: requests were served before the stop (%d)" % (profile, len(ok)))
    check(not bad, "%s: every request sent got a whole 2xx response (no 502, no reset)" % profile,
          "; ".join("%s %s" % (r.outcome, r.detail) for r in bad[:5]))
    check(all(r.finished >= stop_at for r in refused), "%s: connections are refused only after the stop" % profile)


def main():
    folder = workdir("profile-stop")
    for profile, front, ports, target in PROFILES:
        stop_under_load(folder, profile, front, ports, target)


if __name__ == "__main__":
    run_test(main)
