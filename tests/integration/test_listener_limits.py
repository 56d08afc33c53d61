#!/usr/bin/env python3
"""Per-listener limits: a listener's own `limits` table overrides [limits] for its connections,
and the other listeners keep the global values. Two listeners in front of one echo backend,
"strict" with header_timeout 1s, keepalive_timeout 1s and max_body_size 10, "plain" with the
defaults: a 20-byte body is 413 on strict and forwarded on plain; a head that stalls gets 408
after about 1 s on strict and is still waited for on plain; an idle keep-alive connection is
closed after 1 s on strict and kept on plain."""

import os
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, note, run_test,
                            upstream, workdir, write_file)


def config(backend_port, strict, plain):
    return (config_head(plugins=None) + upstream("app", [backend_port])
            + '[[listeners]]\nname = "strict"\nlisten = "127.0.0.1:%d"\nupstream = "app"\n'
              'limits = { header_timeout = "1s", keepalive_timeout = "1s", max_body_size = 10 }\n\n' % strict
            + '[[listeners]]\nname = "plain"\nlisten = "127.0.0.1:%d"\nupstream = "app"\n\n' % plain)


def main():
    folder = workdir("listener-limits")
    backend = Backend()
    strict, plain = free_ports(2)
    path = write_file(os.path.join(folder, "limits.toml"), config(backend.port, strict, plain))
    Proxyd(path, folder).start([strict, plain])

    body = b"x" * 20
    with Client(strict) as c:
        check_equal(c.request("POST", "/upload", body=body).status, 413, "strict: a 20-byte body is over its 10")
    with Client(plain) as c:
        check_equal(c.request("POST", "/upload", body=body).status, 200, "plain: the same body is forwarded")

    started = time.monotonic()
    with Client(strict, timeout=5) as stalled:
        stalled.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
        answer = stalled.read_response()
        waited = time.monotonic() - started
        note("strict: 408 after %.2f s" % waited)
        check_equal(answer.status, 408, "strict: a stalled head gets 408")
        check(0.8 <= waited <= 3.0, "strict: after its own header_timeout of 1 s (%.2f s)" % waited)
    with Client(plain, timeout=5) as stalled:
        stalled.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
        check(not stalled.closed_by_peer(within=2.0), "plain: a stalled head is still waited for after 2 s")

    with Client(strict) as idle:
        check_equal(idle.request("GET", "/").status, 200, "strict: a keep-alive request")
        check(idle.closed_by_peer(within=2.5), "strict: the idle connection is closed after its keepalive_timeout")
    with Client(plain) as idle:
        check_equal(idle.request("GET", "/").status, 200, "plain: a keep-alive request")
        check(not idle.closed_by_peer(within=2.0), "plain: the idle connection is kept past 2 s")


if __name__ == "__main__":
    run_test(main)
