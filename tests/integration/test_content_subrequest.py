#!/usr/bin/env python3
"""Subrequests started by a CONTENT plugin (ABI 1.4) in the real proxyd, through the plain C fixture
tests/loader/content_subrequest.c, built against the frozen 1.5 header: it answers with what its
subrequest got (status, one field, the body up to 4 KiB, body_truncated), 502 on a failed or timed
out subrequest, waits for two subrequests at once, and cancels one itself (subrequest_cancel). A
client that leaves while subrequests run: the plugin's cancelled hook runs exactly once and done
never afterwards (its log lines prove it; the ASan build checks the frees). A reload and a stop while
one runs; proxyd -t pointing at the plugin's bad keys."""

import os
import re
import socket
import struct
import subprocess
import time

from proxyd_harness import (PROXYD_BIN, Backend, Client, Proxyd, build_request, check, check_equal, config_head,
                            free_ports, listener, response_bytes, run_test, toml_str, upstream, wait_for,
                            wait_for_log, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_subrequest.so")
READ_TIMEOUT = 0.6  # seconds, the "quick" group's read_timeout
HANG = 4  # seconds a /hang answer takes


def backend_handler(request, conn_id):
    index = request.header("X-Sub-Index") or "?"
    path = request.target.split("?")[0]
    if path == "/data":
        return [response_bytes(200, b"hello from backend", [("X-Answer", "42"), ("X-Other", "no")])], False
    if path == "/big":
        return [response_bytes(200, b"x" * 10000, [("X-Answer", "big")])], False
    if path == "/missing":
        return [response_bytes(404, b"nope")], False
    if path == "/pair":  # the first of two answers last: done runs in the other order
        return [0.6 if index == "1" else 0.4, response_bytes(200, b"pair " + index.encode())], False
    if path == "/slow":
        return [0.5, response_bytes(200, b"slow " + index.encode())], False
    return [HANG, response_bytes(200, b"too late")], True  # /hang


def seen(backend, path):
    return [r for _, r in backend.requests if r.target.split("?")[0] == path]


def log_count(proxyd, text):
    return proxyd.stderr_text().count(text)


def answers(front, failing, patient, backend):
    with Client(front) as client:
        one = client.request("GET", "/one/a?/data")
        check_equal((one.status, one.body), (200, b"hello from backend"), "the subrequest's status and body")
        check_equal(one.header("X-Sub-Field"), "42", "the configured field of its answer")
        check_equal(one.header("X-Sub-Truncated"), "no", "a short body is whole")
        ask = seen(backend, "/data")[-1]
        check_equal((ask.method, ask.target), ("GET", "/data"), "the subrequest's line: the path from the query")
        check(ask.has("Host") and ask.has("X-Request-ID"), "Host and X-Request-ID are added")
        check_equal(ask.header("X-Sub-Index"), "1", "the plugin's field is sent")

        fixed = client.request("GET", "/one/fixed")
        check_equal((fixed.status, fixed.body), (404, b"nope"), "the configured path, and a 404 passed on")

        big = client.request("GET", "/one/big?/big")
        check_equal((big.status, big.header("X-Sub-Truncated")), (200, "yes"), "a 10 kB body is truncated")
        check(big.body == b"x" * 4096, "to PROXYD_SUBREQUEST_MAX_BODY bytes", "%d bytes" % len(big.body))


        began = time.monotonic()
        hung = client.request("GET", "/one/hang?/hang")
        check_equal((hung.status, hung.header("X-Sub-Result")), (502, "timeout"),
                    "a backend slower than the group's read_timeout: 502, TIMEOUT")
        check(time.monotonic() - began < READ_TIMEOUT + 1.0, "after read_timeout, not the backend's %d s" % HANG)

        cancel = client.request("GET", "/cancel/c?ms=300&/hang")
        check_equal((cancel.status, cancel.body), (200, b"cancel 0 then -2\n"),
                    "subrequest_cancel while it runs: PROXYD_OK, then PROXYD_ENOENT")
        check_equal(len(seen(backend, "/hang")), 2, "the cancelled subrequest had reached the backend")
        fast = client.request("GET", "/cancel/fast?ms=500&/data")
        check_equal((fast.status, fast.body), (200, b"hello from backend"),
                    "a subrequest back before its cancel timer: answered by done, the timer cancelled")

    with Client(patient) as client:  # the group without the short read_timeout
        began = time.monotonic()
        two = client.request("GET", "/two/x?/pair")
        elapsed = time.monotonic() - began
        check_equal((two.status, two.body), (200, b"1: 200 pair 1\n2: 200 pair 2\n"), "two subrequests at once")
        check(elapsed < 0.95, "side by side, not one after the other (%.2f s for 0.6 s and 0.4 s)" % elapsed)

    with Client(failing) as client:
        down = client.request("GET", "/one/down?/data")
        check_equal(down.status, 502, "a group whose peer refuses connections: 502")
        check(down.header("X-Sub-Result") == "failed" or down.body.startswith(b"subrequest_start: "),
              "told by a FAILED result or by subrequest_start's error", repr(down.body))


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def client_leaves(proxyd, front, backend, mode, running):
    """The client resets while its subrequests run (each waits on /hang)."""
    target = "/%s/leaving?/hang" % mode
    before = len(seen(backend, "/hang"))
    sock = socket.create_connection(("127.0.0.1", front), timeout=5)
    sock.sendall(build_request("GET", target))
    wait_for("the subrequests reach the backend", lambda: len(seen(backend, "/hang")) == before + running, timeout=3)
    reset(sock)
    wait_for_log(proxyd, r"cancelled \(unanswered %d, left for the plugin to cancel 0\) %s" % (
        running, target.replace("?", r"\?")), timeout=3)
    return target


def leaving_clients(proxyd, front, backend):
    targets = [client_leaves(proxyd, front, backend, "one", 1), client_leaves(proxyd, front, backend, "two", 2)]
    time.sleep(READ_TIMEOUT + 0.2)  # past the group's read_timeout: a subrequest still running would end now
    check_equal(log_count(proxyd, "cancelled (unanswered"), 2, "the cancelled hook ran once per request")
    check_equal(log_count(proxyd, "timer /cancel/fast"), 0, "a cancelled timer never fires")
    for target in targets:
        check_equal(log_count(proxyd, "done " + target), 0, "done never runs for %s once it was cancelled" % target)
    with Client(front) as client:
        check_equal(client.request("GET", "/one/after?/data").status, 200, "proxyd serves on")


def reload_and_stop(proxyd, front, patient):
    waiting = Client(patient)
    waiting.send(build_request("GET", "/one/reload?/slow"))
    time.sleep(0.15)
    proxyd.send_signal(1)  # SIGHUP
    response = waiting.read_response()
    check_equal((response.status, response.body), (200, b"slow 1"), "a subrequest running across a reload finishes")
    waiting.close()
    with Client(front) as client:
        check_equal(client.request("GET", "/one/new?/data").status, 200, "the new generation answers")

    cut = Client(patient)
    cut.send(build_request("GET", "/one/stop?/hang"))
    time.sleep(0.2)
    check_equal(proxyd.stop(), 0, "proxyd stops with a subrequest running (shutdown_timeout cuts it)")
    check(cut.closed_by_peer(within=3), "the waiting request's connection was cut")
    cut.close()
    check_equal(log_count(proxyd, "cancelled (unanswered 1, left for the plugin to cancel 0) /one/stop"), 1,
                "the stop cut it: cancelled once")
    check_equal(log_count(proxyd, "done /one/stop"), 0, "and done never ran")
    check_equal(log_count(proxyd, "done after cancel") + log_count(proxyd, "outlived its worker"), 0,
                "no hook out of order")


def refused_config(folder, head):
    """proxyd -t points at the plugin's own keys: a group that is not declared, a path not a string."""
    path = write_file(os.path.join(folder, "refused.toml"), head
                      + '[handlers.ask]\nplugin = "subreq"\nupstream = "nowhere"\n\n'
                      + '[handlers.odd]\nplugin = "subreq"\nupstream = "quick"\npath = 7\n\n')
    done = subprocess.run([PROXYD_BIN, "-t", "-c", path], capture_output=True, text=True, timeout=30)
    check_equal(done.returncode, 1, "proxyd -t refuses the config")
    check(re.search(r"refused\.toml:\d+:\d+: .*upstream 'nowhere' is not declared", done.stderr) is not None,
          "an undeclared group: file:line:col and the reason", done.stderr)
    check(re.search(r"refused\.toml:\d+:\d+: .*must be a short string", done.stderr) is not None,
          "a path that is not a string: file:line:col and the reason", done.stderr)


def main():
    folder = workdir("content_subrequest")
    backend = Backend(handler=backend_handler)
    front, failing, patient, dead = free_ports(4)
    head = (config_head(plugins=(), workers=1).replace("[plugins]\n", "[plugins]\nsubreq = %s\n" % toml_str(PLUGIN))
            + '[limits]\ndrain_timeout = "1s"\nshutdown_timeout = "1s"\n\n'
            + upstream("quick", [backend.port], 'read_timeout = "%dms"\nmax_fails = 0\n' % int(READ_TIMEOUT * 1000))
            + upstream("patient", [backend.port]) + upstream("nobody", [dead]))
    refused_config(folder, head)
    config = (head
              + '[handlers.ask]\nplugin = "subreq"\nupstream = "quick"\npath = "/missing"\nfield = "X-Answer"\n\n'
              + '[handlers.down]\nplugin = "subreq"\nupstream = "nobody"\n\n'
              + '[handlers.wait]\nplugin = "subreq"\nupstream = "patient"\n\n'
              + listener("front", front, "handler", "ask") + listener("failing", failing, "handler", "down")
              + listener("patient", patient, "handler", "wait"))
    path = write_file(os.path.join(folder, "content_subrequest.toml"), config)
    proxyd = Proxyd(path, folder).start([front, failing, patient])
    answers(front, failing, patient, backend)
    leaving_clients(proxyd, front, backend)
    check(proxyd.alive(), "proxyd still running")
    reload_and_stop(proxyd, front, patient)

if __name__ == "__main__":
    run_test(main)
