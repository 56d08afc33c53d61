#!/usr/bin/env python3
"""A content plugin that finishes its response inside handle and then returns an error
(tests/loader/content_async.c, /finish-then-fail): the client gets that one answer and nothing
more (no 500 after it, no answer written for the next request), with the exchange called at the
request's head (inside the parser) and after a pending filter resumed it (from a timer, where the
finish ends the exchange at once and may start the next pipelined request). The ASan build
checks that nothing reads the finished exchange after the hook returns."""

import os
import socket

from proxyd_harness import (Client, Proxyd, TestFailure, access_log_entries, check, check_equal, config_head,
                            free_ports, listener, run_test, toml_str, wait_for_log, workdir,
                            write_file)

PLUGIN_DIR = os.environ.get("PROXYD_TEST_PLUGIN_DIR", "")
ASYNC = os.path.join(PLUGIN_DIR, "content_async.so")
PROBE = os.path.join(PLUGIN_DIR, "filter_probe.so")


def start(folder):
    direct, filtered = free_ports(2)
    config = (config_head(plugins=()).replace(
                  "[plugins]\n", "[plugins]\nasync = %s\nprobe = %s\n" % (toml_str(ASYNC), toml_str(PROBE)))
              + '[handlers.async]\nplugin = "async"\n\n'
              + '[filters.wait]\nplugin = "probe"\nlabel = "wait"\nonly_if_header = "X-Wait"\npend_ms = 20\n\n'
              + listener("direct", direct, "handler", "async")
              + listener("filtered", filtered, "handler", "async").replace(
                  "\n\n", '\nfilters = ["wait"]\n\n', 1))
    path = write_file(os.path.join(folder, "finish-error.toml"), config)
    return Proxyd(path, folder, tag="finish-error").start([direct, filtered]), direct, filtered


def request_bytes(path, wait=False):
    """wait: the filtered listener's filter holds the request 20 ms, then resumes it from a timer."""
    return b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path.encode(), b"X-Wait: 1\r\n" if wait else b"")


def arrives_within(client, seconds):
    """What the connection brings within seconds: b"" when nothing (and it stays open)."""
    client.sock.settimeout(seconds)
    try:
        data = client.sock.recv(65536)
    except socket.timeout:
        return b""
    except ConnectionResetError:
        return b"<reset>"
    return data or b"<closed>"


def answered_once(port, where, pipelined, wait):
    with Client(port, timeout=5) as client:
        if pipelined:
            client.send(request_bytes("/finish-then-fail/a", wait) + request_bytes("/hello/b"))
        else:
            client.send(request_bytes("/finish-then-fail/a", wait))
        first = client.read_response()
        check_equal((first.status, first.body), (200, b"finished /finish-then-fail/a\n"),
                    "%s: the plugin's finished answer" % where)
        if not pipelined:
            client.send(request_bytes("/hello/b"))
        second = client.read_response()
        check_equal((second.status, second.body), (200, b"hello /hello/b\n"),
                    "%s: the next request on the connection gets its own answer, not a 500" % where)
        check_equal(bytes(client.reader.buf) + arrives_within(client, 0.3), b"",
                    "%s: nothing arrives after the two answers" % where)


def next_one_parked(proxyd, port):
    """The finish starts the next pipelined request, whose exchange parks (and may be made where
    the finished one was): it is left alone, not answered for the first one's error."""
    with Client(port, timeout=5) as client:
        client.send(request_bytes("/finish-then-fail/c", wait=True) + request_bytes("/park/d"))
        first = client.read_response()
        check_equal((first.status, first.body), (200, b"finished /finish-then-fail/c\n"),
                    "after a pending filter, next one parked: the plugin's finished answer")
        check_equal(bytes(client.reader.buf) + arrives_within(client, 0.3), b"",
                    "the parked next request gets no answer meanwhile")
    wait_for_log(proxyd, r"plugin async: cancelled /park/d", timeout=5)


def main():
    for plugin in (ASYNC, PROBE):
        if not os.path.exists(plugin):
            raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % plugin)
    folder = workdir("content-finish-error")
    proxyd, direct, filtered = start(folder)
    for port, where, wait in ((direct, "at the head", False), (filtered, "after a pending filter", True)):
        answered_once(port, where, pipelined=False, wait=wait)
        answered_once(port, where + ", pipelined", pipelined=True, wait=wait)
    next_one_parked(proxyd, filtered)
    check_equal(proxyd.stop(), 0, "proxyd exit code")
    statuses = [entry["status"] for entry in access_log_entries(proxyd.stderr_text())]
    check_equal(statuses, ["200"] * 9 + ["499"], "one access-log line per request: 200s, and the parked one's 499")
    check("failed to answer" not in proxyd.stderr_text(), "no 500 was logged for a finished response")


if __name__ == "__main__":
    run_test(main)
