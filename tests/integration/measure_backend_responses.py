#!/usr/bin/env python3
"""Measures what a client of proxyd and of nginx gets when the backend misbehaves (a bad
response head, a body that ends early, silence), and a few client-side behaviours (Upgrade,
Expect, a stalled request body), and prints the Markdown table of docs/hostile-input.md's
"Responses from a backend" part. Not a test: it reports, it asserts nothing.

    PROXYD_BIN=<build>/proxyd python3 tests/integration/measure_backend_responses.py

Both proxies run in front of one scripted backend that answers /case/NAME with that case's bytes
and then waits to see whether the proxy closes its connection ("upstream closed"). Timeouts are
set to 1 s on both sides: proxyd read_timeout and limits.body_timeout, nginx proxy_read_timeout and
client_body_timeout.
"""

import os
import socket
import threading
import time

from measure_hostile import start_nginx
from proxyd_harness import (Backend, Proxyd, Reader, config_head, free_ports, listener, run_test, upstream, workdir,
                            write_file)

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

# name: the backend's bytes (after it read the request head); None means it never answers.
RESPONSES = [
    ("Content-Length with Transfer-Encoding",
     b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("two different Content-Length", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    ("Transfer-Encoding: gzip, chunked (a coding before chunked)",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("Transfer-Encoding: chunked, gzip (chunked not final)",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nhello"),
    ("Transfer-Encoding: chunked in an HTTP/1.0 response",
     b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("whitespace before the colon of a field llhttp does not interpret",
     b"HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 5\r\n\r\nhello"),
    ("NUL in a header value", b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 5\r\n\r\nhello"),
    ("bare CR in a header value", b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 5\r\n\r\nhello"),
    ("control byte 0x01 in a header value", b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 5\r\n\r\nhello"),
    ("obs-fold", b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 5\r\n\r\nhello"),
    ("bare LF line endings", b"HTTP/1.1 200 OK\nX-A: b\nContent-Length: 5\n\nhello"),
    ("a status line that is not HTTP", b"this is not HTTP at all\r\n\r\n"),
    ("a four-digit status", b"HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello"),
    ("101 to a request that did not ask for an upgrade",
     b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
    ("an invalid chunk after the head was relayed", CHUNKED + b"5\r\nhello\r\nZZ\r\n"),
    ("chunk data followed by `XY` instead of CRLF", CHUNKED + b"5\r\nhelloXY0\r\n\r\n"),
    ("closes after 5 of 100 Content-Length bytes", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello"),
    ("closes after one chunk of a chunked body", CHUNKED + b"5\r\nhello\r\n"),
    # RFC 9112 §6.3: these end at their head whatever they say of a length.
    ("304 with Content-Length: 100 and no body",
     b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 100\r\n\r\n'),
    ("204 with Content-Length: 100 and no body", b"HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n"),
    ("304 with Transfer-Encoding: chunked and no body",
     b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nTransfer-Encoding: chunked\r\n\r\n'),
    ("sends nothing (read timeout 1 s)", None),
    ("stalls after 5 of 100 Content-Length bytes (read timeout 1 s)",
     b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello"),
]
CLOSES = {"closes after 5 of 100 Content-Length bytes", "closes after one chunk of a chunked body"}


class ScriptedBackend:
    def __init__(self):
        self.lock = threading.Lock()
        self.fate = {}   # case name -> "upstream closed" / "upstream kept"
        self.seen = []   # (path, headers) of every request head received
        self.backend = Backend(raw=self.serve, tag="scripted")
        self.port = self.backend.port

    def serve(self, conn, conn_id):
        reader = Reader(conn)
        try:
            start, headers = reader.read_head()
        except Exception:
            return
        path = start.split(" ")[1]
        with self.lock:
            self.seen.append((path, headers))
        fields = {n.lower(): v for n, v in headers}
        if path.startswith("/case/"):
            index = int(path.split("/")[2])
            name, data = RESPONSES[index]
            if data:
                conn.sendall(data)
            if name in CLOSES:
                return
            self.watch(conn, name)
        elif path == "/deny":
            conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            self.watch(conn, "deny")
        elif path.startswith("/ws"):
            if "upgrade" in fields:
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                data = conn.recv(100)  # echo what comes through the tunnel
                conn.sendall(data)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nno ws\r\n")
        else:
            length = int(fields.get("content-length", "0"))
            body = reader.read_exact(length) if length else b""
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    def watch(self, conn, name):
        conn.settimeout(4)
        try:
            fate = "upstream closed" if conn.recv(1) == b"" else "upstream sent more"
        except socket.timeout:
            fate = "upstream kept open"
        except OSError:
            fate = "upstream closed"
        with self.lock:
            self.fate[name] = fate


def exchange(port, data, then=None, wait=3.0, patience=0.5):
    """Sends data; reads until close or `wait` s of silence; optionally sends `then` after the
    first bytes arrive (or after `patience` s of silence). Returns (bytes received, closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    sock.sendall(data)
    buf, closed, sent_then = b"", False, then is None
    sock.settimeout(patience if then else wait)
    while True:
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            if not sent_then:
                sock.sendall(then)
                sent_then = True
                sock.settimeout(wait)
                continue
            break
        except ConnectionResetError:
            closed = True
            break
        if not piece:
            closed = True
            break
        buf += piece
        if not sent_then:
            sock.sendall(then)
            sent_then = True
            sock.settimeout(wait)
    sock.close()
    return buf, closed


def describe(buf, closed):
    if not buf:
        return "no answer, close" if closed else "no answer, kept open"
    # Interim (1xx) heads first, each its own block, then the final head and its body.
    statuses, rest = [], buf
    while rest.startswith(b"HTTP/1.") and b"\r\n\r\n" in rest:
        head, _, after = rest.partition(b"\r\n\r\n")
        statuses.append(head[9:12].decode("latin-1"))
        if not head[9:10] == b"1" or head[9:12] == b"101":
            break
        rest = after
    head, _, body = rest.partition(b"\r\n\r\n")
    text = ", ".join(statuses) if statuses else "%r" % buf[:30]
    fields = {l.split(b":")[0].strip().lower(): l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")[1:]
              if b":" in l}
    if b"content-length" in fields and statuses and statuses[-1] == "200":
        declared = int(fields[b"content-length"])
        if len(body) < declared:
            text += ", cut after %d of %d body bytes" % (len(body), declared)
    elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        text += ", chunked body %s" % ("complete" if body.endswith(b"0\r\n\r\n") else "cut before its end")
    return text + (", close" if closed else ", kept open")


def main():
    folder = workdir("measure-responses")
    backend = ScriptedBackend()
    proxyd_port, nginx_port = free_ports(2)
    config = (config_head(access="off", plugins=("round_robin",)) + "[limits]\nbody_timeout = \"1s\"\n\n"
              + upstream("echo", [backend.port], 'max_tries = 1\nread_timeout = "1s"\n')
              + listener("front", proxyd_port, "upstream", "echo"))
    Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([proxyd_port])
    version = start_nginx(folder, nginx_port, backend.port, extra_http="proxy_read_timeout 1s;\n"
                          "    client_body_timeout 1s;\n", extra_server="""
        location /ws-documented {
            proxy_pass http://echo;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }""")
    version = version.replace("nginx version: ", "")

    rows = []
    for index, (name, _) in enumerate(RESPONSES):
        cells = []
        for port in (proxyd_port, nginx_port):
            buf, closed = exchange(port, b"GET /case/%d HTTP/1.1\r\nHost: t\r\n\r\n" % index)
            time.sleep(0.3 if name not in CLOSES else 0.1)
            deadline = time.monotonic() + 5
            while name not in CLOSES and name not in backend.fate and time.monotonic() < deadline:
                time.sleep(0.05)
            with backend.lock:
                fate = backend.fate.pop(name, None)
            cells.append(describe(buf, closed) + (", " + fate if fate else ""))
        rows.append((name, cells))

    ws = (b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    client_cases = [
        ("Upgrade: websocket to a backend that answers 101 (then a byte each way)", ws, b"x"),
        ("the same, nginx with its documented WebSocket settings", ws.replace(b"/ws ", b"/ws-documented "), b"x"),
        ("Expect: 100-continue, backend answers 401 before the body",
         b"POST /deny HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", None),
        ("Expect: 100-continue, backend sends no 100 (client sends its body after 0.5 s)",
         b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", b"hello"),
        ("Expect: something-else",
         b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello", None),
        ("request body stalls after 5 of 100 bytes (body timeout 1 s)",
         b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhello", None),
    ]
    for name, data, then in client_cases:
        cells = []
        for port in (proxyd_port, nginx_port):
            if "documented" in name and port == proxyd_port:
                cells.append("(same as above)")
                continue
            buf, closed = exchange(port, data, then)
            cells.append(describe(buf, closed))
        rows.append((name, cells))

    print()
    print("| backend answers / client sends | proxyd | %s |" % version)
    print("| --- | --- | --- |")
    for name, (mine, theirs) in rows:
        print("| %s | %s | %s |" % (name, mine, theirs))


if __name__ == "__main__":
    run_test(main)
