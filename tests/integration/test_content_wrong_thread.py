#!/usr/bin/env python3
"""A content plugin (tests/loader/content_async.c, /wrong-thread) calls response_finish from a thread
of its own instead of its request's worker thread. A release build refuses the call (the plugin
logs PROXYD_ESTATE, -4), logs an error naming response_finish, sends nothing for that response
(the client sees no bytes; when it gives up, the plugin is told through cancelled) and keeps
serving others. A debug build (PROXYD_BUILD_TYPE=Debug, as ctest sets it) aborts at once with a
message naming the call; the test then checks that instead."""

import os
import signal

from proxyd_harness import (Client, Proxyd, TestFailure, check, check_equal, config_head, free_ports, get,
                            listener, note, run_test, toml_str, wait_for_log, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_async.so")
BUILD_TYPE = os.environ.get("PROXYD_BUILD_TYPE", "")
CALL_MESSAGE = "a plugin called response_finish from a thread other than its request's worker thread"


def start(folder):
    (port,) = free_ports(1)
    config = (config_head(plugins=(), workers=2).replace("[plugins]\n", "[plugins]\nasync = %s\n" % toml_str(PLUGIN))
              + '[handlers.async]\nplugin = "async"\n\n'
              + listener("front", port, "handler", "async"))
    path = write_file(os.path.join(folder, "wrong-thread.toml"), config)
    return Proxyd(path, folder, tag="wrong-thread").start([port]), port


def release_build(proxyd, port):
    client = Client(port, timeout=5)
    client.send(b"GET /wrong-thread/one HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_for_log(proxyd, r"response_finish from another thread returned -?\d+ for /wrong-thread/one", timeout=5)
    text = proxyd.stderr_text()
    check("returned -4 for /wrong-thread/one" in text, "the call returned PROXYD_ESTATE (-4) to the plugin",
          proxyd.stderr_tail())
    check(CALL_MESSAGE in text and "refused" in text, "proxyd logged an error naming response_finish",
          proxyd.stderr_tail())
    check(not client.closed_by_peer(within=0.5), "nothing was sent for the refused response")
    client.close()
    wait_for_log(proxyd, r"plugin async: cancelled /wrong-thread/one", timeout=5)
    answers = [get(port, "/hello/%d" % i).body for i in range(20)]
    check_equal(answers, [b"hello /hello/%d\n" % i for i in range(20)], "proxyd serves 20 more requests")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


def debug_build(proxyd, port):
    client = Client(port, timeout=5)
    client.send(b"GET /wrong-thread/one HTTP/1.1\r\nHost: x\r\n\r\n")
    code = proxyd.wait(10)
    client.close()
    check_equal(code, -signal.SIGABRT, "a debug build aborts on the wrong-thread call")
    check(CALL_MESSAGE in proxyd.stderr_text() and "aborting" in proxyd.stderr_text(),
          "with a message naming response_finish", proxyd.stderr_tail())


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("wrong-thread")
    proxyd, port = start(folder)
    check_equal(get(port, "/hello").body, b"hello /hello\n", "the plugin answers on its worker thread")
    note("build type: %r" % (BUILD_TYPE or "unknown"))
    if BUILD_TYPE.lower() == "debug":
        debug_build(proxyd, port)
    else:
        release_build(proxyd, port)


if __name__ == "__main__":
    run_test(main)
