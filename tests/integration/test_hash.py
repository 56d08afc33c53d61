#!/usr/bin/env python3
"""The hash balancer (consistent hashing) in front of three backends, with two workers:

- The same X-User value reaches the same backend every time, whichever worker takes it; different
  values spread over all three.
- A killed backend's users move to the other two (each request still answered 200, no reset), and
  every other user stays where it was.
- With bounded_load, one hot key's concurrent slow requests spill over to other backends instead of
  queueing on its own; once they are done the key is back on its own backend.
- Sticky sessions on a cookie (key = "cookie:session") survive a reload: the ring is built from the
  peer list, so the new generation sends every session where the old one did.
"""

import os
import signal
import threading

from proxyd_harness import (Backend, Proxyd, check, check_equal, config_head, free_ports, get, listener, note,
                            response_bytes, run_test, upstream, wait_for, wait_for_log, workdir, write_file)

USERS = ["user-%d" % i for i in range(40)]
SLOW_SECONDS = 0.5
CONCURRENT = 6
SESSIONS = ["s%08x" % (i * 2654435761 % 2**32) for i in range(30)]


def backend(name):
    def handler(request, conn_id):
        pieces = [response_bytes(200, name.encode(), [("Content-Type", "text/plain")])]
        if request.target.startswith("/slow"):
            pieces.insert(0, SLOW_SECONDS)
        return pieces, False
    return Backend(handler, tag=name)


def where(port, headers):
    response = get(port, "/", headers)
    check_equal(response.status, 200, "status with %s" % headers)
    return response.body.decode()


def placement(port, users):
    return {user: where(port, [("X-User", user)]) for user in users}


def hot_key(port):
    """CONCURRENT slow requests at once, all with one X-User, through a bounded_load upstream."""
    owner = where(port, [("X-User", "hot")])
    got, errors = [], []

    def one():
        try:
            response = get(port, "/slow", [("X-User", "hot")])
            got.append((response.status, response.body.decode()))
        except Exception as e:  # a reset or early close is a failure too
            errors.append(repr(e))
    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    check_equal(errors, [], "errors among the concurrent hot-key requests")
    check(all(status == 200 for status, _ in got) and len(got) == CONCURRENT, "every hot-key request answered 200",
          got)
    spread = {name: [b for _, b in got].count(name) for _, name in got}
    note("%d concurrent requests of one key (owner %s) reached %s" % (CONCURRENT, owner, spread))
    check(len(spread) > 1, "the hot key spilled over to more than its own backend", spread)
    # A client can read its answer a moment before the worker ends the attempt (attempt_done), so the
    # count of the last ones may still stand for the first request after.
    wait_for("the key back on its own backend once idle", lambda: where(port, [("X-User", "hot")]) == owner,
             timeout=5, poll=0.05)


def main():
    folder = workdir("hash")
    backends = {name: backend(name) for name in ("a", "b", "c")}
    ports = [backends[n].port for n in ("a", "b", "c")]
    by_user, by_cookie, hot = free_ports(3)
    text = (config_head(workers=2, plugins=None)
            + upstream("users", ports, 'balancer = { plugin = "hash", key = "header:X-User" }\n'
                       'max_fails = 1\nfail_timeout = "30s"\nconnect_timeout = "2s"\n')
            + upstream("sessions", ports, 'balancer = { plugin = "hash", key = "cookie:session", '
                       'bounded_load = 1.25 }\n')
            + upstream("hot", ports, 'balancer = { plugin = "hash", key = "header:X-User", bounded_load = 1.25 }\n')
            + listener("users", by_user, "upstream", "users")
            + listener("hot", hot, "upstream", "hot")
            + listener("sessions", by_cookie, "upstream", "sessions"))
    path = write_file(os.path.join(folder, "hash.toml"), text)
    proxyd = Proxyd(path, folder, tag="hash").start([by_user, by_cookie, hot])
    hot_key(hot)

    first = placement(by_user, USERS)
    for _ in range(3):  # fresh connections each time: the kernel spreads them over both workers
        check_equal(placement(by_user, USERS), first, "each user on the same backend as before")
    counts = {name: sorted(first.values()).count(name) for name in backends}
    note("%d users over the backends: %s" % (len(USERS), counts))
    check(all(counts[name] > 0 for name in backends), "different users spread over all three backends", counts)

    # Kill the backend with the most users; they must move, and only they.
    victim = max(counts, key=counts.get)
    backends[victim].stop()
    after = placement(by_user, USERS)
    moved = {user: after[user] for user in USERS if first[user] == victim}
    stayed_put = all(after[user] == first[user] for user in USERS if first[user] != victim)
    note("backend %s killed: its %d users went to %s" % (
        victim, len(moved), {n: list(moved.values()).count(n) for n in backends if n != victim}))
    check(all(b != victim for b in moved.values()), "the killed backend's users answered elsewhere", moved)
    check(stayed_put, "the other users stayed where they were", after)
    check_equal(placement(by_user, USERS), after, "the new placement holds on the next requests")

    # Sticky sessions over a reload, with one backend dead: its sessions' requests are retried on the
    # next peer of the ring, the same one before and after the reload.
    live = [n for n in backends if n != victim]
    sticky = {s: where(by_cookie, [("Cookie", "theme=dark; session=" + s)]) for s in SESSIONS}
    check(all(b in live for b in sticky.values()), "sessions answered by live backends", sticky)
    check(len(set(sticky.values())) == 2, "sessions spread over both live backends", sticky)
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration", timeout=10)
    again = {s: where(by_cookie, [("Cookie", "session=" + s)]) for s in SESSIONS}
    check_equal(again, sticky, "each session on the same backend after a reload")
    note("%d sessions kept their backend across a reload" % len(SESSIONS))
    check_equal(proxyd.stop(), 0, "proxyd's exit code")


if __name__ == "__main__":
    run_test(main)
