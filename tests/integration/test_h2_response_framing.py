#!/usr/bin/env python3
"""An HTTP/2 stream's response as the backend frames it (the head goes to the stream as fields, the
body bare; nothing is parsed back). Through h2c to an HTTP/1.1 backend:
- Content-Length: the body whole, END_STREAM on its last byte, content-length kept; names
  lower-cased, hop-by-hop fields and those the backend's Connection names dropped;
- chunked, and a body delimited by the backend's close: the decoded payload, no transfer-encoding,
  END_STREAM when it is complete;
- HEAD and 204: the head ends the stream (the HEAD's content-length kept), no DATA;
- a body cut short (the backend closes before its Content-Length): RST_STREAM, never END_STREAM;
- proxyd's own answer (502, the backend gone): its page whole, its content-length right.
Every stream on one connection, which serves them all.
And large bodies that come after their head, in reads of every size (one byte, a frame's, a 64 KiB
block's and more; chunk size lines apart from their data), which proxyd reads straight into the
stream's frame queue: the client gets every byte as sent, over h2c and over TLS (where a frame's
header is written over the end of the frame before it once that one was encrypted). ~5 s."""

import os
import time

from h2_frames import H2Client, Target, h2
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Backend, Proxyd, Reader, TestSkip, check, check_equal, config_head, free_ports,
                            make_certificate, run_test, upstream, workdir, write_file)

ANSWERS = {
    "/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
               b"X-Kept: Yes\r\n\r\nhello",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n6\r\ndefghi\r\n0\r\n\r\n",
    "/nocontent": b"HTTP/1.1 204 No Content\r\nX-Kept: 1\r\n\r\n",
}


# Piece sizes around the frame (16,375 B), record (16,384 B) and block (65,500 B) sizes of the
# stream's queue, and small ones; each piece is its own write, a moment after the one before.
PIECES = [1, 7, 16375, 16384, 9, 65500, 65536, 70000, 1, 30000, 100, 16374, 40000]
BIG = bytes((i * 7 + i // 251) % 256 for i in range(sum(PIECES)))


def pieces():
    at = 0
    for size in PIECES:
        yield BIG[at:at + size]
        at += size


def send_big(conn, target):
    if target == "/big-length":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG))
    elif target == "/big-chunked":
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    for n, piece in enumerate(pieces()):
        time.sleep(0.01)
        if target != "/big-chunked":
            conn.sendall(piece)
        elif n % 2:
            conn.sendall(b"%x\r\n" % len(piece))  # the size line alone, its data in the next read
            time.sleep(0.01)
            conn.sendall(piece + b"\r\n")
        else:
            conn.sendall(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
    if target == "/big-chunked":
        conn.sendall(b"0\r\n\r\n")


def framing_backend(conn, conn_id):
    reader = Reader(conn)
    while True:
        start, _ = reader.read_head()
        method, target = start.split(" ")[:2]
        if target.startswith("/big-"):
            send_big(conn, target)
            if target == "/big-eof":
                return
            continue
        if target == "/short":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
            return
        if target == "/eof":
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
            return
        answer = ANSWERS[target]
        if method == "HEAD":
            answer = answer[:answer.index(b"\r\n\r\n") + 4]
        conn.sendall(answer)


def fields(client, stream_id):
    return dict(client.heads[stream_id][0])


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed")
    folder = workdir("h2-framing")
    backend = Backend(raw=framing_backend, tag="framing")
    port, gone_port, gone, tls_port = free_ports(4)
    cert, key = make_certificate(folder, "framing", ["localhost"], ips=["127.0.0.1"])
    config = config_head(access="off", plugins=("round_robin",))
    config += upstream("app", [backend.port]) + upstream("gone", [gone])
    config += h2_listener("front-h2", port, "upstream", "app") + h2_listener("gone-h2", gone_port, "upstream", "gone")
    config += h2_listener("front-tls", tls_port, "upstream", "app", tls=(cert, key))
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    require_http2(config_path)
    Proxyd(config_path, folder).start([port, gone_port, tls_port])

    c = H2Client(Target("127.0.0.1", port))
    streams = {path: c.request(path) for path in ("/length", "/chunked", "/eof", "/nocontent", "/short")}
    streams["HEAD"] = c.request("/length", method="HEAD")
    c.wait(lambda: all(c.response_done(s) for s in streams.values()), "every response")

    s = streams["/length"]
    head = fields(c, s)
    check_equal((head.get(":status"), c.data.get(s), s in c.ended), ("200", b"hello", True),
                "Content-Length: status, body, END_STREAM")
    check_equal((head.get("content-length"), head.get("x-kept")), ("5", "Yes"), "content-length and names lower-cased")
    check(not {"connection", "keep-alive", "x-hop"} & set(head), "hop-by-hop and Connection-named fields dropped",
          str(head))

    s = streams["/chunked"]
    head = fields(c, s)
    check_equal((head.get(":status"), c.data.get(s), s in c.ended), ("200", b"abcdefghi", True),
                "chunked: the decoded payload, then END_STREAM")
    check(not {"transfer-encoding", "content-length"} & set(head), "chunked: no framing fields", str(head))

    s = streams["/eof"]
    check_equal((c.status(s), c.data.get(s), s in c.ended), (200, b"until the end", True),
                "a body ended by the backend's close: whole, then END_STREAM")

    for name, status, length in (("HEAD", 200, "5"), ("/nocontent", 204, None)):
        s = streams[name]
        check_equal((c.status(s), c.data.get(s, b""), s in c.ended, fields(c, s).get("content-length")),
                    (status, b"", True, length), "%s: the head ends the stream" % name)

    s = streams["/short"]
    check(s in c.resets and s not in c.ended, "a body cut short resets the stream, never ends it",
          "resets %r, ended %r" % (c.resets, sorted(c.ended)))
    check(len(c.data.get(s, b"")) < 100, "a body cut short: fewer bytes than its length")
    c.close()

    for tls, big_port in (("h2c", port), ("TLS", tls_port)):
        b = H2Client(Target("127.0.0.1", big_port, tls=tls == "TLS"), timeout=20.0)
        big = {path: b.request(path) for path in ("/big-length", "/big-chunked", "/big-eof")}
        b.wait(lambda: all(b.response_done(s) for s in big.values()), "the large bodies")
        for path, s in big.items():
            got = b.data.get(s, b"")
            first_difference = next((i for i in range(min(len(got), len(BIG))) if got[i] != BIG[i]), None)
            check(got == BIG and s in b.ended, "%s, %s: every byte as the backend sent it, then END_STREAM" % (tls, path),
                  "%d bytes of %d, first difference at %r, ended %r" % (len(got), len(BIG), first_difference,
                                                                         s in b.ended))
        b.close()

    g = H2Client(Target("127.0.0.1", gone_port))
    s = g.request("/")
    g.wait(lambda: g.response_done(s), "the 502")
    head = fields(g, s)
    check_equal((head.get(":status"), head.get("server"), s in g.ended), ("502", "proxyd", True),
                "proxyd's own 502 over h2")
    check_equal(head.get("content-length"), str(len(g.data.get(s, b""))), "its content-length is its page's")
    g.close()


if __name__ == "__main__":
    run_test(main)
