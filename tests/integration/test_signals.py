#!/usr/bin/env python3
"""Graceful stop: on SIGTERM proxyd stops accepting, lets a request in flight finish (a backend that
takes 1 s), closes idle keep-alive connections once limits.drain_timeout is over and exits 0 within
its grace period; SIGINT and SIGQUIT do the same."""

import os
import signal
import threading
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, get,
                            listener, note, port_accepts, response_bytes, run_test, static_handler, upstream, wait_for,
                            workdir, write_file)

SLOW_BODY = b"worth the wait\n" * 100
EXIT_WITHIN = 15.0  # seconds; the grace period is proxyd's, this only bounds the test


def start(folder, tag, received):
    def slow(request, conn_id):
        received.set()
        return [1.0, response_bytes(200, SLOW_BODY, [("Content-Type", "text/plain")])], False

    backend = Backend(slow, tag="slow")
    root = os.path.join(folder, "www-" + tag)
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>static</title>\n")
    front, static = free_ports(2)
    config = (config_head(plugins=("static", "round_robin"))
              + static_handler("files", root)
              + upstream("slow", [backend.port])
              + listener("front", front, "upstream", "slow")
              + listener("static", static, "handler", "files"))
    path = write_file(os.path.join(folder, tag + ".toml"), config)
    return Proxyd(path, folder, tag=tag).start([front, static]), front, static


def in_flight_request(port, outcome):
    try:
        with Client(port, timeout=15) as client:
            response = client.request("GET", "/slow")
            outcome["status"], outcome["body"] = response.status, response.body
    except Exception as error:  # reported by the main thread
        outcome["error"] = "%s: %s" % (type(error).__name__, error)


def graceful(folder, signum, name):
    received = threading.Event()
    proxyd, front, static = start(folder, name.lower(), received)
    check_equal(get(static, "/").status, 200, "%s: static listener serves before the signal" % name)
    idle = Client(static, timeout=5)
    check_equal(idle.request("GET", "/").status, 200, "%s: an idle keep-alive connection is open" % name)

    outcome = {}
    worker = threading.Thread(target=in_flight_request, args=(front, outcome), daemon=True)
    worker.start()
    check(received.wait(5), "%s: the slow request reached the backend" % name)
    sent_at = time.monotonic()
    proxyd.send_signal(signum)
    note("%s sent to proxyd pid %d while the request is in flight" % (name, proxyd.proc.pid))

    wait_for("%s: proxyd stops accepting new connections" % name,
             lambda: not port_accepts(front, 1) and not port_accepts(static, 1), timeout=5)
    worker.join(10)
    check(not worker.is_alive(), "%s: the in-flight request finished" % name)
    check("error" not in outcome, "%s: the in-flight request got a response" % name, outcome.get("error", ""))
    check(outcome.get("status") == 200 and outcome.get("body") == SLOW_BODY,
          "%s: the in-flight request completed with 200 and its whole body" % name,
          "status %r, %d bytes" % (outcome.get("status"), len(outcome.get("body", b""))))

    check(idle.closed_by_peer(within=EXIT_WITHIN), "%s: proxyd closed the idle keep-alive connection" % name)
    idle.close()
    code = proxyd.wait(EXIT_WITHIN)
    took = time.monotonic() - sent_at
    check(code is not None, "%s: proxyd exited within %.0f s" % (name, EXIT_WITHIN))
    check_equal(code, 0, "%s: proxyd exit code" % name)
    note("%s: exit %.2f s after the signal" % (name, took))


def idle_stop(folder, signum, name):
    proxyd, _, static = start(folder, "idle-" + name.lower(), threading.Event())
    check_equal(get(static, "/").status, 200, "idle %s: serves" % name)
    started = time.monotonic()
    proxyd.send_signal(signum)
    code = proxyd.wait(EXIT_WITHIN)
    check_equal(code, 0, "%s with nothing in flight: exit code" % name)
    check(time.monotonic() - started < 3, "%s with nothing in flight: exits promptly (%.2f s)"
          % (name, time.monotonic() - started))


def main():
    folder = workdir("signals")
    graceful(folder, signal.SIGTERM, "SIGTERM")
    graceful(folder, signal.SIGINT, "SIGINT")
    graceful(folder, signal.SIGQUIT, "SIGQUIT")
    idle_stop(folder, signal.SIGTERM, "SIGTERM")
    idle_stop(folder, signal.SIGINT, "SIGINT")
    idle_stop(folder, signal.SIGQUIT, "SIGQUIT")


if __name__ == "__main__":
    run_test(main)
