#!/usr/bin/env python3
"""The upstream keep-alive pool under a burst wider than `keepalive`: what the backend sees.

The backend answers a burst's requests only once all of them are in (a barrier), so each burst
of N requests holds N upstream connections at once, and they end one after the other.

- keepalive = 2, keepalive_surplus_timeout = "2s": a burst of 6 opens 6 connections. As the
  responses end, a connection beyond keepalive is kept only while fewer are kept beyond it than
  requests are still in flight, so 4 stay open (2 + 2). A second burst right after reuses those
  4 and opens 2. Once the surplus timeout passes, the backend sees the 2 beyond keepalive closed
  and 2 kept, and they stay; a third burst reuses those 2 and opens 4.
- keepalive_surplus_timeout = "0s" (nginx's rule): the connections beyond keepalive close as
  their responses end, and the second burst opens 4 new ones.
- keepalive = 0: no connection is kept, whatever the surplus timeout says.
Every request must be answered 200.

The keep-alive race: a backend that reads the second request on each connection and closes
without answering looks, to proxyd, like a peer closing a pooled connection as it is reused. A GET
goes again on a new connection (the client sees 200); a bodiless POST is not sent again (RFC 9110
§9.2.2: the peer may have acted on it): the client gets 502, the backend saw it once, and the
peer is not marked down for the race."""

import threading
import time

from proxyd_harness import (Backend, Client, ConnectionClosed, Proxyd, check, check_equal, config_head, free_ports, get,
                            listener, note, response_bytes, run_test, upstream, wait_for, workdir, write_file)


def barrier_backend(size):
    """Answers once `size` requests are in (the barrier resets for the next burst)."""
    barrier = threading.Barrier(size, timeout=10)

    def handler(request, conn_id):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return [response_bytes(500, b"the burst's requests did not all arrive\n")], True
        return [response_bytes(200, b"ok\n", [("Content-Type", "text/plain")])], False
    return Backend(handler, tag="backend")


def burst(port, size, what):
    """`size` concurrent GETs, each on its own client connection; every answer must be 200."""
    statuses, errors = [], []

    def one(i):
        try:
            with Client(port, timeout=20) as c:
                statuses.append(c.request("GET", "/%d" % i).status)
        except Exception as e:  # counted below: a reset or an early close is a failure
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check_equal(errors, [], "%s: no request failed" % what)
    check_equal(sorted(statuses), [200] * size, "%s: every request answered 200" % what)


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
    backend = barrier_backend(6)
    proxyd, front = start(folder, "surplus", backend, 'keepalive = 2\nkeepalive_surplus_timeout = "2s"')
    burst(front, 6, "first burst")
    check_equal(backend.connections, 6, "the first burst opened one connection per request")
    # Well before the 2 s: these close as the last responses end, not at the surplus timeout.
    wait_for("4 connections stay open after the burst", lambda: open_count(backend) == 4, timeout=1.0)
    burst(front, 6, "second burst")
    check_equal(backend.connections, 8, "the second burst reused the 4 kept and opened 2")
    second_ended = time.monotonic()
    wait_for("4 again after the second burst", lambda: open_count(backend) in (2, 4), timeout=1.0)
    wait_for("the backend sees the 2 surplus connections closed", lambda: open_count(backend) == 2, timeout=8)
    closed_after = time.monotonic() - second_ended
    note("surplus connections closed %.2f s after the second burst" % closed_after)
    check(closed_after >= 1.5, "the surplus connections were kept about keepalive_surplus_timeout",
          "closed %.2f s after the burst" % closed_after)
    time.sleep(1.0)
    check_equal(open_count(backend), 2, "the keepalive connections stay open after the surplus ones close")
    burst(front, 6, "third burst")
    check_equal(backend.connections, 12, "the third burst reused the 2 kept and opened 4")
    proxyd.stop()


def surplus_off(folder):
    backend = barrier_backend(6)
    proxyd, front = start(folder, "nginx_rule", backend, 'keepalive = 2\nkeepalive_surplus_timeout = "0s"')
    burst(front, 6, "first burst, surplus off")
    check_equal(backend.connections, 6, "one connection per request")
    wait_for("the connections beyond keepalive close with their responses", lambda: open_count(backend) == 2,
             timeout=1.0)
    burst(front, 6, "second burst, surplus off")
    check_equal(backend.connections, 10, "the second burst reused 2 and opened 4")
    proxyd.stop()


def keepalive_off(folder):
    backend = barrier_backend(6)
    proxyd, front = start(folder, "no_keepalive", backend, 'keepalive = 0\nkeepalive_surplus_timeout = "2s"')
    burst(front, 6, "burst, keepalive 0")
    wait_for("no connection is kept with keepalive = 0", lambda: open_count(backend) == 0, timeout=1.0)
    burst(front, 6, "second burst, keepalive 0")
    check_equal(backend.connections, 12, "every request had a new connection")
    proxyd.stop()


def reuse_race(folder):
    served = {}

    def handler(request, conn_id):
        served[conn_id] = served.get(conn_id, 0) + 1
        if served[conn_id] == 2:
            raise ConnectionClosed("closing a kept-alive connection as it is reused")
        return [response_bytes(200, b"ok\n", [("Content-Type", "text/plain")])], False
    backend = Backend(handler, tag="racer")
    proxyd, front = start(folder, "reuse_race", backend, "")
    with Client(front) as client:
        check_equal(client.request("GET", "/first").status, 200, "race: the first GET")
        check_equal(client.request("GET", "/again").status, 200,
                    "race: a GET whose pooled connection the backend closes unanswered is sent again")
    check_equal(backend.connections, 2, "race: the GET went again on a new connection")
    with Client(front) as client:
        check_equal(client.request("POST", "/order").status, 502,
                    "race: a bodiless POST on a pooled connection closed unanswered gets 502")
    with backend.lock:
        posts = [request for _, request in backend.requests if request.start_line.startswith("POST")]
    check_equal(len(posts), 1, "race: the backend saw the POST once (a non-idempotent request is not retried)")
    check_equal(get(front, "/after").status, 200, "race: the next GET is answered")
    check("marked down" not in proxyd.stderr_text(), "race: the peer was not marked down for the race",
          proxyd.stderr_tail())
    proxyd.stop()


def main():
    folder = workdir("upstream_keepalive")
    surplus_kept(folder)
    surplus_off(folder)
    keepalive_off(folder)
    reuse_race(folder)


if __name__ == "__main__":
    run_test(main)
