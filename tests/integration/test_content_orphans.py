#!/usr/bin/env python3
"""An ABI 1.0 content plugin (tests/loader/content_park10.c, built against the frozen 1.0 header)
keeps responses past its handle hook and has no cancelled hook. When the client of such a parked
response leaves, the core keeps what the plugin may still touch: the plugin later reads the
request's path and a header field and finishes it (no use-after-free under ASan). A response the
plugin never finishes does not hold up a stop, and the worker frees it when it ends (no leak under
LeakSanitizer, a warning in the log). 1.0 content plugins answer at the head, as before."""

import os
import signal
import time

from proxyd_harness import (Client, Proxyd, TestFailure, check, check_equal, config_head, free_ports, get,
                            listener, note, run_test, toml_str, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_park10.so")
SHUTDOWN_TIMEOUT = 20.0


def start(folder):
    (port,) = free_ports(1)
    config = (config_head(plugins=()).replace("[plugins]\n", "[plugins]\npark = %s\n" % toml_str(PLUGIN))
              + '[limits]\ndrain_timeout = "1s"\nshutdown_timeout = "%ds"\n\n' % SHUTDOWN_TIMEOUT
              + '[handlers.park]\nplugin = "park"\n\n'
              + listener("front", port, "handler", "park"))
    path = write_file(os.path.join(folder, "orphans.toml"), config)
    return Proxyd(path, folder, tag="orphans").start([port]), port


def park_and_leave(port, target, tag):
    client = Client(port, timeout=5)
    client.send(b"GET %s HTTP/1.1\r\nHost: x\r\nX-Tag: %s\r\n\r\n" % (target.encode(), tag.encode()))
    check(not client.closed_by_peer(within=0.3), "%s is parked: no answer, connection open" % target)
    client.close()


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("orphans")
    proxyd, port = start(folder)
    check_equal(get(port, "/other").status, 204, "a 1.0 content plugin answers at the head")
    body = Client(port, timeout=5)
    response = body.request("POST", "/other", body=b"x" * 3000)
    check_equal(response.status, 204, "a 1.0 plugin with a request body answers as before")
    body.close()

    park_and_leave(port, "/park/one", "first")
    time.sleep(0.3)  # the connection is closed and freed by now
    released = get(port, "/release")
    check_equal(released.status, 200, "the plugin finishes the orphan later, on its worker")
    check_equal(released.body, b"released 1: /park/one|first;\n",
                "it still reads the orphan's path and X-Tag after the client left")
    check(proxyd.alive(), "proxyd still runs")

    park_and_leave(port, "/park/two", "second")
    park_and_leave(port, "/park/three", "third")
    time.sleep(0.2)
    check_equal(get(port, "/other").status, 204, "orphans hold up no other request")
    sent = time.monotonic()
    proxyd.send_signal(signal.SIGTERM)
    code = proxyd.wait(SHUTDOWN_TIMEOUT / 2)
    elapsed = time.monotonic() - sent
    check(code is not None, "a stop does not wait for orphans (%.1f s; shutdown_timeout %d s)"
          % (elapsed, SHUTDOWN_TIMEOUT))
    note("exited %.2f s after SIGTERM" % elapsed)
    check_equal(code, 0, "proxyd exit code")
    check("freed 2 content response(s)" in proxyd.stderr_text(),
          "the worker freed the two orphans never finished and said so", proxyd.stderr_tail())


if __name__ == "__main__":
    run_test(main)
