#!/usr/bin/env python3
"""Sticky sessions by an inserted cookie (the sticky balancer) in front of three backends, with two
workers:

- A client without the cookie is balanced and gets `Set-Cookie: SRV=<id>; ...` with the options
  asked for; the id is 12 hex digits that do not show the backend's address.
- A client that keeps the cookie (a fresh connection each time, so both workers see it) reaches the
  same backend for 20 requests, and is not sent the cookie again.
- After a reload that also reorders the peers, the cookie still reaches the same backend.
- With its backend killed, the next request is answered 200 by another backend with a new cookie,
  which then holds; an unknown or malformed id is balanced and replaced as well.
"""

import os
import re
import signal

from proxyd_harness import (Backend, Proxyd, check, check_equal, config_head, free_ports, get, listener, note,
                            response_bytes, run_test, upstream, wait_for_log, workdir, write_file)

OPTIONS = 'balancer = { plugin = "sticky", max_age = 3600, samesite = "Lax", secret = "test secret" }\n' \
          'max_fails = 1\nfail_timeout = "30s"\nconnect_timeout = "2s"\n'


def backend(name):
    def handler(request, conn_id):
        return [response_bytes(200, name.encode(), [("Content-Type", "text/plain")])], False
    return Backend(handler, tag=name)


def visit(port, cookie=None):
    """(backend name, the id a Set-Cookie carried or None) for one GET on a fresh connection."""
    response = get(port, "/", [("Cookie", "theme=dark; " + cookie)] if cookie else [])
    check_equal(response.status, 200, "status with cookie %s" % cookie)
    set_cookies = response.all("Set-Cookie")
    check(len(set_cookies) <= 1, "at most one Set-Cookie", repr(set_cookies))
    if not set_cookies:
        return response.body.decode(), None
    match = re.fullmatch(r"SRV=([0-9a-f]{12}); Path=/; Max-Age=3600; HttpOnly; SameSite=Lax", set_cookies[0])
    check(match is not None, "the Set-Cookie names a 12-hex-digit id with the options asked for", set_cookies[0])
    return response.body.decode(), match.group(1)


def config(ports, port):
    return (config_head(workers=2, plugins=None) + upstream("app", ports, OPTIONS) + listener("app", port, "upstream", "app"))


def main():
    folder = workdir("sticky")
    backends = {name: backend(name) for name in ("a", "b", "c")}
    ports = [backends[n].port for n in ("a", "b", "c")]
    port, = free_ports(1)
    path = write_file(os.path.join(folder, "sticky.toml"), config(ports, port))
    proxyd = Proxyd(path, folder, tag="sticky").start([port])

    # New clients: balanced, each told its backend's id.
    first = [visit(port) for _ in range(12)]
    check(all(cookie for _, cookie in first), "every client without the cookie gets one", repr(first))
    ids = {name: cookie for name, cookie in first}
    check(len(ids) >= 2, "new clients spread over more than one backend", repr(first))
    check(all(len({c for n, c in first if n == name}) == 1 for name in ids), "one id per backend", repr(first))
    # A keyed hash: 12 hex digits cannot hold "127.0.0.1:port"; nor do they begin with the address
    # in hex. (A substring test on the digits would fail by chance: a random id holds "127" about
    # once in 400.)
    check(all(re.fullmatch(r"[0-9a-f]{12}", c) and not c.startswith("7f000001") for c in ids.values()),
          "ids do not show the address", repr(ids))
    note("new clients placed as %s" % first)

    # A client that keeps its cookie stays, and is not sent it again.
    home, cookie = first[0]
    stays = [visit(port, "SRV=" + cookie) for _ in range(20)]
    check_equal(stays, [(home, None)] * 20, "20 requests with the cookie: same backend, no new cookie")

    # A reload that reorders the peers: the id comes from the address, not the position.
    write_file(path, config(list(reversed(ports)), port))
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration", timeout=10)
    check_equal([visit(port, "SRV=" + cookie) for _ in range(5)], [(home, None)] * 5,
                "after a reload with the peers reordered: same backend, no new cookie")

    # Unknown and malformed ids are balanced like no cookie, and replaced.
    for bad in ("SRV=000000000000", "SRV=../../etc", 'SRV=""'):
        name, new = visit(port, bad)
        check(new is not None and new == ids.get(name, new), "%s answered with a new cookie for its backend" % bad,
              repr((name, new)))

    # The cookie's backend dies: another answers, with a new cookie that then holds.
    backends[home].stop()
    moved, new_cookie = visit(port, "SRV=" + cookie)
    check(moved != home and new_cookie and new_cookie != cookie, "a killed backend's client moved with a new cookie",
          repr((moved, new_cookie)))
    check_equal([visit(port, "SRV=" + new_cookie) for _ in range(5)], [(moved, None)] * 5,
                "the new cookie holds on its backend")
    note("backend %s killed: its client went to %s with a new cookie" % (home, moved))
    check_equal(proxyd.stop(), 0, "proxyd's exit code")


if __name__ == "__main__":
    run_test(main)
