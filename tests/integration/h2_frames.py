"""A raw HTTP/2 client for conformance tests: python3-h2's connection object encodes what a good
client sends (the preface, SETTINGS, requests), hand-built frames carry what h2 refuses to send
(bad lengths, bad values, frames on the wrong stream), and the server's frames are parsed here,
frame by frame, so that every GOAWAY, RST_STREAM and SETTINGS is seen exactly as it came.

h2 never reads the server's bytes: its state machine would refuse the very answers the tests
provoke. Its HPACK encoder is shared with the hand-built header blocks, so the server's decoder
stays in step whichever path a block took."""

import os
import socket
import ssl
import struct
import sys
import time

try:
    import h2.config
    import h2.connection
    import hpack
except ImportError:  # pragma: no cover - depends on the machine
    # Debian's python3-h2 serves Debian's interpreter; a python3 earlier in PATH (pyenv, a venv)
    # may lack it. Run the same script with /usr/bin/python3 once, before giving up.
    if os.path.exists("/usr/bin/python3") and not os.environ.get("PROXYD_H2_REEXEC") and \
            os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.environ["PROXYD_H2_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    h2 = None
    hpack = None

# RFC 9113 §6: frame types and flags.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
               "WINDOW_UPDATE", "CONTINUATION"]
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# RFC 9113 §7: error codes.
ERROR_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
               "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
               "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
(NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR,
 REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM) = range(12)

# RFC 9113 §6.5.2: settings.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE = range(1, 7)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def error_name(code):
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else "0x%x" % code


def frame(kind, flags, stream_id, payload=b""):
    """One frame's bytes; the length comes from the payload."""
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", kind, flags, stream_id & 0x7FFFFFFF) + payload


def settings_payload(pairs):
    return b"".join(struct.pack(">HI", key, value) for key, value in pairs)


def window_update(stream_id, increment):
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def rst_stream(stream_id, code):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


class Target:
    """Where the server listens: host, port, TLS (ALPN h2) or cleartext prior knowledge."""

    def __init__(self, host, port, tls=False, authority=None, path="/", body=None):
        self.host, self.port, self.tls = host, port, tls
        self.authority = authority or "%s:%d" % (host, port)
        self.path = path  # a page that answers 200
        self.body = body  # its exact bytes, when known

    def connect(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.tls:
            return sock
        ctx = ssl._create_unverified_context()
        ctx.set_alpn_protocols(["h2"])
        tls = ctx.wrap_socket(sock, server_hostname="localhost")
        if tls.selected_alpn_protocol() != "h2":
            tls.close()
            raise ConformanceFailure("ALPN: the server chose %r, not h2" % tls.selected_alpn_protocol())
        return tls


class ConformanceFailure(Exception):
    pass


class Frame:
    def __init__(self, kind, flags, stream_id, payload):
        self.kind, self.flags, self.stream_id, self.payload = kind, flags, stream_id, payload

    def __repr__(self):
        name = FRAME_NAMES[self.kind] if self.kind < len(FRAME_NAMES) else "type%d" % self.kind
        return "%s(stream %d, flags 0x%x, %d bytes)" % (name, self.stream_id, self.flags, len(self.payload))


class H2Client:
    """One connection. Everything the server sends is kept: frames in order, and per stream the
    decoded header lists, the body bytes, END_STREAM and RST_STREAM codes; GOAWAY and the close."""

    def __init__(self, target, settings=(), preface=True, handshake=True, timeout=5.0):
        self.target = target
        self.timeout = timeout
        self.sock = target.connect(timeout)
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 20
        self.buf = bytearray()
        self.frames = []
        self.heads = {}       # stream id -> [header list, ...] (a final head, trailers)
        self.data = {}        # stream id -> body bytes
        self.ended = set()    # streams the server ended (END_STREAM)
        self.resets = {}      # stream id -> RST_STREAM error code
        self.goaway = None    # (last stream id, error code, debug data)
        self.closed = False   # EOF or reset from the server
        self.http1 = False    # the server answered in HTTP/1.x
        self.server_settings = None
        self.settings_acks = 0
        self.ping_acks = []
        self.block = None     # (stream id, flags, fragments) while CONTINUATIONs are due
        self.auto_window = True
        self.initial_window = 65535
        self.next_stream = 1
        self.send_failed = False
        if preface:
            self.h2.initiate_connection()
            pairs = dict(settings)
            if pairs:
                self.h2.update_settings(pairs)
                self.initial_window = pairs.get(INITIAL_WINDOW_SIZE, self.initial_window)
            self.flush()
        if handshake:
            self.wait(lambda: self.server_settings is not None and self.settings_acks >= 1,
                      "the server's SETTINGS and its ACK of ours")

    # ---- sending ----

    def send(self, data):
        # pump() leaves its own, often short, timeout on the socket; a sendall that timed out
        # part-way would leave half a frame on the wire, and the server would rightly take what
        # follows as garbage (a PROTOCOL_ERROR the test never provoked).
        # The timeout bounds the whole sendall: once one failed, nothing more is sent after its
        # half frame, so the failure shows as send_failed and never as the server's refusal.
        if self.send_failed:
            return
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.send_failed = True

    def flush(self):
        self.send(self.h2.data_to_send())

    def new_stream(self):
        stream_id = self.next_stream
        self.next_stream += 2
        return stream_id

    def request_headers(self, path=None, method="GET", extra=()):
        return [(":method", method), (":scheme", "https" if self.target.tls else "http"),
                (":authority", self.target.authority), (":path", path or self.target.path)] + list(extra)

    def request(self, path=None, method="GET", extra=(), end_stream=True):
        """A well-formed request through h2; returns its stream id."""
        stream_id = self.new_stream()
        self.h2.send_headers(stream_id, self.request_headers(path, method, extra), end_stream=end_stream)
        self.flush()
        return stream_id

    def encode(self, headers):
        """A header block from the shared HPACK encoder, names and values exactly as given."""
        return self.h2.encoder.encode([(n.encode("latin-1") if isinstance(n, str) else n,
                                        v.encode("latin-1") if isinstance(v, str) else v) for n, v in headers])

    def raw_headers(self, headers, stream_id=None, flags=END_HEADERS | END_STREAM):
        """A hand-built HEADERS frame (h2 refuses malformed requests); returns its stream id."""
        if stream_id is None:
            stream_id = self.new_stream()
        self.next_stream = max(self.next_stream, stream_id + 1 + stream_id % 2)
        self.send(frame(HEADERS, flags, stream_id, self.encode(headers)))
        return stream_id

    # ---- receiving ----

    def pump(self, timeout):
        """Reads what arrives within timeout (or until the close) and handles it."""
        if self.closed:
            return
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(1 << 18)
        except socket.timeout:
            return
        except (ConnectionResetError, ssl.SSLError, OSError):
            chunk = b""
        if not chunk:
            self.closed = True
            return
        self.buf += chunk
        self._parse()

    def _parse(self):
        if not self.frames and not self.http1 and self.buf[:5] == b"HTTP/":
            self.http1 = True
        if self.http1:
            return
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                return
            kind, flags = self.buf[3], self.buf[4]
            stream_id = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.buf[9:9 + length])
            del self.buf[:9 + length]
            self._handle(Frame(kind, flags, stream_id, payload))

    def _handle(self, f):
        self.frames.append(f)
        if f.kind == SETTINGS:
            if f.flags & ACK:
                self.settings_acks += 1
            else:
                self.server_settings = dict(struct.unpack(">HI", f.payload[i:i + 6])
                                            for i in range(0, len(f.payload) - 5, 6))
                self.send(frame(SETTINGS, ACK, 0))
        elif f.kind == PING:
            if f.flags & ACK:
                self.ping_acks.append(f.payload)
            else:
                self.send(frame(PING, ACK, 0, f.payload))
        elif f.kind == GOAWAY:
            last, code = struct.unpack(">II", f.payload[:8])
            self.goaway = (last & 0x7FFFFFFF, code, f.payload[8:])
        elif f.kind == RST_STREAM:
            self.resets[f.stream_id] = struct.unpack(">I", f.payload[:4])[0]
        elif f.kind == DATA:
            payload = f.payload
            if f.flags & PADDED:
                payload = payload[1:len(payload) - payload[0]]
            self.data[f.stream_id] = self.data.get(f.stream_id, b"") + payload
            if f.flags & END_STREAM:
                self.ended.add(f.stream_id)
            if self.auto_window and f.payload:
                self.send(window_update(0, len(f.payload)) + window_update(f.stream_id, len(f.payload)))
        elif f.kind == HEADERS:
            payload = f.payload
            if f.flags & PADDED:
                payload = payload[1:len(payload) - payload[0]]
            if f.flags & PRIORITY_FLAG:
                payload = payload[5:]
            self.block = (f.stream_id, f.flags, [payload])
            if f.flags & END_HEADERS:
                self._end_block()
        elif f.kind == CONTINUATION and self.block is not None:
            self.block[2].append(f.payload)
            if f.flags & END_HEADERS:
                self._end_block()

    def _end_block(self):
        stream_id, flags, fragments = self.block
        self.block = None
        fields = self.decoder.decode(b"".join(fragments), raw=True)
        self.heads.setdefault(stream_id, []).append([(n.decode("latin-1"), v.decode("latin-1")) for n, v in fields])
        if flags & END_STREAM:
            self.ended.add(stream_id)

    def wait(self, condition, what, timeout=None):
        """Reads until condition() holds; a failure naming `what` if the server closes or the
        time runs out first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not condition():
            if self.closed or time.monotonic() > deadline:
                raise ConformanceFailure("%s did not come (%s)" % (what, self.summary()))
            self.pump(deadline - time.monotonic())
        return True

    def settle(self, seconds):
        """Reads whatever the server sends during `seconds` (to show it sent nothing it should not)."""
        deadline = time.monotonic() + seconds
        while not self.closed and time.monotonic() < deadline:
            self.pump(deadline - time.monotonic())

    def wait_close(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.closed and time.monotonic() < deadline:
            self.pump(deadline - time.monotonic())
        return self.closed

    # ---- what came ----

    def status(self, stream_id):
        for head in self.heads.get(stream_id, []):
            for name, value in head:
                if name == ":status":
                    return int(value)
        return None

    def field(self, stream_id, name):
        """The first value of a field named `name` in the stream's heads (its final head, then its
        trailers), or None."""
        for head in self.heads.get(stream_id, []):
            for n, v in head:
                if n == name:
                    return v
        return None

    def response_done(self, stream_id):
        return stream_id in self.ended or stream_id in self.resets

    def summary(self):
        parts = []
        if self.http1:
            parts.append("an HTTP/1.x answer: %r" % bytes(self.buf[:40]))
        if self.goaway:
            parts.append("GOAWAY %s last stream %d %r" % (error_name(self.goaway[1]), self.goaway[0],
                                                          self.goaway[2][:80]))
        if self.resets:
            parts.append("RST_STREAM " + ", ".join("%d:%s" % (s, error_name(c)) for s, c in
                                                   sorted(self.resets.items())[:5]))
        if self.closed:
            parts.append("connection closed")
        parts.append("%d frames, last %r" % (len(self.frames), self.frames[-3:]))
        return "; ".join(parts)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
