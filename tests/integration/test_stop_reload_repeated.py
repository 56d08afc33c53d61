#!/usr/bin/env python3
"""Twenty stops and twenty reloads under a steady stream of new connections reset none of them.
A stopping worker closes its listening sockets once their accept queues are empty; a handshake
that completed between the last look at the queue and the close used to be reset (Linux admits
one even with a backlog of 0). Now the socket drops new SYNs before its last drain rounds, so a
client is either served whole or refused. A reload hands the same sockets to the next generation,
which must go on accepting: nothing is refused or reset across it. The load never retries."""

import os
import signal
import time

from load_generator import LoadGenerator
from proxyd_harness import (Proxyd, check, check_equal, config_head, free_ports, listener, note, run_test,
                            static_handler, wait_for_log, workdir, write_file)

CYCLES = 20
SERVE_BEFORE_STOP = 0.1  # seconds of load on each proxyd before its SIGTERM
EXIT_WITHIN = 10.0


def config(folder, port, workers):
    return (config_head(plugins=("static",), workers=workers, access="off")
            + '[limits]\ndrain_timeout = "1s"\nshutdown_timeout = "5s"\n\n'
            + static_handler("files", folder) + listener("front", port, "handler", "files"))


def problems(results):
    return [r for r in results if r.outcome in ("failed", "unanswered")]


def summary(results):
    counts = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return ", ".join("%d %s" % (n, outcome) for outcome, n in sorted(counts.items()))


def repeated_stops(folder, port):
    path = write_file(os.path.join(folder, "stop.toml"), config(folder, port, workers=2))
    # Every request on a new connection (new_connection_share=1): the accept queues are never idle.
    load = LoadGenerator(port, threads=4, duration=60, target="/index.html", new_connection_share=1.0,
                         timeout=5.0, retry=False).start()
    codes = []
    started = time.monotonic()
    for cycle in range(CYCLES):
        proxyd = Proxyd(path, folder, tag="stop-%d" % cycle).start([port])
        time.sleep(SERVE_BEFORE_STOP)
        proxyd.send_signal(signal.SIGTERM)
        codes.append(proxyd.wait(EXIT_WITHIN))
    load.stop()
    check(load.join(), "the load generator finished")
    note("%d stops in %.1f s under load: %s" % (CYCLES, time.monotonic() - started, summary(load.results)))
    check_equal(codes, [0] * CYCLES, "exit codes of the %d stopped proxyd processes" % CYCLES)
    check(sum(r.outcome == "ok" for r in load.results) > CYCLES, "requests were served between the stops")
    bad = problems(load.results)
    check(not bad, "no connection was reset or cut across %d stops (refusals only)" % CYCLES,
          "; ".join("%s %s" % (r.outcome, r.detail) for r in bad[:5]))


def repeated_reloads(folder, port):
    path = os.path.join(folder, "reload.toml")
    write_file(path, config(folder, port, workers=2))
    proxyd = Proxyd(path, folder, tag="reload").start([port])
    load = LoadGenerator(port, threads=4, duration=60, target="/index.html", new_connection_share=1.0,
                         timeout=5.0, retry=False).start()
    started = time.monotonic()
    for generation in range(2, CYCLES + 2):
        # Between one worker and two: a worker of the new generation may hold several sockets.
        write_file(path, config(folder, port, workers=1 + generation % 2))
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reloaded configuration \(generation %d\)" % generation, poll=0.005)
    time.sleep(SERVE_BEFORE_STOP)
    load.stop()
    check(load.join(), "the load generator finished")
    note("%d reloads in %.1f s under load: %s" % (CYCLES, time.monotonic() - started, summary(load.results)))
    check(sum(r.outcome == "ok" for r in load.results) > CYCLES, "requests were served across the reloads")
    bad = problems(load.results) + [r for r in load.results if r.outcome == "refused"]
    check(not bad, "no connection was refused, reset or cut across %d reloads" % CYCLES,
          "; ".join("%s %s" % (r.outcome, r.detail) for r in bad[:5]))
    proxyd.send_signal(signal.SIGTERM)
    check_equal(proxyd.wait(EXIT_WITHIN), 0, "exit code after the reloads")


def main():
    folder = workdir("stop-reload-repeated")
    write_file(os.path.join(folder, "index.html"), b"<p>served</p>\n")
    (port,) = free_ports(1)
    repeated_stops(folder, port)
    repeated_reloads(folder, port)


if __name__ == "__main__":
    run_test(main)
