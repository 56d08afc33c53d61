#!/usr/bin/env python3
"""Reload under HTTP/2 load: h2load keeps 4 connections of 10 concurrent streams busy on a
proxied route and on a static file while proxyd gets three SIGHUPs. Each old generation's h2
connections send GOAWAY (a shutdown notice and two PING round trips first, then the last stream
id), finish every stream they took and close; every old generation finishes.

What is counted: every request h2load sent got a 2xx. h2load itself cannot go on past a GOAWAY:
it opens no new connection (it does so only after an HTTP/1.1 Connection: close), and its nghttp2
refuses to send the streams it had queued but not yet sent when the GOAWAY arrived; its log file
(--log-file) shows those with status -1 and no request time, and this test checks that each
failure it reports is one of them: never a request proxyd took. A run started after the reloads
succeeds whole."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

from proxyd_harness import (HOST, WWW_DIR, Backend, Proxyd, TestSkip, check, check_equal, config_head, free_ports,
                            note, run_test, static_handler, upstream, wait_for_log, workdir, write_file)

RUN_REQUESTS = 4000


def h2load(urls, folder, tag):
    """One h2load run: (summary counts, [(status, request start) per request from its log])."""
    log_path = os.path.join(folder, "h2load-%s.tsv" % tag)
    done = subprocess.run(["h2load", "-n", str(RUN_REQUESTS), "-c", "4", "-m", "10", "--log-file", log_path]
                          + urls, capture_output=True, timeout=60)
    out = done.stdout.decode()
    summary = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                        r"(\d+) errored", out)
    if summary is None:
        raise AssertionError("h2load gave no summary: " + out[-800:] + done.stderr.decode()[-400:])
    entries = []
    with open(log_path) as f:
        for line in f:
            start, status, _ = line.split("\t")
            entries.append((int(status), int(start)))
    return tuple(map(int, summary.groups())), entries


def main():
    if shutil.which("h2load") is None:
        raise TestSkip("h2load is not installed (nghttp2-client, packaging/build-deps.sh --test)")
    folder = workdir("h2-reload")
    backend = Backend()
    (port,) = free_ports(1)
    router = ("[routers.paths]\nplugin = \"prefix\"\nroutes = [\n"
              "  { prefix = \"/api/\", upstream = \"api\" },\n  { prefix = \"/\", handler = \"site\" },\n]\n\n")
    config = (config_head(access="off") + static_handler("site", os.path.join(WWW_DIR, "default"))
              + upstream("api", [backend.port]) + router
              + "[[listeners]]\nname = \"h2c\"\nlisten = \"%s:%d\"\nrouter = \"paths\"\nhttp2 = true\n" % (HOST, port))
    path = os.path.join(folder, "proxyd.toml")
    write_file(path, config.encode())
    proxyd = Proxyd(path, folder)
    proxyd.start((port,))
    urls = ["http://%s:%d/" % (HOST, port), "http://%s:%d/api/x" % (HOST, port)]

    runs = []
    stop = threading.Event()

    def load():
        n = 0
        while not stop.is_set():
            n += 1
            try:
                runs.append(h2load(urls, folder, str(n)))
            except Exception as error:  # reported by the main thread
                runs.append(error)
                return

    runner = threading.Thread(target=load)
    runner.start()
    for generation in (2, 3, 4):
        time.sleep(0.5)
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reloaded configuration \(generation %d\)" % generation)
    time.sleep(0.3)
    stop.set()
    runner.join(70)
    errors = [r for r in runs if isinstance(r, Exception)]
    check(not errors and runs, "h2load ran %d times across the reloads" % len(runs), repr(errors[:1]))
    sent = succeeded = never_sent = 0
    for (total, started, done, ok, failed, errored), entries in runs:
        sent += sum(1 for status, start in entries if start != 0)
        succeeded += sum(1 for status, start in entries if 200 <= status < 300)
        never_sent += sum(1 for status, start in entries if start == 0)
        bad = [(status, start) for status, start in entries if start != 0 and not 200 <= status < 300]
        check(not bad, "every request of a run that h2load sent got a 2xx", repr(bad[:5]))
    note("%d requests sent across three reloads, %d succeeded; %d queued by h2load but never sent after a GOAWAY"
         % (sent, succeeded, never_sent))
    check_equal(succeeded, sent, "requests sent across three reloads that succeeded")
    (total, started, done, ok, failed, errored), _ = h2load(urls, folder, "after")
    check_equal((ok, failed, errored), (RUN_REQUESTS, 0, 0), "a run after the reloads (succeeded, failed, errored)")
    for generation in (1, 2, 3):
        wait_for_log(proxyd, r"generation %d finished" % generation, timeout=15)
    check(True, "every old generation finished")
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exits 0 on SIGTERM")


run_test(main)
