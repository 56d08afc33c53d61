#!/usr/bin/env python3
"""Slow and long-lived clients are bounded without hurting anyone else.

Slowloris: 200 clients trickle a request head one byte at a time and never finish it. Meanwhile a
normal client's requests (fresh connections and keep-alive) are each answered within a second, and
once limits.header_timeout (3 s here) has passed, every trickling client has been answered 408
and closed.

keepalive_requests = 5: one connection serves five requests; the fifth response says
Connection: close and the connection closes after it. A client that pipelines a sixth request
while most of a large fifth response still sits in the kernel's send buffer gets that response
whole (proxyd half-closes and lingers, so the late bytes cannot turn its close into a reset);
a client that asked to close gets its large response whole too.

A client that stops reading a large static file (sent with sendfile, so nothing is queued in
proxyd itself) is cut off after limits.send_timeout (1 s here) without progress, before the
file's end, while other clients are served."""

import os
import select
import socket
import threading
import time

from proxyd_harness import (HOST, Client, Proxyd, check, check_equal, config_head, free_ports, listener, note, run_test,
                            static_handler, workdir, write_file)

TRICKLERS = 200
HEADER_TIMEOUT = 3.0
HEAD = b"GET /slow HTTP/1.1\r\nHost: example.test\r\nUser-Agent: slowloris\r\nX-Padding: " + b"x" * 200


class Tricklers:
    """TRICKLERS connections sending HEAD one byte every 0.3 s from one thread; each stops sending
    as soon as the server says anything, and keeps what it said."""

    def __init__(self, port):
        self.socks = [socket.create_connection((HOST, port), timeout=5) for _ in range(TRICKLERS)]
        for s in self.socks:
            s.setblocking(False)
        self.sent = [0] * TRICKLERS
        self.received = [b""] * TRICKLERS
        self.closed = [False] * TRICKLERS
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def poll_reads(self):
        readable, _, _ = select.select([s for i, s in enumerate(self.socks) if not self.closed[i]], [], [], 0)
        for s in readable:
            i = self.socks.index(s)
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                self.received[i] += data
            else:
                self.closed[i] = True

    def run(self):
        while not self.stop.is_set():
            self.poll_reads()
            for i, s in enumerate(self.socks):
                if self.received[i] or self.closed[i] or self.sent[i] >= len(HEAD):
                    continue
                try:
                    s.send(HEAD[self.sent[i]:self.sent[i] + 1])
                    self.sent[i] += 1
                except OSError:
                    self.closed[i] = True
            self.stop.wait(0.3)

    def finish(self, within):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not all(self.closed):
            self.poll_reads()
            time.sleep(0.05)
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def main():
    folder = workdir("slow")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>fast</title>\n")
    big = os.urandom(1_500_000)
    write_file(os.path.join(root, "big.bin"), big)
    port, = free_ports(1)
    config = config_head(access="off", plugins=("static",))
    config += "[limits]\nheader_timeout = \"%ds\"\nkeepalive_requests = 5\n\n" % HEADER_TIMEOUT
    config += static_handler("site", root) + listener("front", port, "handler", "site")
    Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([port])

    started = time.monotonic()
    tricklers = Tricklers(port)
    note("%d trickling clients connected in %.2f s" % (TRICKLERS, time.monotonic() - started))

    # A normal client, while they trickle: fresh connections and keep-alive, each answered fast.
    latencies = []
    while time.monotonic() - started < HEADER_TIMEOUT - 0.5:
        with Client(port, timeout=5) as client:
            for _ in range(4):
                t0 = time.monotonic()
                response = client.request("GET", "/")
                latencies.append(time.monotonic() - t0)
                if response.status != 200:
                    check_equal(response.status, 200, "a normal request during the trickle")
        time.sleep(0.05)
    check(len(latencies) >= 8 and max(latencies) < 1.0,
          "%d normal requests during the trickle, each answered within 1 s" % len(latencies),
          "slowest %.3f s" % max(latencies))
    note("slowest normal request %.3f s, median %.4f s" % (max(latencies), sorted(latencies)[len(latencies) // 2]))
    early = sum(1 for r in tricklers.received if r)
    check_equal(early, 0, "no trickling client was cut before header_timeout")

    tricklers.finish(within=HEADER_TIMEOUT + 4.0 - (time.monotonic() - started))
    answered = sum(1 for r in tricklers.received if r.startswith(b"HTTP/1.1 408 "))
    closed = sum(1 for c in tricklers.closed if c)
    check_equal(answered, TRICKLERS, "trickling clients answered 408 after header_timeout")
    check_equal(closed, TRICKLERS, "trickling clients closed")
    check(max(tricklers.sent) < len(HEAD), "none of them finished its head (the test really trickled)")

    with Client(port, timeout=5) as client:
        for n in range(1, 6):
            response = client.request("GET", "/")
            check_equal(response.status, 200, "keepalive_requests = 5: request %d answered" % n)
            closes = "close" in response.connection_tokens()
            check_equal(closes, n == 5, "keepalive_requests = 5: Connection: close on request %d" % n)
        check(client.closed_by_peer(within=3), "keepalive_requests = 5: the connection closes after the fifth")

    with Client(port, timeout=10, rcvbuf=32768) as client:
        for _ in range(4):
            client.request("GET", "/")
        client.send(b"GET /big.bin HTTP/1.1\r\nHost: example.test\r\n\r\n")
        time.sleep(1.0)  # not reading: proxyd has handed the whole file to the kernel and ends the connection
        client.send(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")  # pipelined, late
        time.sleep(0.2)
        response = client.read_response()
        check(response.status == 200 and response.body == big,
              "keepalive_requests = 5: a late pipelined request does not cut the fifth response short",
              "%d of %d bytes" % (len(response.body), len(big)))
    with Client(port, timeout=10, rcvbuf=32768) as client:
        client.send(b"GET /big.bin HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        time.sleep(1.0)
        response = client.read_response()
        check(response.status == 200 and response.body == big and client.closed_by_peer(within=3),
              "Connection: close: the whole response, then the close", "%d bytes" % len(response.body))

    stalled_file_reader(folder)


def stalled_file_reader(folder):
    root = os.path.join(folder, "big")
    size = 64 * 1024 * 1024  # far more than loopback socket buffers hold
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.truncate(size)
    write_file(os.path.join(root, "index.html"), "ok\n")
    port, = free_ports(1)
    config = config_head(access="off", plugins=("static",))
    config += "[limits]\nsend_timeout = \"1s\"\n\n"
    config += static_handler("big", root) + listener("front", port, "handler", "big")
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd-send-timeout.toml"), config), folder, tag="proxyd-send")
    proxyd.start([port])

    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(10)
    stalled.connect((HOST, port))
    stalled.sendall(b"GET /big.bin HTTP/1.1\r\nHost: example.test\r\n\r\n")
    started = time.monotonic()
    time.sleep(2.5)  # reads nothing: the socket fills and sendfile waits for room
    with Client(port, timeout=5) as client:
        check_equal(client.request("GET", "/").status, 200, "another client is served while one stalls")
    received = 0
    while True:
        try:
            data = stalled.recv(1 << 20)
        except ConnectionResetError:
            break
        if not data:
            break
        received += len(data)
    elapsed = time.monotonic() - started
    stalled.close()
    check(received < size, "the stalled reader's connection was closed before the file's end",
          "%d of %d bytes" % (received, size))
    check(elapsed < 9, "the stalled reader was cut off well within the test's bound", "%.2f s" % elapsed)
    check("send timed out" in proxyd.stderr_text(), "proxyd logged the send timeout")
    note("stalled static reader: cut after %d of %d bytes, %.2f s after its request" % (received, size, elapsed))


if __name__ == "__main__":
    run_test(main)
