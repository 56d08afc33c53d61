#!/usr/bin/env python3
"""The auth filter's auth_request mode in the real proxyd (ABI 1.4 subrequests): an auth service's
2xx lets the request through with the listed answer fields copied (a client's forged copy never
passes), 401/403 are the client's answer (with the challenge), anything else or no answer is 500;
the subrequest carries only the listed client fields. Clients that reset while their request waits
on a slow answer, GETs and POSTs whose bodies filled the held-bytes bound, never reach the
application. A POST subrequest whose pooled connection the service closes unanswered is not sent
again (RFC 9110 §9.2.2): 500. A reload and a stop while subrequests run (the ASan build checks for
use after free)."""

import json
import os
import re
import signal
import socket
import struct
import threading
import time

from proxyd_harness import (HOST, Backend, Client, ConnectionClosed, Proxyd, build_request, check, check_equal, config_head,
                            free_ports, response_bytes, run_test, upstream, wait_for, workdir, write_file)

SLOW = 1.0  # seconds the auth service takes for "Bearer slow"


def auth_handler(request, conn_id):
    token = request.header("Authorization") or ""
    if token == "Bearer good":
        return [response_bytes(200, b"", [("X-User", "alice"), ("X-Other", "not copied")])], False
    if token == "Bearer big":
        return [response_bytes(200, b"x" * 10000, [("X-User", "bob")])], False
    if token == "Bearer slow":
        return [SLOW, response_bytes(204, b"", [("X-User", "slowpoke")])], False
    if token == "Bearer hang":
        return [5, response_bytes(200)], True
    if token == "Bearer forbidden":
        return [response_bytes(403, b"no\n")], False
    if token == "Bearer odd":
        return [response_bytes(302, b"", [("Location", "/login")], reason="Found")], False
    return [response_bytes(401, b"who?\n", [("WWW-Authenticate", 'Bearer realm="sso"')], reason="Unauthorized")], False


def app_requests(app, target):
    return [r for _, r in app.requests if r.target == target]


def answers(front, auth, app):
    with Client(front) as client:
        good = client.request("GET", "/private?q=1", [("Authorization", "Bearer good"), ("Cookie", "sid=1"),
                                                      ("X-User", "forged"), ("X-Custom", "stays home")])
        check_equal(good.status, 200, "2xx from the service: through")
        seen = json.loads(good.body)["headers"]
        users = [v for n, v in seen if n.lower() == "x-user"]
        check_equal(users, ["alice"], "the service's X-User replaces the client's forged one")
        check(not any(n.lower() == "x-other" for n, _ in seen), "a field not listed in copy_headers is not copied")
        check(any(n.lower() == "authorization" for n, _ in seen), "Authorization goes on (strip_authorization off)")

        _, ask = auth.requests[-1]
        check_equal((ask.method, ask.target), ("GET", "/auth"), "the subrequest's line")
        check_equal(ask.header("X-Original-URI"), "/private?q=1", "X-Original-URI")
        check_equal(ask.header("X-Original-Method"), "GET", "X-Original-Method")
        check_equal(ask.header("Cookie"), "sid=1", "a listed field is forwarded")
        check(not ask.has("X-Custom") and not ask.has("X-User"), "unlisted client fields are not forwarded")
        check(ask.has("X-Request-ID") and ask.has("Host"), "Host and X-Request-ID are added")

        none = client.request("GET", "/private", [("X-User", "forged")])
        check_equal(none.status, 401, "401 from the service: 401")
        check_equal(none.all("WWW-Authenticate"), ['Bearer realm="sso"'], "with the service's challenge")
        check_equal(client.request("GET", "/private", [("Authorization", "Bearer forbidden")]).status, 403,
                    "403 from the service: 403")
        check_equal(client.request("GET", "/private", [("Authorization", "Bearer odd")]).status, 500,
                    "a 302 from the service: 500")
        big = client.request("GET", "/big", [("Authorization", "Bearer big")])
        check_equal(big.status, 200, "a 2xx with a body over 4 KB still lets the request through")
        check_equal([v for n, v in json.loads(big.body)["headers"] if n.lower() == "x-user"], ["bob"],
                    "and its fields are copied")
        started = time.monotonic()
        check_equal(client.request("GET", "/private", [("Authorization", "Bearer hang")]).status, 500,
                    "a service slower than read_timeout: 500")
        check(time.monotonic() - started < 3, "after read_timeout (1.5 s), not the service's 5 s")
    check_equal(len(app_requests(app, "/private")), 0, "no refused request reached the application")


def down_service(down_front):
    check_equal(Client(down_front).request("GET", "/x", [("Authorization", "Bearer good")]).status, 500,
                "a service that refuses connections: 500")


RACER_SERVED = {}  # requests read per connection


def racer_handler(request, conn_id):
    """Answers the first request on each connection; reads the second and closes unanswered."""
    served = RACER_SERVED
    served[conn_id] = served.get(conn_id, 0) + 1
    if served[conn_id] == 2:
        raise ConnectionClosed("closing a kept-alive connection as it is reused")
    return [response_bytes(204)], False


def post_subrequest_race(race_front, racer):
    headers = [("Authorization", "Bearer good")]
    check_equal(Client(race_front).request("GET", "/x", headers).status, 200, "race: a POST subrequest passes")
    check_equal(Client(race_front).request("GET", "/y", headers).status, 500,
                "race: a POST subrequest on a pooled connection closed unanswered is not retried: 500")
    with racer.lock:
        asks = [request.method for _, request in racer.requests]
    check_equal(asks, ["POST", "POST"], "race: the service saw each POST subrequest once")


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the client is gone, not half-closed


class Sink:
    """An application that notes every request line it receives, complete or not, and answers
    /warm, so that proxyd keeps a pooled connection to it (a forwarded request then goes out at
    once)."""

    def __init__(self):
        self.lines = []
        self.backend = Backend(raw=self.serve, tag="sink")

    def serve(self, conn, conn_id):
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            self.lines += [m.decode() for m in re.findall(rb"(?:GET|POST) (/[^ ]*) HTTP/1.1", chunk)]
            if b"/warm" in chunk:
                conn.sendall(response_bytes(200, b"ok"))


def resetting_clients(resets, front, sink):
    """Clients whose request waits on the slow answer reset: none of them reaches the application,
    not even in part. The POSTs' bodies are past the bytes proxyd holds for a waiting request, so
    it stops reading them: their resets must be noticed all the same."""
    body = b"b" * (400 * 1024)
    check_equal(Client(resets).request("GET", "/warm", [("Authorization", "Bearer good")]).status, 200,
                "a pooled connection to the application")

    def post_and_reset(index):
        sock = socket.create_connection((HOST, resets), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        try:
            sock.sendall(build_request("POST", "/gone-post-%d" % index, [("Authorization", "Bearer slow")], body=body))
        except OSError:
            pass  # the buffers filled: proxyd stopped reading, as it should
        reset(sock)

    posts = [threading.Thread(target=post_and_reset, args=(i,)) for i in range(3)]
    for thread in posts:
        thread.start()
    for index in range(5):
        sock = socket.create_connection((HOST, resets), timeout=5)
        sock.sendall(build_request("GET", "/gone-get-%d" % index, [("Authorization", "Bearer slow")]))
        time.sleep(0.05)
        reset(sock)
    for thread in posts:
        thread.join(10)
    time.sleep(SLOW + 0.5)  # past the service's answer: a request still held would be forwarded now
    gone = [line for line in sink.lines if line.startswith("/gone")]
    check_equal(gone, [], "requests of clients that reset while waiting never reach the application")
    with Client(front) as client:
        check_equal(client.request("GET", "/after", [("Authorization", "Bearer good")]).status, 200,
                    "proxyd serves on")


def reload_and_stop(proxyd, front):
    waiting = Client(front)
    waiting.send(build_request("GET", "/across-reload", [("Authorization", "Bearer slow")]))
    time.sleep(0.2)
    proxyd.send_signal(signal.SIGHUP)
    response = waiting.read_response()
    check_equal(response.status, 200, "a request waiting on a subrequest finishes across a reload")
    waiting.close()
    wait_for("the new generation", lambda: Client(front).request(
        "GET", "/after-reload", [("Authorization", "Bearer good")]).status == 200, timeout=5)

    cut = Client(front)
    cut.send(build_request("GET", "/cut", [("Authorization", "Bearer hang")]))
    time.sleep(0.2)
    check_equal(proxyd.stop(), 0, "proxyd stops with a subrequest running")
    check(cut.closed_by_peer(within=3), "the waiting request's connection was cut")
    cut.close()


def main():
    folder = workdir("filter_auth_request")
    auth = Backend(handler=auth_handler, tag="auth")
    app = Backend()
    sink = Sink()
    racer = Backend(handler=racer_handler, tag="racer")
    front, down_front, resets, dead, race_front = free_ports(5)
    config = config_head(plugins=None, workers=1) + \
        upstream("authsvc", [auth.port], 'read_timeout = "1500ms"\n') + \
        upstream("nobody", [dead]) + upstream("app", [app.port]) + \
        upstream("sink", [sink.backend.port]) + upstream("racer", [racer.port]) + """
[limits]
shutdown_timeout = "1s"
drain_timeout = "1s"

[filters.sso]
plugin = "auth"
auth_request = { upstream = "authsvc", path = "/auth", forward_headers = ["Authorization", "Cookie"], copy_headers = ["X-User"] }

[filters.race]
plugin = "auth"
auth_request = { upstream = "racer", path = "/auth", method = "POST" }

[filters.down]
plugin = "auth"
auth_request = { upstream = "nobody", path = "/auth" }

[[listeners]]
name = "front"
listen = "127.0.0.1:%d"
upstream = "app"
filters = ["sso"]

[[listeners]]
name = "down"
listen = "127.0.0.1:%d"
upstream = "app"
filters = ["down"]

[[listeners]]
name = "resets"
listen = "127.0.0.1:%d"
upstream = "sink"
filters = ["sso"]

[[listeners]]
name = "race"
listen = "127.0.0.1:%d"
upstream = "app"
filters = ["race"]
""" % (front, down_front, resets, race_front)
    path = write_file(os.path.join(folder, "auth_request.toml"), config)
    proxyd = Proxyd(path, folder).start([front, down_front, resets, race_front])
    answers(front, auth, app)
    down_service(down_front)
    post_subrequest_race(race_front, racer)
    resetting_clients(resets, front, sink)
    check(proxyd.alive(), "proxyd still running")
    reload_and_stop(proxyd, front)


if __name__ == "__main__":
    run_test(main)
