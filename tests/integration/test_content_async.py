#!/usr/bin/env python3
"""Parked content responses of an ABI 1.1 plugin (tests/loader/content_async.c): the plugin is told
exactly once, through its cancelled hook, when the client of a parked response leaves or a stop cuts
it, and the core frees the exchange then (no leak under LeakSanitizer); a response finished from
the plugin's own thread through worker_post reaches its client, for many requests at once; a
graceful stop lets a posted finish through rather than waiting shutdown_timeout."""

import os
import signal
import threading
import time

from proxyd_harness import (Client, Proxyd, TestFailure, check, check_equal, config_head, free_ports, get,
                            listener, note, run_test, toml_str, wait_for_log, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_async.so")
SHUTDOWN_TIMEOUT = 20


def start(folder, tag, shutdown_timeout=SHUTDOWN_TIMEOUT, workers=2):
    (port,) = free_ports(1)
    config = (config_head(plugins=(), workers=workers).replace(
                  "[plugins]\n", "[plugins]\nasync = %s\n" % toml_str(PLUGIN))
              + '[limits]\ndrain_timeout = "1s"\nshutdown_timeout = "%ds"\n\n' % shutdown_timeout
              + '[handlers.async]\nplugin = "async"\n\n'
              + listener("front", port, "handler", "async"))
    path = write_file(os.path.join(folder, tag + ".toml"), config)
    return Proxyd(path, folder, tag=tag).start([port]), port


def send_and_check_parked(port, target, within=0.3):
    client = Client(port, timeout=10)
    client.send(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
    check(not client.closed_by_peer(within=within), "%s is parked: no answer, connection open" % target)
    return client


def cancelled_when_client_leaves(proxyd, port):
    client = send_and_check_parked(port, "/park/leaving")
    client.close()
    wait_for_log(proxyd, r"plugin async: cancelled /park/leaving", timeout=5)
    check_equal(proxyd.stderr_text().count("cancelled /park/leaving"), 1, "cancelled is called once")
    check_equal(get(port, "/hello").body, b"hello /hello\n", "proxyd serves on")


def cancelled_when_stop_cuts(folder):
    proxyd, port = start(folder, "cut", shutdown_timeout=1, workers=1)
    client = send_and_check_parked(port, "/park/held")
    proxyd.send_signal(signal.SIGTERM)
    code = proxyd.wait(10)
    check_equal(code, 0, "proxyd exits after shutdown_timeout cut the parked response")
    check(client.closed_by_peer(within=2), "the held connection was cut")
    client.close()
    check_equal(proxyd.stderr_text().count("plugin async: cancelled /park/held"), 1,
                "the plugin heard once that the stop cut its parked response")


def concurrent_posted_finishes(port, count=24):
    results = [None] * count

    def one(i):
        try:
            with Client(port, timeout=10) as client:
                response = client.request("GET", "/async/%d?ms=200" % i)
                results[i] = (response.status, response.body)
        except Exception as error:  # reported below
            results[i] = ("error", str(error))

    began = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    elapsed = time.monotonic() - began
    bad = [(i, r) for i, r in enumerate(results) if r != (200, b"async /async/%d\n" % i)]
    check(not bad, "%d concurrent parked requests finished through worker_post, each with its body" % count,
          repr(bad[:3]))
    note("%d requests of 200 ms each answered in %.2f s" % (count, elapsed))
    check(elapsed < 3.0, "they waited side by side, not one after another (%.2f s)" % elapsed)


def client_leaves_mid_wait(proxyd, port):
    client = send_and_check_parked(port, "/async/left?ms=400", within=0.1)
    client.close()
    wait_for_log(proxyd, r"plugin async: cancelled /async/left", timeout=5)
    time.sleep(0.6)  # the plugin's thread posts its finish after the client left: nothing to finish
    check(proxyd.alive(), "proxyd survives the post that comes after the cancel")
    check_equal(get(port, "/hello").body, b"hello /hello\n", "proxyd serves on")


def stop_lets_posted_finish_through(folder):
    proxyd, port = start(folder, "stop")
    outcome = {}

    def request():
        try:
            with Client(port, timeout=15) as client:
                response = client.request("GET", "/async/draining?ms=500")
                outcome["response"] = response
        except Exception as error:  # reported below
            outcome["error"] = str(error)

    t = threading.Thread(target=request)
    t.start()
    time.sleep(0.2)
    sent = time.monotonic()
    proxyd.send_signal(signal.SIGTERM)
    code = proxyd.wait(SHUTDOWN_TIMEOUT / 2)
    elapsed = time.monotonic() - sent
    t.join(5)
    check(code is not None, "a graceful stop with a parked response did not wait shutdown_timeout (%d s)"
          % SHUTDOWN_TIMEOUT)
    note("exited %.2f s after SIGTERM" % elapsed)
    check_equal(code, 0, "proxyd exit code")
    response = outcome.get("response")
    check(response is not None, "the parked request was answered during the stop", outcome.get("error", ""))
    check_equal((response.status, response.body), (200, b"async /async/draining\n"),
                "the posted finish went through during the drain")
    check("close" in response.connection_tokens(), "with Connection: close")


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("content-async")
    proxyd, port = start(folder, "async")
    check_equal(get(port, "/hello").body, b"hello /hello\n", "a 1.1 content plugin answers at once")
    cancelled_when_client_leaves(proxyd, port)
    concurrent_posted_finishes(port)
    client_leaves_mid_wait(proxyd, port)
    check_equal(proxyd.stop(), 0, "proxyd exit code")
    check("worker_post refused" not in proxyd.stderr_text(), "no post was refused")
    cancelled_when_stop_cuts(folder)
    stop_lets_posted_finish_through(folder)


if __name__ == "__main__":
    run_test(main)
