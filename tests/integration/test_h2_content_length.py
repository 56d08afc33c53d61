#!/usr/bin/env python3
"""An HTTP/2 request whose DATA do not match its content-length is malformed (RFC 9113 §8.1.1): a
stream error PROTOCOL_ERROR, and an intermediary must not forward it as complete. proxyd forwards
the body as it comes, so the declared length's last byte waits for the stream's END_STREAM: a
client that sends exactly the declared bytes, pauses, then sends more never makes the origin see a
complete request. The upstream connection holding the partial request is closed (not pooled), the
stream is reset, another stream on the same connection is served, and the access log has a line.
Shorter than declared (END_STREAM early) ends the same way, and a content-length with END_STREAM
on the head (no DATA at all) is refused before it is routed, with a 400 line in the access log
too. A raw origin records the bytes."""

import os
import socket
import threading
import time

from h2_frames import DATA, END_STREAM, PROTOCOL_ERROR, H2Client, Target, error_name, frame, h2
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Backend, Proxyd, TestSkip, check, check_equal, config_head, free_ports, run_test,
                            upstream, wait_for, workdir, write_file)


class Origin:
    """Each connection's bytes as they came, and whether it ended (EOF or reset); answers 200 to a
    GET at once, and to any other request only once its whole declared body came."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = {}  # conn_id -> bytes
        self.ended = set()
        self.backend = Backend(raw=self.serve, tag="origin")

    def serve(self, conn, conn_id):
        data = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
                with self.lock:
                    self.received[conn_id] = data
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if _ and len(body) >= length:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    data = body[length:]
        except OSError:
            pass
        with self.lock:
            self.ended.add(conn_id)

    def bytes_with(self, marker):
        with self.lock:
            return [(conn_id, data) for conn_id, data in self.received.items() if marker in data]


def body_of(data):
    return data.partition(b"\r\n\r\n")[2]


def upload(client, path, length):
    return client.request(path=path, method="POST", extra=[("content-length", str(length))], end_stream=False)


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed (packaging/build-deps.sh --test)")
    folder = workdir("h2-content-length")
    origin = Origin()
    port, = free_ports(1)
    access_log = os.path.join(folder, "access.log")
    config = (config_head(access=access_log, plugins=("round_robin",))
              + upstream("app", [origin.backend.port])
              + h2_listener("web", port, "upstream", "app"))
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    require_http2(config_path)
    proxyd = Proxyd(config_path, folder, tag="h2-content-length").start([port])
    c = H2Client(Target("127.0.0.1", port))

    # Longer than declared: exactly the 10 declared bytes, a pause, then one more.
    longer = upload(c, "/longer", 10)
    c.send(frame(DATA, 0, longer, b"01234"))
    wait_for("the origin has the head and the first 5 bytes",
             lambda: any(body_of(d) == b"01234" for _, d in origin.bytes_with(b"/longer")))
    c.send(frame(DATA, 0, longer, b"56789"))
    # The first nine bytes go on at once; the tenth must not follow before END_STREAM.
    wait_for("the origin has 9 of the 10 bytes",
             lambda: any(body_of(d) == b"012345678" for _, d in origin.bytes_with(b"/longer")))
    c.settle(0.3)
    (conn_id, data), = origin.bytes_with(b"/longer")
    check_equal(body_of(data), b"012345678", "the last declared byte waits for END_STREAM")
    c.send(frame(DATA, 0, longer, b"X"))
    c.wait(lambda: longer in c.resets, "the stream's reset")
    check_equal(error_name(c.resets[longer]), "PROTOCOL_ERROR", "the reset's code")
    wait_for("the origin's connection with the partial request closed", lambda: conn_id in origin.ended)
    (_, data), = origin.bytes_with(b"/longer")
    check_equal(body_of(data), b"012345678", "the origin never got the 10th byte nor the excess")
    check(longer not in c.heads, "no response to the malformed request")

    # Shorter than declared: END_STREAM after 5 of 10 bytes.
    shorter = upload(c, "/shorter", 10)
    c.send(frame(DATA, 0, shorter, b"01234"))
    wait_for("the origin has the head and 5 bytes",
             lambda: any(body_of(d) == b"01234" for _, d in origin.bytes_with(b"/shorter")))
    c.send(frame(DATA, END_STREAM, shorter, b""))
    c.wait(lambda: shorter in c.resets, "the stream's reset")
    check_equal(error_name(c.resets[shorter]), "PROTOCOL_ERROR", "the reset's code")
    (conn_id, _), = origin.bytes_with(b"/shorter")
    wait_for("the origin's connection with the partial request closed", lambda: conn_id in origin.ended)

    # A content-length that END_STREAM on the head contradicts at once: refused before any routing.
    at_once = c.raw_headers(c.request_headers(path="/at-once", method="POST", extra=[("content-length", "5")]))
    c.wait(lambda: at_once in c.resets, "the stream's reset")
    check_equal(error_name(c.resets[at_once]), "PROTOCOL_ERROR", "content-length 5 and no DATA: the reset's code")
    check(not origin.bytes_with(b"/at-once"), "content-length 5 and no DATA: nothing reached the origin")

    # The declared length exactly, END_STREAM on its last DATA, or in an empty DATA after a pause.
    exact = upload(c, "/exact", 10)
    c.send(frame(DATA, 0, exact, b"01234") + frame(DATA, END_STREAM, exact, b"56789"))
    c.wait(lambda: c.response_done(exact), "the answer to /exact")
    check_equal(c.status(exact), 200, "/exact: a well-formed upload is served")
    paused = upload(c, "/paused", 4)
    c.send(frame(DATA, 0, paused, b"abcd"))
    c.settle(0.2)
    c.send(frame(DATA, END_STREAM, paused, b""))
    c.wait(lambda: c.response_done(paused), "the answer to /paused")
    check_equal(c.status(paused), 200, "/paused: END_STREAM after a pause releases the last byte")
    (_, data), = origin.bytes_with(b"/paused")
    check(data.endswith(b"\r\n\r\nabcd"), "/paused: the origin got the whole body", repr(data[-20:]))

    # The connection serves other streams throughout.
    after = c.request(path="/after")
    c.wait(lambda: c.response_done(after), "the answer to /after")
    check_equal(c.status(after), 200, "a stream after the malformed ones")
    check(not c.closed and c.goaway is None, "the connection stays open")
    c.close()
    proxyd.stop()
    log = open(access_log, encoding="utf-8", errors="replace").read()
    for path in ("/longer", "/shorter", "/at-once"):
        check(('"POST %s HTTP/2.0" 400 ' % path) in log, "the access log has a 400 line for %s" % path, log[-600:])


run_test(main)
