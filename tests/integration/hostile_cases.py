"""Hostile and malformed HTTP/1.1 requests, each with the answer a strict proxy owes it.

Shared by test_hostile_input.py (which asserts proxyd's answers) and measure_hostile.py (which
prints the table of docs/hostile-input.md for any server, nginx included). Each case is
(name, request bytes, expected status, head_valid): head_valid marks the cases whose head is
well-formed, so a streaming proxy has passed the head on before the body turns out bad. A case
expecting a 2xx looks hostile but is valid HTTP/1.1: it must be forwarded and its connection kept.
"""

import socket

H = b"Host: example.test\r\n"

CASES = [
    ("Content-Length with Transfer-Encoding",
     b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, False),
    ("two different Content-Length",
     b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, False),
    ("Content-Length list \"3, 4\"",
     b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 4\r\n\r\nabcd", 400, False),
    ("Transfer-Encoding: gzip (chunked not final)",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabc", 400, False),
    ("Transfer-Encoding: chunked, gzip",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, False),
    ("Transfer-Encoding: gzip, chunked (unknown coding)",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, False),
    ("Transfer-Encoding: chunked twice",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, False),
    ("Transfer-Encoding: xchunked",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400, False),
    ("Transfer-Encoding in HTTP/1.0",
     b"POST / HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, False),
    ("chunk size not hex",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, True),
    ("chunk size overflowing 64 bits",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n", 400, True),
    ("chunk size with a space",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", 400, True),
    ("chunk data longer than its size",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", 400, True),
    ("chunk extension of 8 KiB",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3;ext=" + b"e" * 8192 + b"\r\nabc\r\n0\r\n\r\n",
     400, True),
    ("obs-fold",
     b"GET / HTTP/1.1\r\n" + H + b"X-Folded: one\r\n two\r\n\r\n", 400, False),
    ("space before the colon",
     b"GET / HTTP/1.1\r\n" + H + b"X-Space : 1\r\n\r\n", 400, False),
    ("NUL in a header value",
     b"GET / HTTP/1.1\r\n" + H + b"X-Nul: a\x00b\r\n\r\n", 400, False),
    ("bare CR in a header value",
     b"GET / HTTP/1.1\r\n" + H + b"X-CR: a\rb\r\n\r\n", 400, False),
    ("control byte 0x01 in a header value",
     b"GET / HTTP/1.1\r\n" + H + b"X-Ctl: a\x01b\r\n\r\n", 400, False),
    ("bare LF line endings",
     b"GET / HTTP/1.1\n" + b"Host: example.test\n\n", 400, False),
    ("bare LF ending only the head",
     b"GET / HTTP/1.1\r\n" + H + b"\n", 400, False),
    ("invalid method token",
     b"G(T / HTTP/1.1\r\n" + H + b"\r\n", 400, False),
    # RFC 9110 §9.1: a method is any token, and a proxy forwards one it does not know.
    ("extension method FROB",
     b"FROB / HTTP/1.1\r\n" + H + b"\r\n", 200, True),
    # Longer than any registered method (17 bytes); proxyd bounds what it holds back.
    ("method of 65 letters",
     b"M" * 65 + b" / HTTP/1.1\r\n" + H + b"\r\n", 501, False),
    ("two spaces after the method",
     b"GET  / HTTP/1.1\r\n" + H + b"\r\n", 400, False),
    ("tab in the target",
     b"GET /a\tb HTTP/1.1\r\n" + H + b"\r\n", 400, False),
    # RFC 9112 §3.2: a request target has no fragment. Passed on, the path is one thing to
    # proxyd's routes and filters and another to an origin that drops the fragment (HAProxy's
    # CVE-2023-45539: "index.html#.png" matched a path_end rule for images).
    ("fragment in the target",
     b"GET /index.html#.png HTTP/1.1\r\n" + H + b"\r\n", 400, False),
    ("malformed version HTTP/1.10",
     b"GET / HTTP/1.10\r\n" + H + b"\r\n", 400, False),
    ("malformed version http/1.1",
     b"GET / http/1.1\r\n" + H + b"\r\n", 400, False),
    ("no version (HTTP/0.9 form)",
     b"GET /\r\n" + H + b"\r\n", 400, False),
    ("version HTTP/2.0",
     b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505, False),
    # Not hostile: RFC 9112 §2.3 has a recipient process HTTP/1.x with x above 1 as the highest minor
    # version it implements, so HTTP/1.2 is served as HTTP/1.1 (forwarded, connection kept open);
    # refusing it with 505 was wrong. Only another major version (above) earns a 505.
    ("version HTTP/1.2",
     b"GET / HTTP/1.2\r\n" + H + b"\r\n", 200, True),
    ("version HTTP/3.0",
     b"GET / HTTP/3.0\r\n" + H + b"\r\n", 505, False),
    ("HTTP/1.1 without Host",
     b"GET / HTTP/1.1\r\nX-No-Host: 1\r\n\r\n", 400, False),
    ("HTTP/1.1 with two Host",
     b"GET / HTTP/1.1\r\n" + H + b"Host: other.test\r\n\r\n", 400, False),
    ("Host with a userinfo '@'",
     b"GET / HTTP/1.1\r\nHost: user@example.test\r\n\r\n", 400, False),
    ("Host with a space inside",
     b"GET / HTTP/1.1\r\nHost: exa mple.test\r\n\r\n", 400, False),
]


def status_of(port, data, timeout=5.0):
    """Sends data on a fresh connection; returns (status or None, closed_after).

    status is the first response's status code (None when the connection closed or stayed
    silent without one); closed_after says the server closed the connection within 2 s of
    answering, without waiting for the client."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                piece = sock.recv(65536)
                if not piece:
                    break
                buf += piece
        except (socket.timeout, ConnectionResetError):
            pass
        status = None
        if buf.startswith(b"HTTP/1.") and len(buf) >= 12:
            try:
                status = int(buf[9:12])
            except ValueError:
                status = None
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or b"0")
        closed = False
        sock.settimeout(2.0)
        try:
            while True:
                piece = sock.recv(65536)
                if not piece:
                    closed = True
                    break
                rest += piece
                if len(rest) > length + 65536:
                    break
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
        return status, closed
    finally:
        sock.close()
