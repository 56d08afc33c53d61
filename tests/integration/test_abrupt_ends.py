#!/usr/bin/env python3
"""Messages that end early, on either side, and the timeouts that end stalled ones.

A client that closes mid-upload or mid-download: proxyd closes that upstream connection (the
backend sees it end, never a complete request, and it is not pooled: the next request arrives on a
new connection), and keeps serving. A backend that closes mid-body (Content-Length or chunked):
the client's connection ends before the declared length. A client that stops sending its body:
408 after limits.body_timeout (here 500 ms) and the upstream connection is closed. A backend that
sends nothing: 504 after read_timeout (500 ms); one that stalls mid-body: the client's connection
is cut before the declared length and the backend's connection is closed."""

import os
import socket
import threading
import time

from proxyd_harness import (Backend, Client, ConnectionClosed, Proxyd, Reader, check, check_equal, config_head,
                            free_ports, listener, note, run_test, upstream, workdir, write_file)

BIG = 64 * 1024 * 1024  # larger than any socket buffers: the backend blocks until proxyd reads or closes
PIECE = b"x" * 65536


class RecordingBackend:
    """Raw backend: per request path, a behaviour; every connection's fate is recorded."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []  # (conn_id, what)
        self.changed = threading.Condition(self.lock)
        self.backend = Backend(raw=self.serve, tag="recording")
        self.port = self.backend.port

    def record(self, conn_id, what):
        with self.changed:
            self.events.append((conn_id, what))
            self.changed.notify_all()

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True

    def wait_closed(self, conn, timeout=10):
        """Waits until the peer closes conn; true if it did."""
        conn.settimeout(timeout)
        try:
            while conn.recv(65536):
                pass
            return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def serve(self, conn, conn_id):
        reader = Reader(conn)
        while True:
            try:
                start, headers = reader.read_head()
            except (ConnectionClosed, OSError):
                return
            fields = {n.lower(): v for n, v in headers}
            path = start.split(" ")[1]
            self.record(conn_id, "request " + path)
            length = int(fields.get("content-length", "0"))
            if path in ("/upload", "/stalled-body"):
                received = bytearray()
                try:
                    while len(received) < length:
                        received += reader.read_exact(min(65536, length - len(received)))
                except (ConnectionClosed, OSError):
                    self.record(conn_id, "upload cut after %d of %d bytes" % (len(received), length))
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif path == "/download":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG)
                try:
                    for _ in range(BIG // len(PIECE)):
                        conn.sendall(PIECE)
                except OSError:
                    self.record(conn_id, "download cut")
                    return
                self.record(conn_id, "download sent whole")
            elif path == "/truncated-length":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"y" * 5000)
                return
            elif path == "/truncated-chunked":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + b"y" * 5000 + b"\r\n")
                return
            elif path == "/silent":
                if self.wait_closed(conn):
                    self.record(conn_id, "silent closed by proxyd")
                return
            elif path == "/stall-mid-body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"z" * 10)
                if self.wait_closed(conn):
                    self.record(conn_id, "stalled response closed by proxyd")
                return
            else:
                reader.read_exact(length)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d" % (len(str(conn_id)), conn_id))

    def conn_of(self, what):
        with self.lock:
            return [c for c, w in self.events if w == what]


def small_request_conn(port, what):
    with Client(port, timeout=10) as client:
        response = client.request("GET", "/small")
        check_equal(response.status, 200, what + ": proxyd keeps serving")
        return int(response.body)


def main():
    folder = workdir("abrupt")
    backend = RecordingBackend()
    front, = free_ports(1)
    config = (config_head(access="off", plugins=("round_robin",))
              + "[limits]\nbody_timeout = \"500ms\"\n\n"
              + upstream("app", [backend.port], 'read_timeout = "500ms"')
              + listener("front", front, "upstream", "app"))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([front])

    small_request_conn(front, "warm-up")

    # ---- client ends mid-upload ----
    client = Client(front, timeout=10)
    client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"u" * 300000)
    check(backend.wait_for(lambda ev: any(w == "request /upload" for _, w in ev), 10),
          "mid-upload: the head and part of the body reach the backend")
    client.close()
    check(backend.wait_for(lambda ev: any(w.startswith("upload cut") for _, w in ev), 10),
          "mid-upload: when the client goes, proxyd closes the upstream connection (the backend sees it end)")
    upload_conn = backend.conn_of("request /upload")[0]
    check(upload_conn in [c for c, w in backend.events if w.startswith("upload cut")],
          "mid-upload: it is that request's connection that ends")
    after = small_request_conn(front, "after a client left mid-upload")
    check(after != upload_conn, "mid-upload: the next request does not reuse the cut connection",
          "conn %d" % after)

    # ---- client ends mid-download ----
    client = Client(front, timeout=10)
    client.send(b"GET /download HTTP/1.1\r\nHost: t\r\n\r\n")
    client.reader.read_head()
    client.reader.read_exact(1024 * 1024)
    client.close()
    check(backend.wait_for(lambda ev: any(w == "download cut" for _, w in ev), 15),
          "mid-download: when the client goes, proxyd closes the upstream connection (the backend's send fails)")
    download_conn = backend.conn_of("request /download")[0]
    after = small_request_conn(front, "after a client left mid-download")
    check(after not in (upload_conn, download_conn), "mid-download: the next request uses a fresh connection",
          "conn %d" % after)

    # ---- backend ends mid-body ----
    for path in ("/truncated-length", "/truncated-chunked"):
        with Client(front, timeout=10) as client:
            client.send(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            start, head = client.reader.read_head()
            check(start.startswith("HTTP/1.1 200"), path + ": the head is relayed", start)
            raw = client.reader.read_to_close()
            if path == "/truncated-length":
                check(len(raw) < 100000, path + ": the client's connection ends before the declared length",
                      "%d bytes" % len(raw))
            else:
                check(not raw.endswith(b"0\r\n\r\n"), path + ": the client never sees the chunked terminator",
                      repr(raw[-20:]))
                check(len(raw) >= 5000, path + ": the bytes the backend did send are relayed")

    # ---- client stops sending its body: 408 after body_timeout ----
    for sent in (0, 1000):
        with Client(front, timeout=10) as client:
            started = time.monotonic()
            client.send(b"POST /stalled-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + b"s" * sent)
            response = client.read_response()
            waited = time.monotonic() - started
            check_equal(response.status, 408, "body stalled after %d bytes: 408" % sent)
            check("close" in response.connection_tokens(), "body stalled after %d bytes: Connection: close" % sent)
            check(client.closed_by_peer(5), "body stalled after %d bytes: then the connection closes" % sent)
            check(0.4 <= waited < 8, "body stalled after %d bytes: answered after body_timeout (500 ms)" % sent,
                  "after %.2f s" % waited)
            note("stalled body (%d bytes sent): 408 after %.2f s" % (sent, waited))
    check(backend.wait_for(lambda ev: sum(w.startswith("upload cut after") and w.endswith("of 5000 bytes")
                                          for _, w in ev) == 2, 10),
          "stalled bodies: both upstream connections are closed mid-message (the backend never gets a request)")

    # ---- backend sends nothing: 504; backend stalls mid-body: the client is cut ----
    with Client(front, timeout=10) as client:
        started = time.monotonic()
        response = client.request("GET", "/silent")
        check_equal(response.status, 504, "a backend silent for read_timeout: 504")
        note("silent backend: 504 after %.2f s" % (time.monotonic() - started))
    check(backend.wait_for(lambda ev: any(w == "silent closed by proxyd" for _, w in ev), 10),
          "silent backend: its connection is closed")
    with Client(front, timeout=10) as client:
        client.send(b"GET /stall-mid-body HTTP/1.1\r\nHost: t\r\n\r\n")
        start, headers = client.reader.read_head()
        check(start.startswith("HTTP/1.1 200"), "stall mid-body: the head is relayed", start)
        body = client.reader.read_to_close()
        check_equal(len(body), 10, "stall mid-body: the client's connection ends after the 10 bytes sent, "
                                   "short of the declared 1000")
    check(backend.wait_for(lambda ev: any(w == "stalled response closed by proxyd" for _, w in ev), 10),
          "stall mid-body: the upstream connection is closed")

    small_request_conn(front, "at the end")
    check(proxyd.alive(), "proxyd is still running")


if __name__ == "__main__":
    run_test(main)
