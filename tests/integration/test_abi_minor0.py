#!/usr/bin/env python3
"""A balancing plugin built against the frozen ABI 1.0 header (tests/loader/balancer_minor0.c:
round robin, an outcome hook, a hook table that ends before 1.1's attempt_done) keeps working
under the 1.1 core: 6 requests over two backends are all answered 200, 3 by each; a client that
leaves while its request waits on a slow backend, and a backend that refuses connections, are
handled without the core touching the hook the plugin's table does not have (ASan would see a
read past the plugin's table), and the requests after them are served. The loader tests prove
1.0 plugins load; this one proves a 1.0 balancer works."""

import os
import time

from proxyd_harness import (Backend, Client, Proxyd, TestFailure, check, check_equal, config_head, free_ports,
                            get, listener, response_bytes, run_test, toml_str, upstream, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "balancer_minor0.so")


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("abi-minor0")

    def slow_or_fast(request, conn_id):
        pieces = [1.5] if request.target.startswith("/slow") else []
        return pieces + [response_bytes(200, b"ok")], False

    first, second = Backend(slow_or_fast, tag="first"), Backend(slow_or_fast, tag="second")
    port, half_dead_port, refused = free_ports(3)
    config = (config_head(plugins=()).replace("[plugins]\n", "[plugins]\nb10 = %s\n" % toml_str(PLUGIN)) +
              upstream("app", [first.port, second.port], 'balancer = "b10"\n') +
              upstream("half_dead", [refused, second.port], 'balancer = "b10"\n') +
              listener("front", port, "upstream", "app") +
              listener("half-dead", half_dead_port, "upstream", "half_dead"))
    path = write_file(os.path.join(folder, "abi10.toml"), config)
    proxyd = Proxyd(path, folder).start([port, half_dead_port])

    for i in range(6):
        check_equal(get(port, "/r%d" % i).status, 200, "request %d through the 1.0 balancer" % i)
    counts = (len(first.requests), len(second.requests))
    check_equal(counts, (3, 3), "round robin over the two backends")

    # A client that leaves while its request waits on a slow backend: the attempt ends as
    # ABORTED in the core, which must not reach for the plugin's missing attempt_done.
    client = Client(port, timeout=5)
    client.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    client.close()
    time.sleep(1.6)
    for i in range(4):
        check_equal(get(port, "/after%d" % i).status, 200, "request %d after the abandoned one" % i)
    # A refused connect is an outcome the 1.0 hook hears; the request goes on to the other peer.
    for i in range(2):
        check_equal(get(half_dead_port, "/retry%d" % i).status, 200, "request %d retried past a refused peer" % i)
    check(proxyd.alive(), "proxyd still running")


run_test(main)
