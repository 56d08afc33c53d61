#!/usr/bin/env python3
"""Upgrade (WebSocket) through proxyd: a GET that asks to switch protocols is forwarded with its
Upgrade field; a backend's 101 is relayed and then bytes flow both ways, unparsed, until both
sides have closed (each side's half-close is passed on); the tunnel's upstream connection is
never pooled; a backend that refuses the upgrade answers as usual and the client connection stays
in step; a tunnel in which nothing moves ends after the upstream read_timeout; a static handler
serves an Upgrade request as plain HTTP; a 101 nobody asked for, or one that names no protocol,
is a 502."""

import base64
import hashlib
import os
import socket
import threading
import time

from proxyd_harness import (Backend, Client, ConnectionClosed, Proxyd, Reader, check, check_equal, config_head,
                            free_ports, listener, note, run_test, static_handler, upstream, workdir, write_file)

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = base64.b64encode(hashlib.sha1(KEY.encode() + WS_GUID).digest()).decode()


def frame(opcode, payload, mask=None):
    """One final WebSocket frame; clients mask (RFC 6455 §5.3), servers do not."""
    head = bytearray([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head.append(bit | n)
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + payload


def read_frame(reader):
    """(opcode, payload) of the next frame, unmasked."""
    b0, b1 = reader.read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(reader.read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(reader.read_exact(8), "big")
    mask = reader.read_exact(4) if b1 & 0x80 else None
    payload = reader.read_exact(n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


class WebSocketBackend:
    """A scripted WebSocket echo server on raw sockets. Paths: /echo echoes every frame, answers a
    close frame with a close frame and closes; it echoes until the client's EOF, then closes too.
    /hello sends a greeting frame in the same write as its 101. /bye sends one frame and closes.
    /refuse answers 403 without upgrading, and keeps the connection for more requests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.heads = []  # (conn_id, start line, headers)
        self.backend = Backend(raw=self.serve, tag="websocket")
        self.port = self.backend.port

    def serve(self, conn, conn_id):
        reader = Reader(conn)
        while True:
            start, headers = reader.read_head()
            with self.lock:
                self.heads.append((conn_id, start, headers))
            fields = {n.lower(): v for n, v in headers}
            target = start.split(" ")[1]
            if target == "/refuse" or "upgrade" not in fields:
                body = b"no upgrade for you\n"
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                continue
            accept = base64.b64encode(hashlib.sha1(fields["sec-websocket-key"].encode() + WS_GUID).digest())
            head = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            if target == "/hello":
                conn.sendall(head + frame(1, b"hello from the backend"))
            else:
                conn.sendall(head)
            if target == "/bye":
                conn.sendall(frame(1, b"bye"))
                return
            while True:
                try:
                    opcode, payload = read_frame(reader)
                except ConnectionClosed:
                    return  # the client's half-close reached us: we close too
                if opcode == 8:
                    conn.sendall(frame(8, payload))
                    return
                conn.sendall(frame(opcode, payload))


def upgrade_request(path, extra=b""):
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 13\r\n"
            + extra + b"\r\n")


def check_101(response, what):
    check_equal(response.status, 101, what + ": the backend's 101 reaches the client")
    check_equal((response.header("Upgrade") or "").lower(), "websocket", what + ": 101 names the protocol")
    check("upgrade" in response.connection_tokens(), what + ": 101 carries Connection: upgrade",
          str(response.headers))
    check_equal(response.header("Sec-WebSocket-Accept"), ACCEPT, what + ": the backend's accept key is relayed")


def eof_within(client, seconds):
    """True when the peer ends the connection (EOF or reset) within seconds."""
    client.sock.settimeout(seconds)
    try:
        return client.reader.read_to_close() == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def main():
    folder = workdir("websocket")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>static</title>\n")
    ws = WebSocketBackend()
    # A 101 to every request: with Upgrade to a plain one, without it to an upgrade request.
    unasked = Backend(lambda request, conn_id: (
        [b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n" if request.has("Upgrade") else
         b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"], True),
        tag="unasked-101")
    front, quiet, static, f_unasked = free_ports(4)
    config = (config_head(access="off", plugins=("static", "round_robin"))
              + static_handler("files", root)
              + upstream("ws", [ws.port], 'read_timeout = "10s"')
              + upstream("quiet", [ws.port], 'read_timeout = "1s"')
              + upstream("unasked", [unasked.port])
              + listener("front", front, "upstream", "ws")
              + listener("quiet", quiet, "upstream", "quiet")
              + listener("static", static, "handler", "files")
              + listener("unasked", f_unasked, "upstream", "unasked"))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start(
        [front, quiet, static, f_unasked])

    # The handshake, with a frame pipelined right behind the head: proxyd must hold it back until
    # the backend agreed, then forward it as tunnel bytes (not parse it as a request).
    mask = b"\x11\x22\x33\x44"
    with Client(front, timeout=10) as client:
        client.send(upgrade_request("/echo") + frame(1, b"sent before the 101", mask))
        check_101(client.read_response(), "handshake")
        with ws.lock:
            _, start, headers = ws.heads[-1]
        fields = {n.lower(): v for n, v in headers}
        check_equal(fields.get("upgrade"), "websocket", "the backend receives the Upgrade field")
        check("upgrade" in fields.get("connection", "").lower(), "the backend receives Connection: upgrade",
              str(headers))
        check_equal(read_frame(client.reader), (1, b"sent before the 101"),
                    "a frame pipelined behind the upgrade request is forwarded after the 101 and echoed")
        wrong = []
        for n in range(20):
            payload = ("message %d " % n).encode() * (n + 1)
            client.send(frame(1, payload, mask))
            if read_frame(client.reader) != (1, payload):
                wrong.append(n)
        check_equal(wrong, [], "20 text frames of growing size are echoed in order: the wrong ones")
        big = os.urandom(3 * 1024 * 1024)
        sender = threading.Thread(target=client.send, args=(frame(2, big, mask),))
        sender.start()
        opcode, echoed = read_frame(client.reader)
        sender.join()
        check(opcode == 2 and echoed == big, "a 3 MiB binary frame crosses both ways intact (backpressure both ways)",
              "opcode %d, %d bytes" % (opcode, len(echoed)))
        # Close from the client's side: close frame, echoed close, then the backend closes.
        client.send(frame(8, b"\x03\xe8", mask))
        check_equal(read_frame(client.reader), (8, b"\x03\xe8"), "the client's close frame is answered")
        check(eof_within(client, 5), "after the backend closes, the client's connection ends")

    # Half-close from the client: its EOF reaches the backend (which then closes), and what the
    # backend sent before still reaches the client.
    with Client(front, timeout=10) as client:
        client.send(upgrade_request("/echo"))
        check_101(client.read_response(), "half-close")
        client.send(frame(1, b"last words", mask))
        client.sock.shutdown(socket.SHUT_WR)
        check_equal(read_frame(client.reader), (1, b"last words"),
                    "after the client's half-close the backend's echo still reaches it")
        check(eof_within(client, 5), "the backend saw the client's EOF and closed: the client's connection ends")

    # Close from the backend's side, with a frame in the same write as its 101.
    with Client(front, timeout=10) as client:
        client.send(upgrade_request("/hello"))
        check_101(client.read_response(), "101 with a frame behind it")
        check_equal(read_frame(client.reader), (1, b"hello from the backend"),
                    "bytes the backend sent right behind its 101 reach the client")
        client.send(frame(8, b"", mask))
        check_equal(read_frame(client.reader)[0], 8, "close handshake after the greeting")
    with Client(front, timeout=10) as client:
        client.send(upgrade_request("/bye"))
        check_101(client.read_response(), "backend closes")
        check_equal(read_frame(client.reader), (1, b"bye"), "the backend's last frame arrives")
        # The backend's EOF is passed on as a half-close: the client can still send, then closes.
        client.sock.shutdown(socket.SHUT_WR)
        check(eof_within(client, 5), "after the backend closes and the client closes, the connection ends")

    # The tunnel's upstream connection is not pooled: the next plain request opens a new one.
    with Client(front, timeout=10) as client:
        response = client.request("GET", "/plain")
        check_equal(response.status, 403, "a plain GET to the WebSocket backend gets its ordinary answer")
    with ws.lock:
        plain_conn = ws.heads[-1][0]
    used = {conn for conn, _, _ in ws.heads[:-1]}
    check(plain_conn not in used, "no tunnel's upstream connection is reused for a later request",
          "plain request on backend connection %d, tunnels used %s" % (plain_conn, sorted(used)))

    # A refused upgrade is an ordinary response; the connection stays in step for the next request.
    with Client(front, timeout=10) as client:
        client.send(upgrade_request("/refuse"))
        response = client.read_response()
        check_equal(response.status, 403, "a backend that refuses the upgrade: its answer is relayed")
        check_equal(response.body, b"no upgrade for you\n", "the refusal's body is relayed whole")
        response = client.request("GET", "/after-refusal")
        check_equal(response.status, 403, "the next request on that connection is answered normally")
        with ws.lock:
            check_equal(ws.heads[-1][1].split(" ")[1], "/after-refusal", "and reaches the backend as a request")

    # Nothing moves in a tunnel for longer than the upstream read_timeout (1 s here): both ends close.
    with Client(quiet, timeout=10) as client:
        client.send(upgrade_request("/echo"))
        check_101(client.read_response(), "idle tunnel")
        client.send(frame(1, b"ping", mask))
        check_equal(read_frame(client.reader), (1, b"ping"), "the idle-test tunnel works")
        started = time.monotonic()
        check(eof_within(client, 8), "a tunnel idle for read_timeout is closed")
        note("idle tunnel closed after %.2f s (read_timeout 1 s)" % (time.monotonic() - started))

    # A content handler does not switch protocols: the request is served as plain HTTP (RFC 9110
    # §7.8 lets a server ignore Upgrade).
    with Client(static, timeout=10) as client:
        client.send(upgrade_request("/index.html"))
        response = client.read_response()
        check_equal(response.status, 200, "an Upgrade request to the static handler is served as HTTP")
        check("upgrade" not in response.connection_tokens() and not response.has("Upgrade"),
              "the static answer does not claim an upgrade", str(response.headers))

    # A 101 to a request that did not ask for an upgrade is a broken response.
    with Client(f_unasked, timeout=10) as client:
        check_equal(client.request("GET", "/").status, 502, "a 101 nobody asked for: 502")
    # A 101 that names no protocol (RFC 9110 §15.2.2 requires Upgrade in it) cannot be relayed: 502,
    # and the client's connection stays usable.
    with Client(f_unasked, timeout=10) as client:
        client.send(upgrade_request("/echo"))
        response = client.read_response()
        check_equal(response.status, 502, "a 101 without Upgrade to an upgrade request: 502")
        check_equal(client.request("GET", "/").status, 502, "the connection stays in step after it")

    # An upgrade request with a body is not tunnelled (the Upgrade is dropped): still a plain answer.
    with Client(front, timeout=10) as client:
        client.send(b"POST /echo HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Content-Length: 2\r\n\r\nhi")
        check_equal(client.read_response().status, 403, "POST with Upgrade is forwarded as a plain request")
        with ws.lock:
            fields = {n.lower() for n, _ in ws.heads[-1][2]}
        check("upgrade" not in fields, "and without the Upgrade field", str(fields))

    check(proxyd.alive(), "proxyd is still running")


if __name__ == "__main__":
    run_test(main)
