#!/usr/bin/env python3
"""Pending filters (ABI 1.3), through tests/loader/filter_probe.c: a filter that waits on a timer
or on the thread pool lets the request go on when it resumes, or answers then; its request body
waits for it intact; pipelined requests behind it are answered in order; a client that leaves
while it waits makes the filter hear `cancelled` exactly once and the log hook once (and nothing
after: the ASan build checks for use after free); a stop that cuts a waiting request does the
same; a reload while a filter waits lets the request finish on the old configuration; a filter
that outlasts the listener's filter_timeout gets its request answered 500 and hears `cancelled`."""

import os
import re
import signal
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, get, listener,
                            static_handler,
                            response_bytes, run_test, toml_str, upstream, wait_for, wait_for_log, workdir,
                            write_file)

PROBE = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "filter_probe.so")


def backend_handler(request, conn_id):
    body = ("%s %s %d" % (request.method, request.target, len(request.body))).encode()
    return [response_bytes(200, body, [("Content-Type", "text/plain")])], False


def probe(name, **keys):
    lines = ["[filters.%s]" % name, 'plugin = "probe"', "label = %s" % toml_str(name)]
    for key, value in keys.items():
        lines.append("%s = %s" % (key, value if isinstance(value, int) else toml_str(value)))
    return "\n".join(lines) + "\n\n"


def front_listener(name, port, filters, target="app"):
    return listener(name, port, "upstream", target).replace(
        "\n\n", "\nfilters = [%s]\n\n" % ", ".join(toml_str(f) for f in filters), 1)


def count(proxyd, text):
    return proxyd.stderr_text().count(text)


def start(folder, tag, backend, shutdown_timeout="10s", pend_ms=300):
    timer, work, late, slow, stuck, files = free_ports(6)
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "a.txt"), "a\n")
    config = (config_head(level="warn").replace("[plugins]\n", "[plugins]\nprobe = %s\n" % toml_str(PROBE))
              + '[limits]\ndrain_timeout = "1s"\nshutdown_timeout = "%s"\n\n' % shutdown_timeout
              + probe("timer", pend_ms=pend_ms)
              + probe("work", pend_ms=pend_ms, pend_on="work")
              + probe("limit", only_if_header="X-Limit", pend_ms=100, respond=429, respond_body="slow down\n")
              + probe("slow", pend_ms=5000)
              + probe("stuck", pend_ms=2000)
              + upstream("app", [backend.port])
              + front_listener("timer", timer, ["timer"])
              + front_listener("work", work, ["work", "limit"])
              + front_listener("slow", slow, ["slow"])
              + listener("late", late, "upstream", "app")
              + front_listener("stuck", stuck, ["stuck"]).replace(
                  "\n\n", '\nlimits = { filter_timeout = "300ms" }\n\n', 1)
              + static_handler("site", root)
              + listener("files", files, "handler", "site").replace("\n\n", '\nfilters = ["timer"]\n\n', 1))
    path = write_file(os.path.join(folder, tag + ".toml"), config)
    ports = (timer, work, late, slow, stuck, files)
    return Proxyd(path, folder, tag=tag).start(list(ports)), path, ports


def resumes(proxyd, timer, work):
    for port, name in ((timer, "timer"), (work, "work")):
        began = time.monotonic()
        response = get(port, "/resumed-%s" % name, headers=[("X-Request-ID", "resume-%s" % name)])
        waited = time.monotonic() - began
        check_equal((response.status, response.body), (200, b"GET /resumed-%s 0" % name.encode()),
                    "a request behind a %s filter is proxied once it resumes" % name)
        check(waited >= 0.25, "the %s filter held the request ~300 ms (%.3f s)" % (name, waited))
        wait_for_log(proxyd, r"%s log status=200 completed=1 \S+ id=resume-%s" % (name, name), timeout=5)
    response = get(work, "/limited", headers=[("X-Limit", "1")])
    check_equal((response.status, response.body), (429, b"slow down\n"), "a filter answers when it resumes")


def body_waits(work, backend):
    body = bytes(range(256)) * 800  # 200 KB: more than the high-water mark, so reading pauses
    with Client(work) as client:
        response = client.request("POST", "/upload", headers=[("Content-Type", "application/octet-stream")],
                                  body=body)
        check_equal(response.body, b"POST /upload %d" % len(body), "the body sent while the filter waited arrives whole")
    _, seen = backend.requests[-1]
    check(seen.body == body, "the backend got the same bytes")


def answer_after_held_body(work):
    """A filter that waits, then answers, while the body is held (past the high-water mark, so
    reading paused): the body is read and dropped after the answer and the connection goes on."""
    body = b"z" * 200000
    with Client(work) as client:
        client.send(b"POST /limited-upload HTTP/1.1\r\nHost: x\r\nX-Limit: 1\r\nContent-Length: %d\r\n\r\n"
                    % len(body) + body)
        response = client.read_response()
        check_equal((response.status, response.body), (429, b"slow down\n"), "the filter's answer to an upload")
        check("close" not in response.connection_tokens(), "it keeps the connection: the body is dropped")
        check_equal(client.request("GET", "/after-upload").body, b"GET /after-upload 0",
                    "the next request on the connection is served")


def handler_answers_held_body(files):
    """The static handler answers a POST at its head (405) after a filter waited with the body
    held and reading paused: the held bytes are dropped, reading resumes to drop the rest, and the
    connection serves the next request (it did not hang)."""
    body = b"z" * 200000
    with Client(files) as client:
        client.send(b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        response = client.read_response()
        check_equal(response.status, 405, "the handler's answer to an upload held by a filter")
        check("close" not in response.connection_tokens(), "it keeps the connection: the body is dropped")
        check_equal(client.request("GET", "/a.txt").body, b"a\n", "the next request on the connection is served")


def pipelined_in_order(timer):
    with Client(timer) as client:
        client.send(b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3)))
        bodies = [client.read_response().body for _ in range(3)]
    check_equal(bodies, [b"GET /p0 0", b"GET /p1 0", b"GET /p2 0"], "pipelined requests answered in order")


def client_leaves(proxyd, port, name):
    request_id = "leave-%s" % name
    client = Client(port)
    client.send(b"GET /leaving HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s\r\n\r\n" % request_id.encode())
    wait_for_log(proxyd, r"%s request_head id=%s" % (name, request_id), timeout=5)
    client.close()
    wait_for_log(proxyd, r"%s cancelled id=%s" % (name, request_id), timeout=5)
    wait_for_log(proxyd, r"%s log status=0 completed=0 upstream= id=%s" % (name, request_id), timeout=5)
    time.sleep(0.5)  # past the filter's wait: nothing of it may run for this request now
    check_equal(count(proxyd, "cancelled id=%s" % request_id), 1, "%s: cancelled once" % name)
    check_equal(count(proxyd, "%s log status=0 completed=0 upstream= id=%s" % (name, request_id)), 1,
                "%s: log once" % name)
    check_equal(count(proxyd, "resumed id=%s" % request_id), 0, "%s: never resumed" % name)
    check(re.search(r'"GET /leaving HTTP/1.1" 499 .* request_id=%s' % request_id, proxyd.stderr_text()),
          "%s: the access log says 499" % name)


def reload_while_pending(proxyd, path, timer):
    client = Client(timer)
    client.send(b"GET /across-reload HTTP/1.1\r\nHost: x\r\nX-Request-ID: reload-1\r\n\r\n")
    wait_for_log(proxyd, r"timer request_head id=reload-1", timeout=5)
    proxyd.send_signal(signal.SIGHUP)
    response = client.read_response()
    check_equal((response.status, response.body), (200, b"GET /across-reload 0"),
                "a request waiting on a filter finishes across a reload")
    check("close" in response.connection_tokens(), "on the old generation, which closes after it")
    client.close()
    check_equal(get(timer, "/after-reload").status, 200, "the new generation serves the next request")


def stop_cuts_pending(folder, backend):
    proxyd, _, (_, _, _, slow, _, _) = start(folder, "stop", backend, shutdown_timeout="1s")
    client = Client(slow)
    client.send(b"GET /held HTTP/1.1\r\nHost: x\r\nX-Request-ID: held-1\r\n\r\n")
    wait_for_log(proxyd, r"slow request_head id=held-1", timeout=5)
    proxyd.send_signal(signal.SIGTERM)
    check_equal(proxyd.wait(10), 0, "proxyd exits once shutdown_timeout cut the waiting request")
    check(client.closed_by_peer(within=2), "the waiting request's connection was cut")
    client.close()
    check_equal(count(proxyd, "slow cancelled id=held-1"), 1, "the stop cancelled the waiting filter once")
    check_equal(count(proxyd, "slow log status=0 completed=0 upstream= id=held-1"), 1, "and its log hook ran once")


def filter_times_out(proxyd, stuck):
    with Client(stuck) as client:
        began = time.monotonic()
        client.send(b"GET /stuck HTTP/1.1\r\nHost: x\r\nX-Request-ID: stuck-1\r\n\r\n")
        response = client.read_response()
        waited = time.monotonic() - began
        check_equal(response.status, 500, "a filter pending past filter_timeout: 500")
        check(0.25 <= waited < 2, "answered after the listener's 300 ms, not the filter's 2 s (%.3f s)" % waited)
        check("close" not in response.connection_tokens(), "a bodiless request keeps its connection")
        client.send(b"GET /next HTTP/1.1\r\nHost: x\r\nX-Request-ID: stuck-2\r\n\r\n")
        check_equal(client.read_response().status, 500, "the next request on it is served (and waits too)")
    wait_for_log(proxyd, r"stuck log status=500 completed=1 upstream= id=stuck-1", timeout=5)
    check_equal(count(proxyd, "stuck cancelled id=stuck-1"), 1, "the filter heard cancelled once")
    check(re.search(r"error.*plugin probe \(filters\.stuck\): request_head still pending after filter_timeout \(300 ms\) "
                    r"for GET /stuck, answering 500", proxyd.stderr_text()),
          "the error log names the plugin, the timeout and the request")
    check(re.search(r'"GET /stuck HTTP/1.1" 500 .* request_id=stuck-1', proxyd.stderr_text()),
          "the access log says 500")
    with Client(stuck) as client:
        client.send(b"POST /stuck-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        response = client.read_response()
        check_equal(response.status, 500, "a request whose body is still coming: 500 as well")
        check("close" in response.connection_tokens(), "and the connection closes, its body unread")
        check(client.closed_by_peer(within=2), "closed after the answer")
    # Past the filter's own 2 s for both requests (the second began ~0.3 s after the first).
    time.sleep(max(0.0, began + 2.8 - time.monotonic()))
    check_equal(count(proxyd, "resumed id=stuck-1") + count(proxyd, "resumed id=stuck-2"), 0,
                "the filter never resumed the requests it lost (its timers were cancelled)")


def main():
    folder = workdir("filters-async")
    backend = Backend(handler=backend_handler)
    proxyd, path, (timer, work, late, slow, stuck, files) = start(folder, "main", backend)
    resumes(proxyd, timer, work)
    body_waits(work, backend)
    answer_after_held_body(work)
    handler_answers_held_body(files)
    pipelined_in_order(timer)
    client_leaves(proxyd, timer, "timer")
    client_leaves(proxyd, work, "work")
    filter_times_out(proxyd, stuck)
    check_equal(get(late, "/still-serving").status, 200, "proxyd serves on")
    reload_while_pending(proxyd, path, timer)
    proxyd.stop()
    stop_cuts_pending(folder, backend)


if __name__ == "__main__":
    run_test(main)
