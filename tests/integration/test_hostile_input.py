#!/usr/bin/env python3
"""Hostile and malformed input over raw sockets (RFC 9112 framing, request smuggling's raw material).

Requests: every case of hostile_cases.CASES is answered with its status (400, 501 or 505) and the
connection is closed, and a scripted backend receives nothing: no connection at all when the head
is bad, and never a complete request when only the body is (the head was streamed; the upstream
connection is cut mid-message). The cases that only look hostile (HTTP/1.2, which RFC 9112 §2.3
has served as HTTP/1.1) are answered 200, forwarded once as HTTP/1.1, and keep their connection.
A well-formed request afterwards still goes through, and `limits.allow_bare_lf = true` in a second
proxyd accepts and forwards a bare-LF head.

Responses: a backend's ambiguous or malformed response head (Content-Length with
Transfer-Encoding, two Content-Length, whitespace before a colon, NUL, garbage status line) is a
502 to the client, and proxyd closes that upstream connection; a bad chunk after the head went out
cuts the client connection so the body never looks complete."""

import os
import socket
import threading
import time

from hostile_cases import CASES, status_of
from proxyd_harness import (Backend, Client, Proxyd, Reader, check, check_equal, config_head, free_ports, listener,
                            note, run_test, upstream, workdir, write_file)


def settle(backend, quiet=0.3, limit=5.0):
    """Waits until the backend has accepted no new connection for `quiet` seconds, so that a
    connection a previous case opened (its accept may lag under load) is not counted against the
    next case."""
    deadline = time.monotonic() + limit
    seen = backend.connections
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if backend.connections != seen:
            seen, quiet_since = backend.connections, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return


def check_requests(port, backend):
    for name, data, expected, head_valid in CASES:
        settle(backend)
        connections_before = backend.connections
        requests_before = len(backend.requests)
        status, closed = status_of(port, data)
        if expected < 400:
            # Valid after all (HTTP/1.2 is served as HTTP/1.1, RFC 9112 §2.3): forwarded as an
            # HTTP/1.1 request, and the connection stays open for the next one.
            check(status == expected and not closed, "%s: %d, connection kept open" % (name, expected),
                  "got status %r, closed %r" % (status, closed))
            settle(backend)
            forwarded = [r for _, r in backend.requests[requests_before:]]
            check(len(forwarded) == 1 and forwarded[0].version == "HTTP/1.1",
                  "%s: forwarded once, as HTTP/1.1" % name, "backend saw %r" % [r.start_line for r in forwarded])
            continue
        check(status == expected and closed, "%s: %d and close" % (name, expected),
              "got status %r, closed %r" % (status, closed))
        settle(backend)
        if head_valid:
            check(len(backend.requests) == requests_before, "%s: the backend saw no complete request" % name)
        else:
            check(backend.connections == connections_before and len(backend.requests) == requests_before,
                  "%s: nothing reached the backend" % name)


BAD_RESPONSES = {
    "/cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "/cl-twice": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "/space-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
    "/space-colon-other": b"HTTP/1.1 200 OK\r\nX-Other : b\r\nContent-Length: 2\r\n\r\nok",
    "/bare-cr": b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok",
    "/control": b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok",
    "/bare-lf": b"HTTP/1.1 200 OK\nX-A: b\nContent-Length: 2\n\nok",
    "/nul": b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 2\r\n\r\nok",
    "/garbage": b"HELLO I AM NOT HTTP\r\n\r\n",
    "/status": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
}


class BadBackend:
    """Reads one request head per connection, answers what its path asks for, and records whether
    proxyd then closed the connection (EOF within 3 s)."""

    def __init__(self):
        self.closed = {}
        self.lock = threading.Lock()
        self.backend = Backend(raw=self.serve, tag="bad")
        self.port = self.backend.port

    def serve(self, conn, conn_id):
        reader = Reader(conn)
        request = reader.read_request()
        path = request.target
        if path == "/bad-chunk":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
        elif path == "/bad-chunk-end":
            # llhttp 8.1 alone reads "XY" as the CRLF and this as a complete body.
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n")
        else:
            conn.sendall(BAD_RESPONSES[path])
        conn.settimeout(3)
        try:
            closed = conn.recv(1) == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
        with self.lock:
            self.closed[path] = closed


def check_responses(port, bad):
    for path in BAD_RESPONSES:
        with Client(port) as client:
            client.send(b"GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n" % path.encode())
            response = client.read_response()
            check_equal(response.status, 502, "backend answer %s: status" % path)
        for _ in range(40):
            if path in bad.closed:
                break
            threading.Event().wait(0.1)
        check(bad.closed.get(path) is True, "backend answer %s: proxyd closed the upstream connection" % path)
    # A bad chunk after the head went out: the client sees the head, then the connection ends
    # before the chunked body does, so the truncation is visible.
    for path in ("/bad-chunk", "/bad-chunk-end"):
        with Client(port) as client:
            client.send(b"GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n" % path.encode())
            start, headers = client.reader.read_head()
            check(start.startswith("HTTP/1.1 200"), "%s: the head was relayed (%s)" % (path, start))
            try:
                client.reader.read_chunked()
                complete = True
            except Exception:
                complete = False
            check(not complete, "%s: the client never sees a complete body" % path)


def main():
    folder = workdir("hostile")
    backend = Backend(tag="echo")
    bad = BadBackend()
    strict_port, lenient_port, bad_port = free_ports(3)
    head = config_head(plugins=("round_robin",))

    def write_config(name, port, extra_limits=""):
        text = head + "[limits]\nheader_timeout = \"5s\"\n" + extra_limits + "\n"
        text += upstream("echo", [backend.port], "max_tries = 1\n")
        text += upstream("bad", [bad.port], "max_tries = 1\n")
        text += listener("front", port, "upstream", "echo")
        if name == "strict":
            text += listener("bad-front", bad_port, "upstream", "bad")
        return write_file(os.path.join(folder, name + ".toml"), text)

    strict = Proxyd(write_config("strict", strict_port), folder, tag="strict").start([strict_port, bad_port])
    check_requests(strict_port, backend)

    valid_cases = len([case for case in CASES if case[2] < 400])  # forwarded by check_requests
    with Client(strict_port) as client:
        response = client.request("GET", "/after", headers=[("X-Check", "1")])
        check_equal(response.status, 200, "a well-formed request afterwards is forwarded")
    check_equal(len(backend.requests), valid_cases + 1,
                "the backend saw that request and the %d valid case(s), nothing else" % valid_cases)

    check_responses(bad_port, bad)

    lenient = Proxyd(write_config("lenient", lenient_port, "allow_bare_lf = true\n"), folder,
                     tag="lenient").start([lenient_port])
    status, _ = status_of(lenient_port, b"GET /lf HTTP/1.1\nHost: example.test\nConnection: close\n\n")
    check_equal(status, 200, "allow_bare_lf = true: a bare-LF head is accepted")
    check(any(r.target == "/lf" for _, r in backend.requests), "allow_bare_lf = true: and forwarded")
    status, _ = status_of(lenient_port, b"GET / HTTP/1.1\r\nHost: example.test\r\nX: a\x00b\r\n\r\n")
    check_equal(status, 400, "allow_bare_lf = true still refuses a NUL")
    note("strict pid %d, lenient pid %d" % (strict.proc.pid, lenient.proc.pid))


if __name__ == "__main__":
    run_test(main)
