#!/usr/bin/env python3
"""WebSocket over HTTP/2 (RFC 8441) through proxyd, in raw frames (h2_frames.py): with
`http2_websocket = true` the server's SETTINGS carry ENABLE_CONNECT_PROTOCOL; an extended CONNECT
(:protocol websocket) reaches the HTTP/1.1 WebSocket backend as `GET path` with Upgrade,
Connection: upgrade, a Sec-WebSocket-Key of proxyd's own and the client's Sec-WebSocket-*
fields; the backend's 101 becomes :status 200 without END_STREAM and without its accept key;
messages cross both ways, one of 70 KB larger than the stream's initial window (sent only as the
WINDOW_UPDATEs allow); an ordinary stream on the same connection is served meanwhile; the
client's END_STREAM half-closes toward the backend, whose close ends the stream (END_STREAM, no
reset) and which is logged as a 200. A client's RST_STREAM closes the upstream connection; an
upstream's reset resets the stream (CANCEL, RFC 8441 §5); a reload leaves the tunnel running after its
connection's GOAWAY, to end cleanly. A backend that refuses (403) answers the stream as usual; one
whose 101 does not answer the key, or that answers 200 without switching (a 2xx would tell the
client its WebSocket is open), gives 502, is not tried on another peer nor marked down, and an
endless 200 has its connection closed at once; DATA a client sends before the 200 waits for
the tunnel and reaches the backend after its 101, and DATA behind a refused upgrade (bytes that
look like a request) never reaches the backend; another :protocol gets 501; with the setting off (the
default) nothing is advertised and an extended CONNECT is reset (PROTOCOL_ERROR) by nghttp2, the
connection's other streams unaffected."""

import base64
import hashlib
import os
import signal
import socket
import struct
import threading
import time

from h2_frames import (CANCEL, DATA, END_HEADERS, END_STREAM, PROTOCOL_ERROR, WINDOW_UPDATE,
                       H2Client, Target, frame, h2, rst_stream)
from proxyd_harness import (HOST, Backend, Proxyd, Reader, TestSkip, access_log_entries, check, check_equal,
                            config_head, free_ports, run_test, toml_str, upstream, wait_for, workdir, write_file)
from test_websocket_tunnel import WS_GUID, WebSocketBackend
from test_websocket_tunnel import frame as ws_frame

ENABLE_CONNECT_PROTOCOL = 0x8
MASK = b"\x0a\x0b\x0c\x0d"
BIG = 70 * 1024  # above the stream's initial window (65535)


class HoldBackend:
    """Upgrades every upgrade request (403 for others), then: /reset resets its connection at once; any other path echoes
    raw bytes until the proxy's EOF, then notes that the connection ended (self.ended)."""

    def __init__(self):
        self.ended = threading.Event()
        self.events_ended = threading.Event()
        self.backend = Backend(raw=self.serve, tag="hold")
        self.port = self.backend.port

    def serve(self, conn, conn_id):
        reader = Reader(conn)
        start, headers = reader.read_head()
        key = {n.lower(): v for n, v in headers}.get("sec-websocket-key")
        if start.split(" ")[1] == "/events":
            # A 200 that ignores the upgrade and streams events for as long as it is read.
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                while True:
                    conn.sendall(b"b\r\ndata: tick\n\n\r\n")
                    time.sleep(0.05)
            except OSError:
                self.events_ended.set()
            return
        if key is None:
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if start.split(" ")[1] == "/reset":
            time.sleep(0.2)  # the 101 is read first
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        pending = bytes(reader.buf)
        if pending:
            conn.sendall(pending)
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.ended.set()
                return
            conn.sendall(data)


def h2_ws_listener(name, port, target, websocket):
    text = "[[listeners]]\nname = %s\nlisten = %s\nupstream = %s\nhttp2 = true\n" % (
        toml_str(name), toml_str("%s:%d" % (HOST, port)), toml_str(target))
    return text + ("http2_websocket = true\n" if websocket else "") + "\n"


class WsStream:
    """A WebSocket on one stream of an H2Client: DATA sent within the server's windows, frames
    parsed from the stream's DATA."""

    def __init__(self, client, stream_id):
        self.client, self.stream_id, self.read_at = client, stream_id, 0

    def windows(self):
        """What the server's windows allow now: (stream, connection), from its WINDOW_UPDATEs."""
        settings = self.client.server_settings or {}
        stream = settings.get(4, 65535)
        connection = 65535
        for f in self.client.frames:
            if f.kind == WINDOW_UPDATE:
                increment = struct.unpack(">I", f.payload[:4])[0] & 0x7FFFFFFF
                if f.stream_id == self.stream_id:
                    stream += increment
                elif f.stream_id == 0:
                    connection += increment
        return stream, connection

    def send(self, data):
        c = self.client
        while data:
            stream, connection = self.windows()
            sent_stream = c.sent_by_stream.get(self.stream_id, 0)
            room = min(stream - sent_stream, connection - c.sent_total, 16384)
            if room <= 0:
                before = len(c.frames)
                c.wait(lambda: len(c.frames) > before, "a WINDOW_UPDATE for stream %d" % self.stream_id)
                continue
            piece, data = data[:room], data[room:]
            c.send(frame(DATA, 0, self.stream_id, piece))
            c.sent_by_stream[self.stream_id] = sent_stream + len(piece)
            c.sent_total += len(piece)

    def end(self):
        self.client.send(frame(DATA, END_STREAM, self.stream_id, b""))

    def message(self, opcode, payload):
        self.send(ws_frame(opcode, payload, MASK))

    def read(self, what):
        """The next WebSocket frame the server sent on the stream: (opcode, payload)."""
        c = self.client
        result = []

        def parsed():
            buf = c.data.get(self.stream_id, b"")[self.read_at:]
            if len(buf) < 2:
                return False
            n, at = buf[1] & 0x7F, 2
            if n == 126:
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + n:
                return False
            result.append((buf[0] & 0x0F, buf[at:at + n]))
            self.read_at += at + n
            return True
        c.wait(parsed, what)
        return result[0]


def open_client(port):
    client = H2Client(Target(HOST, port, authority="chat.test"), timeout=8)
    client.sent_by_stream = {}
    client.sent_total = 0
    return client


def extended_connect(client, path, protocol="websocket", extra=()):
    return client.raw_headers([(":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"),
                               (":path", path), (":authority", "chat.test"), ("sec-websocket-version", "13"),
                               ("x-request-id", "ws" + path.replace("/", "-"))] + list(extra),
                              flags=END_HEADERS)


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed (packaging/build-deps.sh --test)")
    folder = workdir("h2-websocket")
    ws = WebSocketBackend()
    # /ignore answers the upgrade with a plain 200 (a backend that ignores Upgrade); other paths
    # switch with an accept key that answers no key.
    wrong_accept = Backend(lambda request, conn_id: (
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"] if request.target == "/ignore" else
        [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBvbmU=\r\n\r\n"], True), tag="wrong-accept")
    wrong_accept_too = Backend(wrong_accept.handler, tag="wrong-accept-2")
    hold = HoldBackend()
    on, off, bad, held_port = free_ports(4)
    config = (config_head(plugins=("static", "round_robin"))
              + upstream("ws", [ws.port], 'read_timeout = "10s"')
              + upstream("bad", [wrong_accept.port, wrong_accept_too.port])
              + upstream("hold", [hold.port], 'read_timeout = "10s"')
              + h2_ws_listener("on", on, "ws", True)
              + h2_ws_listener("off", off, "ws", False)
              + h2_ws_listener("bad", bad, "bad", True)
              + h2_ws_listener("hold", held_port, "hold", True))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([on, off, bad, held_port])

    client = open_client(on)
    check_equal(client.server_settings.get(ENABLE_CONNECT_PROTOCOL), 1,
                "http2_websocket = true: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 is advertised")
    sid = extended_connect(client, "/echo", extra=[("sec-websocket-protocol", "chat")])
    client.wait(lambda: client.status(sid) is not None or sid in client.resets, "the extended CONNECT's answer")
    check_equal(client.status(sid), 200, "the backend's 101 becomes :status 200")
    check(sid not in client.ended and sid not in client.resets, "the 200 leaves the stream open", client.summary())
    check_equal(client.field(sid, "sec-websocket-accept"), None, "the backend's accept key is not passed on")
    with ws.lock:
        _, start, headers = ws.heads[-1]
    fields = {n.lower(): v for n, v in headers}
    check_equal(start, "GET /echo HTTP/1.1", "the backend gets a GET of the stream's :path")
    check_equal((fields.get("upgrade"), fields.get("host"), fields.get("sec-websocket-version"),
                 fields.get("sec-websocket-protocol")), ("websocket", "chat.test", "13", "chat"),
                "Upgrade, Host from :authority and the client's Sec-WebSocket-* fields reach the backend")
    check("upgrade" in fields.get("connection", "").lower(), "the backend gets Connection: upgrade", str(headers))
    check(len(fields.get("sec-websocket-key", "")) == 24, "the backend gets a Sec-WebSocket-Key of proxyd's own",
          str(headers))

    sock = WsStream(client, sid)
    for n in range(3):
        payload = ("message %d " % n).encode() * (n + 1)
        sock.message(1, payload)
        check_equal(sock.read("echo %d" % n), (1, payload), "message %d is echoed" % n)
    # An ordinary stream while the tunnel is open: /plain without Upgrade, which the backend refuses.
    plain = client.raw_headers([(":method", "GET"), (":scheme", "http"), (":path", "/plain"),
                                (":authority", "chat.test")])
    client.wait(lambda: plain in client.ended or plain in client.resets, "the ordinary stream's answer")
    check_equal((client.status(plain), client.data.get(plain)), (403, b"no upgrade for you\n"),
                "an ordinary stream beside the tunnel is served")
    big = os.urandom(BIG)
    sock.message(2, big)
    opcode, echoed = sock.read("the 70 KB echo")
    check(opcode == 2 and echoed == big, "a 70 KB message crosses both ways (flow control: WINDOW_UPDATEs as "
          "the upstream takes the bytes)", "opcode %d, %d bytes" % (opcode, len(echoed)))
    sock.message(1, b"last words")
    sock.end()
    check_equal(sock.read("the echo after END_STREAM"), (1, b"last words"),
                "what the backend sends after the client's END_STREAM still arrives")
    client.wait(lambda: sid in client.ended or sid in client.resets, "the stream's end after the backend closed")
    check(sid in client.ended and sid not in client.resets,
          "the backend's close ends the stream with END_STREAM (no reset)", client.summary())

    # The backend refuses the upgrade: its answer reaches the stream as a normal response.
    refused = extended_connect(client, "/refuse")
    client.wait(lambda: refused in client.ended or refused in client.resets, "the refused upgrade's answer")
    check_equal((client.status(refused), client.data.get(refused)), (403, b"no upgrade for you\n"),
                "a backend's 403 to the upgrade reaches the client")
    # Another protocol: 501.
    other = extended_connect(client, "/echo", protocol="connect-udp")
    client.wait(lambda: other in client.ended or other in client.resets, "the answer to :protocol connect-udp")
    check_equal(client.status(other), 501, "an extended CONNECT for another protocol is answered 501")

    # DATA sent right behind the extended CONNECT, before its 200 (a client need not wait): the
    # bytes wait for the tunnel and reach the backend after its 101.
    early = extended_connect(client, "/early")
    early_sock = WsStream(client, early)
    early_sock.message(1, b"sent before the 200")
    client.wait(lambda: client.status(early) is not None or early in client.resets, "the early tunnel's answer")
    check_equal(client.status(early), 200, "a tunnel whose client sent DATA before the 200 opens")
    check_equal(early_sock.read("the echo of the early message"), (1, b"sent before the 200"),
                "DATA sent before the 200 reaches the backend once it switched, and is echoed")
    client.send(rst_stream(early, CANCEL))
    # A refused upgrade with DATA behind it that looks like a request: the 403 is the answer, and
    # the held bytes never reach the backend, which keeps the connection for more requests.
    with ws.lock:
        heads_before = len(ws.heads)
    smuggle = extended_connect(client, "/refuse")
    WsStream(client, smuggle).send(b"GET /smuggled HTTP/1.1\r\nHost: chat.test\r\n\r\n")
    client.wait(lambda: smuggle in client.ended or smuggle in client.resets, "the refused upgrade's answer")
    check_equal(client.status(smuggle), 403, "the refused upgrade with DATA behind it gets the backend's 403")
    time.sleep(0.3)  # what the backend would have parsed from the held bytes arrives within this
    with ws.lock:
        seen = [start for _, start, _ in ws.heads[heads_before:]]
    check_equal(seen, ["GET /refuse HTTP/1.1"], "the bytes held behind a refused upgrade are not sent upstream")
    check(not client.closed and client.goaway is None, "the connection stays up", client.summary())
    client.close()

    # A 101 that does not answer proxyd's key: 502.
    client = open_client(bad)
    forged = extended_connect(client, "/echo")
    client.wait(lambda: forged in client.ended or forged in client.resets, "the answer to a wrong accept key")
    check_equal(client.status(forged), 502, "a backend 101 without the right Sec-WebSocket-Accept gives 502")
    ignored = extended_connect(client, "/ignore")
    client.wait(lambda: ignored in client.ended or ignored in client.resets, "the answer of a backend that ignores "
                "the upgrade")
    check_equal(client.status(ignored), 502,
                "a backend's 200 without a 101 is no tunnel: 502 (a 2xx would tell the client its WebSocket is open)")
    check_equal(len(wrong_accept.requests) + len(wrong_accept_too.requests), 2,
                "an unusable answer to an upgrade is not tried on the group's other peer")
    client.close()

    # The setting off (the default): not advertised; an extended CONNECT is reset, other streams served.
    client = open_client(off)
    check(ENABLE_CONNECT_PROTOCOL not in client.server_settings, "http2_websocket off: nothing advertised",
          str(client.server_settings))
    refused = extended_connect(client, "/echo")
    plain = client.raw_headers([(":method", "GET"), (":scheme", "http"), (":path", "/plain"),
                                (":authority", "chat.test")])
    client.wait(lambda: refused in client.resets and plain in client.ended, "the reset and the ordinary answer")
    check_equal(client.resets[refused], PROTOCOL_ERROR, "an extended CONNECT with the setting off: PROTOCOL_ERROR")
    check_equal(client.status(plain), 403, "the connection's other streams are served")
    client.close()

    # The client resets the stream mid-tunnel: the upstream connection is closed; an upstream that
    # resets its connection resets the stream; the connection's other streams go on.
    client = open_client(held_port)
    # A 200 streaming events instead of a 101: 502, and the upstream connection is closed at once
    # rather than read to an end that never comes.
    events = extended_connect(client, "/events")
    client.wait(lambda: events in client.ended or events in client.resets, "the answer to a 200 event stream")
    check_equal(client.status(events), 502, "a backend's endless 200 to a WebSocket request: 502")
    check(hold.events_ended.wait(3), "proxyd closes the connection of the endless 200 it refused")
    cancelled = extended_connect(client, "/hold")
    client.wait(lambda: client.status(cancelled) == 200, "the 200 of a tunnel to /hold")
    WsStream(client, cancelled).send(b"ping")
    client.wait(lambda: client.data.get(cancelled) == b"ping", "bytes echoed through the tunnel")
    client.send(rst_stream(cancelled, CANCEL))
    check(hold.ended.wait(3), "the client's RST_STREAM closes the tunnel's upstream connection")
    broken = extended_connect(client, "/reset")
    client.wait(lambda: broken in client.resets or broken in client.ended, "the end of a tunnel the upstream reset")
    check_equal((client.status(broken), client.resets.get(broken)), (200, CANCEL),
                "an upstream reset mid-tunnel resets the stream (CANCEL, RFC 8441 §5)")
    plain = client.raw_headers([(":method", "GET"), (":scheme", "http"), (":path", "/plain"),
                                (":authority", "chat.test")])
    client.wait(lambda: plain in client.resets or plain in client.ended, "an ordinary stream after them")
    check_equal(client.status(plain), 403, "an ordinary stream after them is served")
    check(not client.closed and client.goaway is None, "the connection outlives both tunnels", client.summary())
    client.close()

    # A reload: the tunnel lives on in the old generation (as an HTTP/1.1 tunnel does) after the
    # connection's GOAWAY, and still ends cleanly.
    hold.ended.clear()
    client = open_client(held_port)
    kept = extended_connect(client, "/hold")
    client.wait(lambda: client.status(kept) == 200, "the 200 of a tunnel before the reload")
    proxyd.send_signal(signal.SIGHUP)
    client.wait(lambda: client.goaway is not None and client.goaway[0] == kept, "the reload's GOAWAY naming the "
                "tunnel's stream as the last one")
    WsStream(client, kept).send(b"after the reload")
    client.wait(lambda: client.data.get(kept) == b"after the reload", "bytes echoed after the reload")
    client.send(frame(DATA, END_STREAM, kept, b""))
    client.wait(lambda: kept in client.ended or kept in client.resets, "the tunnel's end after the reload")
    check(kept in client.ended and kept not in client.resets and hold.ended.is_set(),
          "after a reload the tunnel still half-closes and ends cleanly", client.summary())
    check(client.wait_close(5), "then the old generation's connection closes")
    client.close()

    wait_for("the tunnel's access-log line",
             lambda: any(e["request_id"] == "ws-echo" and e["status"] == "200"
                         for e in access_log_entries(proxyd.stderr_text())), timeout=5)
    check_equal(proxyd.stop(), 0, "proxyd exit code")
    entries = [e for e in access_log_entries(proxyd.stderr_text())
               if e["request_id"] == "ws-echo" and e["status"] == "200"]
    check(len(entries) == 1 and entries[0]["upstream_status"] == "101" and entries[0]["request"].startswith(
          "GET /echo"), "the tunnel is logged once: 200 to the client, 101 from the upstream", str(entries))
    refused = [e for e in access_log_entries(proxyd.stderr_text()) if e["request"].startswith("GET /ignore")]
    check(len(refused) == 1 and refused[0]["status"] == "502" and refused[0]["upstream_status"] == "200",
          "a 200 without a 101 is logged as the 502 the client got", str(refused))
    marked = [line for line in proxyd.stderr_text().splitlines()
              if "upstream bad" in line and ("marked down" in line or "ejected" in line)]
    check(not marked, "a peer whose answer to an upgrade was unusable stays in rotation for other requests",
          str(marked))


if __name__ == "__main__":
    run_test(main)
