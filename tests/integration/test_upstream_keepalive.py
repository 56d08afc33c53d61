#!/usr/bin/env python3
"""The upstream keep-alive pool under a burst wider than `keepalive`: what the backend sees.

- keepalive = 2, keepalive_surplus_timeout = "2s": a burst of 6 concurrent requests opens 6
  connections; all 6 stay open after it, and a second burst right after reuses them (the backend
  accepts no new connection). Once the surplus timeout passes, the backend sees 4 of them closed
  and 2 kept, and they stay kept; a third burst reuses those 2 and opens 4.
- keepalive_surplus_timeout = "0s" (nginx's rule): the 4 beyond keepalive close as their responses
  end, and the second burst opens 4 new connections.
- keepalive = 0: no connection is kept, whatever the surplus timeout says.
Every request must be answered 200: a reused connection that the pool had kept is as good as a
new one."""

import threading
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, listener,
                            note, response_bytes, run_test, upstream, wait_for, workdir, write_file)

BURST = 6
HOLD = 0.4  # seconds the backend holds each answer, so a burst's requests overlap


def slow_backend():
    def handler(request, conn_id):
        return [HOLD, response_bytes(200, b"ok\n", [("Content-Type", "text/plain")])], False
    return Backend(handler, tag="backend")


def burst(port, what):
    """BURST concurrent GETs, each on its own client connection; every answer must be 200."""
    statuses, errors = [], []

    def one(i):
        try:
            with Client(port, timeout=10) as c:
                statuses.append(c.request("GET", "/%d" % i).status)
        except Exception as e:  # counted below: a reset or an early close is a failure
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check_equal(errors, [], "%s: no request failed" % what)
    check_equal(sorted(statuses), [200] * BURST, "%s: every request answered 200" % what)


def open_count(backend):
    with backend.lock:
        return len(backend.open)


def start(folder, tag, backend, keys):
    (front,) = free_ports(1)
    path = "%s/%s.toml" % (folder, tag)
    write_file(path, config_head() + upstream("app", [backend.port], keys) + listener("front", front, "upstream", "app"))
    proxyd = Proxyd(path, folder, tag=tag).start([front])
    return proxyd, front


def surplus_kept(folder):
    backend = slow_backend()
    proxyd, front = start(folder, "surplus", backend, 'keepalive = 2\nkeepalive_surplus_timeout = "2s"')
    burst(front, "first burst")
    check_equal(backend.connections, BURST, "the first burst opened one connection per request")
    check_equal(open_count(backend), BURST, "right after the burst, the connections beyond keepalive are still open")
    burst(front, "second burst")
    check_equal(backend.connections, BURST, "the second burst reused every connection (none accepted anew)")
    second_ended = time.monotonic()
    wait_for("the backend sees the 4 surplus connections closed", lambda: open_count(backend) == 2, timeout=8)
    closed_after = time.monotonic() - second_ended
    note("surplus connections closed %.2f s after the second burst" % closed_after)
    check(closed_after >= 1.5, "the surplus connections were kept about keepalive_surplus_timeout",
          "closed %.2f s after the burst" % closed_after)
    time.sleep(1.0)
    check_equal(open_count(backend), 2, "the keepalive connections stay open after the surplus ones close")
    burst(front, "third burst")
    check_equal(backend.connections, BURST + BURST - 2, "the third burst reused the 2 kept and opened 4")
    proxyd.stop()


def surplus_off(folder):
    backend = slow_backend()
    proxyd, front = start(folder, "nginx_rule", backend, 'keepalive = 2\nkeepalive_surplus_timeout = "0s"')
    burst(front, "first burst, surplus off")
    check_equal(backend.connections, BURST, "one connection per request")
    wait_for("the connections beyond keepalive close with their responses", lambda: open_count(backend) == 2,
             timeout=5)
    burst(front, "second burst, surplus off")
    check_equal(backend.connections, BURST + BURST - 2, "the second burst reused 2 and opened 4")
    proxyd.stop()


def keepalive_off(folder):
    backend = slow_backend()
    proxyd, front = start(folder, "no_keepalive", backend, 'keepalive = 0\nkeepalive_surplus_timeout = "2s"')
    burst(front, "burst, keepalive 0")
    wait_for("no connection is kept with keepalive = 0", lambda: open_count(backend) == 0, timeout=5)
    burst(front, "second burst, keepalive 0")
    check_equal(backend.connections, 2 * BURST, "every request had a new connection")
    proxyd.stop()


def main():
    folder = workdir("upstream_keepalive")
    surplus_kept(folder)
    surplus_off(folder)
    keepalive_off(folder)


if __name__ == "__main__":
    run_test(main)
