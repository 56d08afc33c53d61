#!/usr/bin/env python3
"""The auth filter in the real proxyd: 401 with the challenges; Basic against an htpasswd file
(bcrypt, checked on the thread pool: the worker keeps answering others meanwhile); the Authorization
header stripped before the backend, its user still in the access log; a Bearer token; a client leaving
while its password is checked."""

import base64
import os
import socket
import struct
import time

from proxyd_harness import (HOST, Backend, Client, Proxyd, access_log_entries, build_request, check, check_equal,
                            config_head, free_ports, note, run_test, upstream, wait_for, workdir, write_file)

# htpasswd -nbB -C 4 alice wonderland; htpasswd -nbB -C 12 slow tortoise (a quarter second or so)
USERS = ("alice:$2y$04$uzhPrPXXWm0IhNchC5.2d.xUsjjis4vySEPaiLnwcUOqeDj8LC2de\n"
         "slow:$2y$12$FT3jZHFyZgQfOsAhglSM7eKSefhVqS.DxdYRxW2fTO2ts12J.I.JG\n")
TOKEN = "integration-token-0123456789"


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode())


def main():
    folder = workdir("filter_auth")
    backend = Backend()
    (front,) = free_ports(1)
    write_file(os.path.join(folder, "users.htpasswd"), USERS)
    config = config_head(plugins=None, workers=1) + upstream("echo", [backend.port]) + """
[filters.staff]
plugin = "auth"
realm = "staff area"
htpasswd = "users.htpasswd"
tokens = ["%s"]

[[listeners]]
name = "front"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["staff"]
""" % (TOKEN, front)
    path = write_file(os.path.join(folder, "auth.toml"), config)
    proxyd = Proxyd(path, folder).start([front])

    with Client(front) as client:
        none = client.request("GET", "/private")
        check_equal(none.status, 401, "no credentials: 401")
        check_equal(none.all("WWW-Authenticate"),
                    ['Basic realm="staff area", charset="UTF-8"', 'Bearer realm="staff area"'],
                    "a challenge per scheme")
        check_equal(client.request("GET", "/private", [basic("alice", "nope")]).status, 401, "wrong password: 401")
        good = client.request("GET", "/private", [basic("alice", "wonderland")])
        check_equal(good.status, 200, "right password: through")
        again = client.request("GET", "/private", [basic("alice", "wonderland")])
        check_equal(again.status, 200, "again (from the worker's cache)")
        token = client.request("GET", "/private", [("Authorization", "Bearer " + TOKEN)])
        check_equal(token.status, 200, "bearer token: through")
        check_equal(client.request("GET", "/private", [("Authorization", "Bearer " + TOKEN[:-1])]).status, 401,
                    "a token one character short: 401")
    for _, request in backend.requests:
        check(not request.has("Authorization"), "the backend never sees Authorization", request.header("Authorization"))
    check_equal(len(backend.requests), 3, "only the authenticated requests reached the backend")
    # The access log names the Basic user the client sent (nginx's $remote_user), the stripped
    # header notwithstanding; a 401 for a wrong password too, as nginx's; "-" for none or a token.
    wait_for("the access-log lines of the six requests",
             lambda: len([e for e in access_log_entries(proxyd.stderr_text()) if "/private" in e["request"]]) == 6)
    users = [(e["user"], e["status"]) for e in access_log_entries(proxyd.stderr_text()) if "/private" in e["request"]]
    check_equal(users, [("-", "401"), ("alice", "401"), ("alice", "200"), ("alice", "200"), ("-", "200"),
                        ("-", "401")], "the access log's user field, request by request")

    # A slow bcrypt check runs on the thread pool: meanwhile the one worker answers another client.
    slow = Client(front)
    slow.send(build_request("GET", "/slow", [basic("slow", "tortoise")]))
    time.sleep(0.02)
    started = time.monotonic()
    with Client(front) as other:
        check_equal(other.request("GET", "/quick").status, 401, "another client is answered meanwhile")
    quick = time.monotonic() - started
    response = slow.read_response()
    slow_total = time.monotonic() - started
    slow.close()
    check_equal(response.status, 200, "the slow check lets its request through")
    check(quick < slow_total, "the other client's answer came before the slow check ended",
          "quick %.3fs, slow %.3fs" % (quick, slow_total))

    # A client leaving while its password is checked: nothing is answered, nothing breaks.
    for _ in range(3):
        sock = socket.create_connection((HOST, front), timeout=5)
        sock.sendall(build_request("GET", "/gone", [basic("slow", "tortoise")]))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the client is gone, not half-closed
    time.sleep(0.8)
    with Client(front) as client:
        check_equal(client.request("GET", "/after", [basic("alice", "wonderland")]).status, 200,
                    "proxyd serves on after clients left mid-check")
    # Whether a request whose client left is still forwarded is the core's to decide (it must
    # notice the reset while the filter waits); noted, not asserted here.
    note("requests of clients that left, forwarded anyway: %d" % [r.target for _, r in backend.requests].count("/gone"))

    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
