#!/usr/bin/env python3
"""HTTP/2 conformance, RFC 9113 section by section, in raw frames (python3-h2 encodes, h2_frames.py
hand-builds what h2 refuses to send and reads the server's frames one by one).

Each check is a small function on fresh connections; its name carries the section. A connection
error must come as GOAWAY with the code named and the connection closed; a stream error as
RST_STREAM with the code named, the connection still serving a well-formed request afterwards.
The flood checks (Rapid Reset, CONTINUATION, SETTINGS, PING, PRIORITY and empty DATA floods)
want GOAWAY ENHANCE_YOUR_CALM or PROTOCOL_ERROR and the close, while a second connection opened
before the flood is still served.

    h2_conformance.py                          proxyd (PROXYD_BIN), an h2c listener it starts (ctest)
    h2_conformance.py --tls                    the same over TLS, ALPN h2
    h2_conformance.py --nghttpd                nghttpd (Debian nghttp2-server), to validate the checks
    h2_conformance.py --target HOST:PORT [--tls] [--path /x]   any running server
    ... --only WORD / --skip-group flood       a subset

Exits non-zero naming each failed check; bounded time (each wait 5 s at most, 3-5 s in all). A
check whose answer departs from the RFC the way the server's HTTP/2 library documents (nghttp2
ignores HEADERS on a stream it no longer knows) prints KNOWN DEVIATION and does not fail."""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2_frames import (ACK, CANCEL, COMPRESSION_ERROR, CONTINUATION, DATA, ENABLE_PUSH, END_HEADERS,  # noqa: E402
                       END_STREAM, ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR, NO_ERROR, FRAME_SIZE_ERROR, HEADERS,
                       INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, PING, PREFACE, PRIORITY,
                       PROTOCOL_ERROR, REFUSED_STREAM, RST_STREAM, SETTINGS, STREAM_CLOSED, ConformanceFailure,
                       H2Client, Target, error_name, frame, h2, rst_stream, settings_payload, window_update)

CHECKS = []


def conformance(name, group="rfc"):
    """Registers a check; name starts with the RFC section it holds the server to."""
    def register(fn):
        CHECKS.append((name, group, fn))
        return fn
    return register


def fail(text):
    raise ConformanceFailure(text)


class KnownDeviation(Exception):
    """The server departs from the RFC in a way its HTTP/2 library chose and documents: printed,
    not counted as a failure."""


class Skipped(Exception):
    """The check needs what this target does not offer (a listener with short timeouts)."""


# ---- what the answers must be --------------------------------------------------------------------

def expect_connection_error(client, codes, what, timeout=None):
    """GOAWAY with one of codes, then the close. An error before any frame (a server that does
    not speak HTTP/2 at all, or drops the bytes) must still close."""
    closed = client.wait_close(timeout)
    if client.goaway is None:
        fail("%s: expected GOAWAY %s%s (%s)" % (what, "/".join(map(error_name, codes)),
                                                "" if closed else " and a close", client.summary()))
    if client.goaway[1] not in codes:
        fail("%s: GOAWAY carries %s, expected %s" % (what, error_name(client.goaway[1]),
                                                     "/".join(map(error_name, codes))))
    if not closed:
        fail("%s: GOAWAY %s came but the connection stayed open" % (what, error_name(client.goaway[1])))


def expect_stream_error(client, stream_id, codes, what, escalation=False, head_allowed=False):
    """RST_STREAM with one of codes on stream_id, no response head, no GOAWAY; the connection then
    serves a well-formed request. With escalation, a connection error with one of codes will do
    too (§5.4: an endpoint MAY treat a stream error as a connection error)."""
    client.wait(lambda: stream_id in client.resets or client.goaway is not None or
                (stream_id in client.heads and not head_allowed),
                "%s: RST_STREAM %s on stream %d" % (what, "/".join(map(error_name, codes)), stream_id))
    if escalation and client.goaway is not None and stream_id not in client.resets:
        expect_connection_error(client, codes, what)
        return
    if client.goaway is not None:
        fail("%s: a connection error (GOAWAY %s) where a stream error was due" % (what,
                                                                                   error_name(client.goaway[1])))
    if stream_id in client.heads and not head_allowed:
        fail("%s: the malformed request was answered %s" % (what, client.status(stream_id)))
    if client.resets[stream_id] not in codes:
        fail("%s: RST_STREAM %s, expected %s" % (what, error_name(client.resets[stream_id]),
                                                 "/".join(map(error_name, codes))))
    expect_served(client, "%s: the connection serves the next request" % what)


def expect_served(client, what):
    """A GET of the target's page on a new stream: 200 and the whole body."""
    stream_id = client.request()
    if client.initial_window == 0:
        client.send(window_update(stream_id, 1 << 20))
    client.wait(lambda: client.response_done(stream_id) or client.goaway is not None, what)
    if client.goaway is not None or stream_id in client.resets:
        fail("%s: %s" % (what, client.summary()))
    if client.status(stream_id) != 200:
        fail("%s: status %s" % (what, client.status(stream_id)))
    body = client.data.get(stream_id, b"")
    if client.target.body is not None and body != client.target.body:
        fail("%s: body of %d bytes differs from the %d-byte file" % (what, len(body), len(client.target.body)))
    return stream_id


def connected(target, **options):
    return H2Client(target, **options)


# ---- §3.4 connection preface ---------------------------------------------------------------------

@conformance("§3.4 server preface: SETTINGS first, our SETTINGS acknowledged; §8.1 a GET served whole")
def preface_good(target):
    c = connected(target)
    if c.frames[0].kind != SETTINGS or c.frames[0].flags & ACK:
        fail("the server's first frame is %r, not SETTINGS" % c.frames[0])
    expect_served(c, "GET %s" % target.path)


@conformance("§3.4 a corrupted client preface: PROTOCOL_ERROR (or no HTTP/2), connection closed")
def preface_corrupted(target):
    c = connected(target, preface=False, handshake=False)
    c.send(PREFACE[:-6] + b"XX\r\n\r\n" + frame(SETTINGS, 0, 0))
    if not c.wait_close():
        fail("the connection stayed open after a bad preface (%s)" % c.summary())
    if c.goaway is not None and c.goaway[1] != PROTOCOL_ERROR:
        fail("GOAWAY %s after a bad preface, expected PROTOCOL_ERROR" % error_name(c.goaway[1]))
    if any(f.kind == HEADERS for f in c.frames):
        fail("a response after a bad preface")


@conformance("§3.4 the preface not followed by SETTINGS (a PING first): GOAWAY PROTOCOL_ERROR")
def preface_without_settings(target):
    c = connected(target, preface=False, handshake=False)
    c.send(PREFACE + frame(PING, 0, 0, b"12345678"))
    expect_connection_error(c, [PROTOCOL_ERROR], "PING before SETTINGS")


# ---- §6.5 SETTINGS, §4.2 frame size, §6.7 PING --------------------------------------------------

def bad_settings(target, pairs, codes, what):
    c = connected(target)
    c.send(frame(SETTINGS, 0, 0, settings_payload(pairs)))
    expect_connection_error(c, codes, what)


@conformance("§6.5.2 SETTINGS_ENABLE_PUSH = 2: GOAWAY PROTOCOL_ERROR")
def settings_enable_push_2(target):
    bad_settings(target, [(ENABLE_PUSH, 2)], [PROTOCOL_ERROR], "ENABLE_PUSH 2")


@conformance("§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE = 2^31: GOAWAY FLOW_CONTROL_ERROR")
def settings_initial_window_too_large(target):
    bad_settings(target, [(INITIAL_WINDOW_SIZE, 1 << 31)], [FLOW_CONTROL_ERROR], "INITIAL_WINDOW_SIZE 2^31")


@conformance("§6.5.2 SETTINGS_MAX_FRAME_SIZE = 16383: GOAWAY PROTOCOL_ERROR")
def settings_max_frame_size_too_small(target):
    bad_settings(target, [(MAX_FRAME_SIZE, 16383)], [PROTOCOL_ERROR], "MAX_FRAME_SIZE 16383")


@conformance("§6.5.2 SETTINGS_MAX_FRAME_SIZE = 2^24: GOAWAY PROTOCOL_ERROR")
def settings_max_frame_size_too_large(target):
    bad_settings(target, [(MAX_FRAME_SIZE, 1 << 24)], [PROTOCOL_ERROR], "MAX_FRAME_SIZE 2^24")


@conformance("§6.5 a SETTINGS payload of 5 bytes: GOAWAY FRAME_SIZE_ERROR")
def settings_bad_length(target):
    c = connected(target)
    c.send(frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00"))
    expect_connection_error(c, [FRAME_SIZE_ERROR], "SETTINGS of 5 bytes")


@conformance("§6.5 a SETTINGS ACK with a payload: GOAWAY FRAME_SIZE_ERROR")
def settings_ack_with_payload(target):
    c = connected(target)
    c.send(frame(SETTINGS, ACK, 0, settings_payload([(INITIAL_WINDOW_SIZE, 1000)])))
    expect_connection_error(c, [FRAME_SIZE_ERROR], "SETTINGS ACK with 6 bytes")


@conformance("§6.5 SETTINGS on stream 1: GOAWAY PROTOCOL_ERROR")
def settings_on_stream(target):
    c = connected(target)
    c.send(frame(SETTINGS, 0, 1, b""))
    expect_connection_error(c, [PROTOCOL_ERROR], "SETTINGS on stream 1")


@conformance("§6.5.2 an unknown setting is ignored: acknowledged, requests served")
def settings_unknown_ignored(target):
    c = connected(target)
    c.send(frame(SETTINGS, 0, 0, settings_payload([(0x7A7A, 12345)])))
    c.wait(lambda: c.settings_acks >= 2, "SETTINGS ACK for an unknown setting")
    expect_served(c, "served after an unknown setting")


@conformance("§4.2 a HEADERS frame over SETTINGS_MAX_FRAME_SIZE: GOAWAY FRAME_SIZE_ERROR")
def frame_over_max_size(target):
    c = connected(target)
    limit = c.server_settings.get(MAX_FRAME_SIZE, 16384)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, c.new_stream(), b"\x00" * (limit + 1)))
    expect_connection_error(c, [FRAME_SIZE_ERROR], "HEADERS of %d bytes" % (limit + 1))


@conformance("§6.7 PING answered with ACK and the same 8 bytes")
def ping_answered(target):
    c = connected(target)
    c.send(frame(PING, 0, 0, b"h2-check"))
    c.wait(lambda: c.ping_acks, "PING ACK")
    if c.ping_acks[0] != b"h2-check":
        fail("PING ACK carries %r" % c.ping_acks[0])


@conformance("§6.7 a PING of 7 bytes: GOAWAY FRAME_SIZE_ERROR")
def ping_bad_length(target):
    c = connected(target)
    c.send(frame(PING, 0, 0, b"1234567"))
    expect_connection_error(c, [FRAME_SIZE_ERROR], "PING of 7 bytes")


@conformance("§6.7 PING on stream 1: GOAWAY PROTOCOL_ERROR")
def ping_on_stream(target):
    c = connected(target)
    c.send(frame(PING, 0, 1, b"12345678"))
    expect_connection_error(c, [PROTOCOL_ERROR], "PING on stream 1")


# ---- §5.1 stream states, §5.1.1 stream identifiers ----------------------------------------------

@conformance("§5.1 DATA on an idle stream: GOAWAY PROTOCOL_ERROR")
def data_on_idle_stream(target):
    c = connected(target)
    c.send(frame(DATA, END_STREAM, 1, b"hello"))
    expect_connection_error(c, [PROTOCOL_ERROR], "DATA on idle stream 1")


@conformance("§5.4.1 a connection error from a client that has closed: the server ends the connection, "
             "serves on")
def connection_error_after_client_closed(target):
    # The GOAWAY reaches a socket the client closed, which answers it with a reset, so over TLS
    # the close_notify after it fails: proxyd's connection closes at once (it used to take the
    # step to lingering twice, an assert in debug builds, and proxyd stopped).
    for _ in range(3):
        c = connected(target)
        c.settle(0.1)  # nothing left unread: the close is a FIN, not a reset before our frame
        c.send(frame(DATA, END_STREAM, 1, b"hello"))
        c.close()
    expect_served(connected(target), "a new connection after three clients left mid-error")


@conformance("§5.1 RST_STREAM on an idle stream: GOAWAY PROTOCOL_ERROR")
def rst_on_idle_stream(target):
    c = connected(target)
    c.send(rst_stream(1, CANCEL))
    expect_connection_error(c, [PROTOCOL_ERROR], "RST_STREAM on idle stream 1")


@conformance("§5.1 WINDOW_UPDATE on an idle stream: GOAWAY PROTOCOL_ERROR")
def window_update_on_idle_stream(target):
    c = connected(target)
    c.send(window_update(1, 1000))
    expect_connection_error(c, [PROTOCOL_ERROR], "WINDOW_UPDATE on idle stream 1")


@conformance("§5.1 HEADERS on a closed stream: GOAWAY STREAM_CLOSED or PROTOCOL_ERROR, no answer")
def headers_on_closed_stream(target):
    c = connected(target)
    stream_id = expect_served(c, "the first request")
    c.raw_headers(c.request_headers(), stream_id=stream_id)
    c.wait_close(1.0)
    if len(c.heads.get(stream_id, [])) > 1:
        fail("the reused stream was answered again")
    if c.goaway is None and not c.closed:
        # nghttp2 knows a closed stream only while it keeps it for RFC 7540 priorities; a server
        # that turned those off (SETTINGS_NO_RFC7540_PRIORITIES) sees HEADERS on a stream it no
        # longer knows and, as for any lower stream id, ignores the block (nghttpd does; proxyd
        # checks stream ids itself and ends the connection).
        expect_served(c, "the connection after the ignored HEADERS")
        raise KnownDeviation("HEADERS on closed stream %d ignored, not a connection error (nghttp2's choice)"
                             % stream_id)
    expect_connection_error(c, [STREAM_CLOSED, PROTOCOL_ERROR], "HEADERS again on closed stream %d" % stream_id)


@conformance("§5.1.1 HEADERS on an even stream id: GOAWAY PROTOCOL_ERROR")
def headers_even_stream(target):
    c = connected(target)
    c.raw_headers(c.request_headers(), stream_id=2)
    expect_connection_error(c, [PROTOCOL_ERROR], "HEADERS on stream 2")


@conformance("§5.1.1 a stream id lower than one already used (5 then 3): GOAWAY PROTOCOL_ERROR")
def headers_decreasing_stream(target):
    c = connected(target)
    c.raw_headers(c.request_headers(), stream_id=5)
    c.raw_headers(c.request_headers(), stream_id=3)
    c.wait_close(1.0)
    if 3 in c.heads:
        fail("stream 3 was answered")
    if c.goaway is None and not c.closed:
        # nghttp2 ignores such a HEADERS on purpose (it cannot tell it from trailers racing its
        # own RST_STREAM without remembering every stream id), so nghttpd does the same; proxyd
        # remembers the streams it reset and ends the connection for the rest.
        expect_served(c, "the connection after the ignored HEADERS")
        raise KnownDeviation("HEADERS on stream 3 after 5 ignored, not a PROTOCOL_ERROR (nghttp2's choice)")
    expect_connection_error(c, [PROTOCOL_ERROR, STREAM_CLOSED], "HEADERS on stream 3 after 5")


@conformance("§6.2 HEADERS on stream 0: GOAWAY PROTOCOL_ERROR")
def headers_stream_zero(target):
    c = connected(target)
    c.raw_headers(c.request_headers(), stream_id=0)
    expect_connection_error(c, [PROTOCOL_ERROR], "HEADERS on stream 0")


@conformance("§5.1.2 max concurrent streams: the one over SETTINGS_MAX_CONCURRENT_STREAMS refused "
             "(RST_STREAM, the others served; or §5.4 GOAWAY PROTOCOL_ERROR before it)")
def max_concurrent_streams(target):
    # A zero window keeps every stream open: the server can send its heads but no body.
    c = connected(target, settings={INITIAL_WINDOW_SIZE: 0})
    limit = c.server_settings.get(MAX_CONCURRENT_STREAMS)
    if limit is None or limit > 1000:
        fail("SETTINGS_MAX_CONCURRENT_STREAMS is %s: no bound to test" % limit)
    streams = [c.new_stream() for _ in range(limit + 1)]
    c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, s, c.encode(c.request_headers())) for s in streams))
    over = streams[-1]
    c.wait(lambda: over in c.resets or c.goaway is not None, "RST_STREAM on stream %d (number %d)" % (over, limit + 1))
    if c.goaway is not None:
        # nghttp2 ends the connection once the limit it has seen acknowledged is passed (§5.4
        # allows it); the excess stream must not have been taken.
        if c.goaway[1] != PROTOCOL_ERROR or c.goaway[0] >= over or over in c.heads:
            fail("GOAWAY %s, last stream %d, for stream %d over the limit" % (error_name(c.goaway[1]),
                                                                           c.goaway[0], over))
        if not c.wait_close():
            fail("GOAWAY PROTOCOL_ERROR but the connection stayed open")
        print("     stream %d over the limit of %d: GOAWAY PROTOCOL_ERROR (§5.4)" % (over, limit), flush=True)
        return
    if c.resets[over] not in (REFUSED_STREAM, PROTOCOL_ERROR):
        fail("stream %d reset with %s, expected REFUSED_STREAM or PROTOCOL_ERROR" % (over,
                                                                                   error_name(c.resets[over])))
    print("     stream %d over the limit of %d: RST_STREAM %s" % (over, limit, error_name(c.resets[over])), flush=True)
    refused = [s for s in streams[:-1] if s in c.resets]
    if refused:
        fail("%d of the first %d streams were reset too (%s)" % (len(refused), limit, c.summary()))
    # Opening the window lets all of them finish (§6.9.2: SETTINGS changes every stream's window).
    c.send(frame(SETTINGS, 0, 0, settings_payload([(INITIAL_WINDOW_SIZE, 65535)])))
    c.initial_window = 65535
    c.wait(lambda: all(c.response_done(s) for s in streams[:-1]), "the %d responses" % limit, timeout=10)
    bad = [(s, c.status(s)) for s in streams[:-1] if c.status(s) != 200 or s in c.resets]
    if bad:
        fail("%d of %d streams not answered 200: %r" % (len(bad), limit, bad[:5]))
    expect_served(c, "a new stream after the %d finished" % limit)


# ---- §6.9 flow control ---------------------------------------------------------------------------

@conformance("§6.9.1 a zero stream window is respected: no DATA until WINDOW_UPDATE, then only as much")
def zero_window_respected(target):
    c = connected(target, settings={INITIAL_WINDOW_SIZE: 0})
    c.auto_window = False
    stream_id = c.request()
    c.settle(0.5)
    if c.data.get(stream_id):
        fail("%d body bytes sent into a zero window" % len(c.data[stream_id]))
    if c.response_done(stream_id) and stream_id in c.resets:
        fail("stream reset while waiting for the window: %s" % c.summary())
    c.send(window_update(stream_id, 100))
    c.wait(lambda: len(c.data.get(stream_id, b"")) >= 100 or c.response_done(stream_id), "100 bytes after "
           "WINDOW_UPDATE 100")
    c.settle(0.3)
    got = len(c.data.get(stream_id, b""))
    if got > 100:
        fail("%d bytes sent for a window of 100" % got)
    c.auto_window = True
    c.send(window_update(stream_id, 1 << 20))
    c.wait(lambda: c.response_done(stream_id), "the rest of the body")
    if c.status(stream_id) != 200 or (target.body is not None and c.data.get(stream_id) != target.body):
        fail("status %s, %d body bytes" % (c.status(stream_id), len(c.data.get(stream_id, b""))))


@conformance("§6.9 WINDOW_UPDATE of 0 on the connection: GOAWAY PROTOCOL_ERROR")
def window_update_zero_connection(target):
    c = connected(target)
    c.send(window_update(0, 0))
    expect_connection_error(c, [PROTOCOL_ERROR], "WINDOW_UPDATE 0 on stream 0")


@conformance("§6.9 WINDOW_UPDATE of 0 on an open stream: RST_STREAM PROTOCOL_ERROR")
def window_update_zero_stream(target):
    c = connected(target, settings={INITIAL_WINDOW_SIZE: 0})
    stream_id = c.request()
    c.send(window_update(stream_id, 0))
    expect_stream_error(c, stream_id, [PROTOCOL_ERROR], "WINDOW_UPDATE 0 on stream %d" % stream_id, escalation=True,
                        head_allowed=True)


@conformance("§6.9.1 the connection window over 2^31-1: GOAWAY FLOW_CONTROL_ERROR")
def window_overflow_connection(target):
    c = connected(target)
    c.send(window_update(0, (1 << 31) - 1))
    expect_connection_error(c, [FLOW_CONTROL_ERROR], "connection window 65535 + 2^31-1")


@conformance("§6.9.1 a stream window over 2^31-1: RST_STREAM FLOW_CONTROL_ERROR")
def window_overflow_stream(target):
    c = connected(target, settings={INITIAL_WINDOW_SIZE: 0})
    stream_id = c.request()
    c.send(window_update(stream_id, (1 << 31) - 1) + window_update(stream_id, 1))
    c.wait(lambda: stream_id in c.resets or c.goaway is not None, "RST_STREAM FLOW_CONTROL_ERROR")
    if c.goaway is not None or c.resets[stream_id] != FLOW_CONTROL_ERROR:
        fail("expected RST_STREAM FLOW_CONTROL_ERROR on stream %d: %s" % (stream_id, c.summary()))
    expect_served(c, "served after a stream's window overflowed")


# ---- §4.3 and RFC 7541: HPACK --------------------------------------------------------------------

def bad_block(target, block, what):
    c = connected(target)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, c.new_stream(), block))
    expect_connection_error(c, [COMPRESSION_ERROR], what)


@conformance("§4.3 HPACK: an index past the static and empty dynamic table: GOAWAY COMPRESSION_ERROR")
def hpack_bad_index(target):
    bad_block(target, bytes([0x82, 0x86, 0xFE]), "indexed field 126")


@conformance("§4.3 HPACK: a table size update over SETTINGS_HEADER_TABLE_SIZE: GOAWAY COMPRESSION_ERROR")
def hpack_table_size_too_large(target):
    # 0x3F then 1 MiB - 31 as an HPACK integer (RFC 7541 §5.1, §6.3).
    value, out = (1 << 20) - 31, [0x3F]
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    bad_block(target, bytes(out) + bytes([0x82, 0x86, 0x84]), "dynamic table size update to 1 MiB")


@conformance("§4.3 HPACK: a Huffman string holding EOS: GOAWAY COMPRESSION_ERROR")
def hpack_bad_huffman(target):
    # Literal without indexing, new name (RFC 7541 §6.2.2), Huffman-coded, 4 bytes of ones = EOS.
    bad_block(target, bytes([0x82, 0x86, 0x84, 0x00, 0x84]) + b"\xff\xff\xff\xff" + b"\x01a",
              "Huffman string with EOS")


@conformance("§4.3 HPACK: a table size update after a field: GOAWAY COMPRESSION_ERROR")
def hpack_late_size_update(target):
    bad_block(target, bytes([0x82, 0x20, 0x86, 0x84]), "size update after :method")


# ---- §8.2, §8.3 fields: malformed requests are stream errors --------------------------------------

def malformed(target, headers, what, flags=END_HEADERS | END_STREAM):
    c = connected(target)
    stream_id = c.raw_headers(headers, flags=flags)
    expect_stream_error(c, stream_id, [PROTOCOL_ERROR], what)


def base(target, drop=(), extra=()):
    headers = [(":method", "GET"), (":scheme", "https" if target.tls else "http"), (":authority", target.authority),
               (":path", target.path)]
    return [(n, v) for n, v in headers if n not in drop] + list(extra)


@conformance("§8.2.1 an upper-case field name: RST_STREAM PROTOCOL_ERROR")
def field_upper_case(target):
    malformed(target, base(target, extra=[("X-Upper", "1")]), "X-Upper")


@conformance("§8.2.1 a field value with CR LF: RST_STREAM PROTOCOL_ERROR")
def field_value_crlf(target):
    malformed(target, base(target, extra=[("x-split", "a\r\nx-injected: b")]), "a value with CR LF")


@conformance("§8.2.2 a connection-specific field (connection: keep-alive): RST_STREAM PROTOCOL_ERROR")
def field_connection(target):
    malformed(target, base(target, extra=[("connection", "keep-alive")]), "connection: keep-alive")


@conformance("§8.2.2 transfer-encoding: chunked: RST_STREAM PROTOCOL_ERROR")
def field_transfer_encoding(target):
    malformed(target, base(target, extra=[("transfer-encoding", "chunked")]), "transfer-encoding")


@conformance("§8.2.2 te: gzip: RST_STREAM PROTOCOL_ERROR")
def field_te_gzip(target):
    malformed(target, base(target, extra=[("te", "gzip")]), "te: gzip")


@conformance("§8.1.1 content-length 10 with 5 bytes of DATA: RST_STREAM PROTOCOL_ERROR")
def content_length_mismatch(target):
    c = connected(target)
    headers = c.request_headers(method="POST", extra=[("content-type", "text/plain"), ("content-length", "10")])
    # In one write: a response complete before the body (the static page's 405) ends the stream
    # with RST_STREAM NO_ERROR (§8.1), and a short body sent after it is never read.
    stream_id = c.new_stream()
    c.send(frame(HEADERS, END_HEADERS, stream_id, c.encode(headers)) + frame(DATA, END_STREAM, stream_id, b"12345"))
    # The server may have answered the head before the short body ended it.
    expect_stream_error(c, stream_id, [PROTOCOL_ERROR], "content-length 10, 5 bytes", head_allowed=True)


@conformance("§8.1 a response complete before the request's body: RST_STREAM NO_ERROR after it")
def early_response_resets(target):
    # A client that never sends the rest would otherwise keep the stream, and the connection,
    # open with no timeout running.
    c = connected(target)
    headers = c.request_headers(method="POST", extra=[("content-type", "text/plain"), ("content-length", "100000")])
    stream_id = c.raw_headers(headers, flags=END_HEADERS)
    c.wait(lambda: stream_id in c.resets, "RST_STREAM after the early response on stream %d" % stream_id)
    if c.status(stream_id) is None or stream_id not in c.ended or c.resets[stream_id] != NO_ERROR:
        fail("early response: status %s, ended %s, RST_STREAM %s; expected a complete response, then "
             "RST_STREAM NO_ERROR" % (c.status(stream_id), stream_id in c.ended, error_name(c.resets[stream_id])))
    c.send(frame(DATA, 0, stream_id, b"x" * 1000))  # the body, sent before the client read the reset
    expect_served(c, "early response: the connection serves the next request")


@conformance("§8.2.2 te: trailers is allowed: 200")
def field_te_trailers(target):
    c = connected(target)
    stream_id = c.raw_headers(base(target, extra=[("te", "trailers")]))
    c.wait(lambda: c.response_done(stream_id) or c.goaway is not None, "the answer to te: trailers")
    if c.status(stream_id) != 200 or stream_id in c.resets:
        fail("te: trailers: %s, status %s" % (c.summary(), c.status(stream_id)))


@conformance("§8.3.1 no :method: RST_STREAM PROTOCOL_ERROR")
def pseudo_missing_method(target):
    malformed(target, base(target, drop=[":method"]), "no :method")


@conformance("§8.3.1 no :path: RST_STREAM PROTOCOL_ERROR")
def pseudo_missing_path(target):
    malformed(target, base(target, drop=[":path"]), "no :path")


@conformance("§8.3.1 no :scheme: RST_STREAM PROTOCOL_ERROR")
def pseudo_missing_scheme(target):
    malformed(target, base(target, drop=[":scheme"]), "no :scheme")


@conformance("§8.3.1 an empty :path: RST_STREAM PROTOCOL_ERROR")
def pseudo_empty_path(target):
    malformed(target, [(n, "" if n == ":path" else v) for n, v in base(target)], "empty :path")


@conformance("§8.3.1 :path twice: RST_STREAM PROTOCOL_ERROR")
def pseudo_duplicate_path(target):
    malformed(target, base(target)[:3] + [(":path", target.path), (":path", target.path)], "two :path")


@conformance("§8.3 a pseudo-header after a regular field: RST_STREAM PROTOCOL_ERROR")
def pseudo_after_regular(target):
    headers = base(target, drop=[":path"]) + [("x-first", "1"), (":path", target.path)]
    malformed(target, headers, ":path after x-first")


@conformance("§8.3 an unknown pseudo-header (:foo): RST_STREAM PROTOCOL_ERROR")
def pseudo_unknown(target):
    malformed(target, base(target)[:2] + [(":foo", "bar")] + base(target)[2:], ":foo")


@conformance("§8.3.2 a response pseudo-header (:status) in a request: RST_STREAM PROTOCOL_ERROR")
def pseudo_status_in_request(target):
    malformed(target, base(target)[:4] + [(":status", "200")], ":status in a request")


# ---- §8.3.1 the request head as proxyd serves it: the same answers as its HTTP/1.1 request line ----
# proxyd takes a stream's head from its fields (no HTTP/1.1 text parsed back); what nghttp2 lets
# through must still be answered as a request line carrying it would be ("proxyd" group: nghttpd
# answers these its own way).

def answered(target, headers, what, flags=END_HEADERS | END_STREAM, data=None):
    """Sends a request (hand-built, with an optional body); returns (status, reset code or None)."""
    c = connected(target)
    stream_id = c.raw_headers(headers, flags=flags)
    if data is not None:
        c.send(frame(DATA, END_STREAM, stream_id, data))
    c.wait(lambda: c.response_done(stream_id) or c.goaway is not None, what)
    if c.goaway is not None:
        fail("%s: a connection error (%s)" % (what, c.summary()))
    return c.status(stream_id), c.resets.get(stream_id)


def expect_status(target, headers, statuses, what, **options):
    """A final answer with one of statuses (no RST_STREAM), and the connection still serving."""
    status, reset = answered(target, headers, what, **options)
    if status not in statuses or (reset is not None and reset != NO_ERROR):
        fail("%s: status %s, reset %s; expected %s" % (what, status, reset if reset is None else error_name(reset),
                                                        "/".join(map(str, statuses))))


def expect_refused(target, headers, what, statuses=(400,)):
    """RST_STREAM PROTOCOL_ERROR (nghttp2's refusal) or one of statuses (proxyd's), never served."""
    status, reset = answered(target, headers, what)
    if reset == PROTOCOL_ERROR and status is None:
        return
    if status in statuses:
        return
    fail("%s: status %s, reset %s; expected RST_STREAM PROTOCOL_ERROR or %s" % (
        what, status, reset if reset is None else error_name(reset), "/".join(map(str, statuses))))


def with_field(target, name, value):
    return [(n, value if n == name else v) for n, v in base(target)]


@conformance("§8.3.1 OPTIONS with :path * to a static handler: the server's own 200 (RFC 9110 §9.3.7)",
             group="proxyd")
def head_path_asterisk_options(target):
    headers = [(n, {":method": "OPTIONS", ":path": "*"}.get(n, v)) for n, v in base(target)]
    expect_status(target, headers, (200,), "OPTIONS *")


@conformance("§8.3.1 GET with :path *: refused (RST_STREAM or 400), not served", group="proxyd")
def head_path_asterisk_get(target):
    expect_refused(target, with_field(target, ":path", "*"), "GET *")


@conformance("§8.3.1 a :path with a space: refused (RST_STREAM or 400), not served", group="proxyd")
def head_path_space(target):
    expect_refused(target, with_field(target, ":path", target.path + " x"), ":path with a space")


@conformance("§8.3.1 a :path with a non-ASCII byte: 400, as in a request line", group="proxyd")
def head_path_non_ascii(target):
    expect_refused(target, with_field(target, ":path", target.path + "?caf\xc3\xa9"), ":path with 0xc3 0xa9")


@conformance("§8.3.1 a :path with DEL (0x7f): refused (RST_STREAM or 400)", group="proxyd")
def head_path_del(target):
    expect_refused(target, with_field(target, ":path", target.path + "?a\x7f"), ":path with DEL")


@conformance("§8.3.1 a :path longer than max_uri_bytes: 414", group="proxyd")
def head_path_too_long(target):
    expect_status(target, with_field(target, ":path", target.path + "?" + "q" * 9000), [414], "a 9 KB :path")


@conformance("§8.1.1 content-length with a non-digit (5a): refused, not served", group="proxyd")
def head_content_length_non_digit(target):
    headers = with_field(target, ":method", "POST") + [("content-length", "5a")]
    expect_refused(target, headers, "content-length: 5a")


@conformance("§8.1.1 two content-length fields that differ: refused, not served", group="proxyd")
def head_content_length_twice(target):
    headers = with_field(target, ":method", "POST") + [("content-length", "3"), ("content-length", "4")]
    expect_refused(target, headers, "content-length 3 and 4")


@conformance("§8.3.1 a :method with a byte outside token (G(T): refused, not served", group="proxyd")
def head_method_bad_byte(target):
    expect_refused(target, with_field(target, ":method", "G(T"), ":method G(T")


@conformance("§8.3.1 a :method longer than 64 bytes: 501, as in a request line", group="proxyd")
def head_method_too_long(target):
    expect_status(target, with_field(target, ":method", "M" * 65), [501], "a 65-byte :method")


@conformance("§8.3.1 an extension method (PURGE) is answered as in HTTP/1.1, not reset", group="proxyd")
def head_extension_method(target):
    expect_status(target, with_field(target, ":method", "PURGE"), [405, 501], "PURGE")


@conformance("§8.3.1 a POST without content-length: its body ends with END_STREAM, answered", group="proxyd")
def head_body_without_length(target):
    headers = with_field(target, ":method", "POST")
    expect_status(target, headers, [405], "POST, body without length", flags=END_HEADERS, data=b"hello")


@conformance("§8.3.1 a host field that names another authority than :authority: RST_STREAM PROTOCOL_ERROR",
             group="proxyd")
def head_host_mismatch(target):
    malformed(target, base(target, extra=[("host", "elsewhere.example")]), "host elsewhere.example")


@conformance("§8.3.1 an absolute-form :path under a :scheme nghttp2 does not check: RST_STREAM PROTOCOL_ERROR",
             group="proxyd")
def head_path_absolute_form(target):
    swapped = {":scheme": "x", ":path": "http://elsewhere.example/"}
    headers = [(n, swapped.get(n, v)) for n, v in base(target)]
    malformed(target, headers, "x scheme, :path http://elsewhere.example/")


@conformance("§8.5 CONNECT (no :protocol): 501, not tunnelled", group="proxyd")
def head_connect(target):
    headers = [(":method", "CONNECT"), (":authority", target.authority)]
    expect_status(target, headers, [501], "CONNECT")


# ---- floods: the connection ends, a second connection is still served ----------------------------

def flood(target, attack, what, bystander_check=True):
    """Opens a bystander connection, then a flooding one: attack(client) sends the flood; the
    flooder must get GOAWAY ENHANCE_YOUR_CALM or PROTOCOL_ERROR and be closed, the bystander
    served afterwards."""
    bystander = connected(target)
    c = connected(target)
    attack(c)
    expect_connection_error(c, [ENHANCE_YOUR_CALM, PROTOCOL_ERROR], what, timeout=8)
    if bystander_check:
        expect_served(bystander, "%s: a second connection is still served" % what)


@conformance("flood: Rapid Reset (CVE-2023-44487), 2000 streams opened and cancelled at once", group="flood")
def flood_rapid_reset(target):
    def attack(c):
        out = bytearray()
        for _ in range(2000):
            stream_id = c.new_stream()
            out += frame(HEADERS, END_HEADERS | END_STREAM, stream_id, c.encode(c.request_headers()))
            out += rst_stream(stream_id, CANCEL)
        c.send(bytes(out))
    flood(target, attack, "Rapid Reset")


@conformance("flood: CONTINUATION (the 2024 flood), one HEADERS and 1000 CONTINUATION frames", group="flood")
def flood_continuation(target):
    def attack(c):
        field = bytes([0x00, 0x01]) + b"x" + bytes([0x01]) + b"y"  # literal, not indexed: x: y
        out = bytearray(frame(HEADERS, END_STREAM, c.new_stream(), c.encode(c.request_headers())))
        for _ in range(1000):
            out += frame(CONTINUATION, 0, c.next_stream - 2, field)
        c.send(bytes(out))
    flood(target, attack, "CONTINUATION flood")


@conformance("flood: 20000 SETTINGS frames, their ACKs left unread", group="flood")
def flood_settings(target):
    flood(target, lambda c: c.send(frame(SETTINGS, 0, 0) * 20000), "SETTINGS flood")


@conformance("flood: 20000 PING frames, their ACKs left unread", group="flood")
def flood_ping(target):
    flood(target, lambda c: c.send(frame(PING, 0, 0, b"pingpong") * 20000), "PING flood")


@conformance("flood: 5000 PRIORITY frames", group="flood")
def flood_priority(target):
    def attack(c):
        c.send(b"".join(frame(PRIORITY, 0, 1 + 2 * i, b"\x00\x00\x00\x00\x10") for i in range(5000)))
    flood(target, attack, "PRIORITY flood")


@conformance("flood: 5000 empty DATA frames on an open request", group="flood")
def flood_empty_data(target):
    def attack(c):
        # In one write, so that the frames reach the stream while it is open: answered (the static
        # page's 405), it is reset (§8.1), and nghttp2 drops DATA on a closed stream unread.
        stream_id = c.new_stream()
        headers = c.encode(c.request_headers(method="POST", extra=[("content-type", "text/plain")]))
        c.send(frame(HEADERS, END_HEADERS, stream_id, headers) + frame(DATA, 0, stream_id) * 5000)
    flood(target, attack, "empty DATA flood")


# ---- timeouts (a listener with short send_timeout and keepalive_timeout) ------------------------

@conformance("§6.9 a stream whose window stays at zero is reset (CANCEL) after send_timeout, complete or "
             "still streaming, the others served; a connection left without streams gets GOAWAY NO_ERROR "
             "after keepalive_timeout and is closed", group="timeout")
def zero_window_and_idle_timeouts(target):
    short = getattr(target, "short_timeouts", None)
    if short is None:
        raise Skipped("no listener with short timeouts on this target")
    c = connected(short, settings={INITIAL_WINDOW_SIZE: 0})
    started = time.monotonic()
    complete = c.request()              # the page fits in proxyd's queue: its exchange completes
    streaming = c.request(short.big_path)  # the large file: its exchange pauses on the queue
    served = c.request()
    c.send(window_update(served, 1 << 20))
    stalled = (complete, streaming)
    c.wait(lambda: c.response_done(served) and all(s in c.resets for s in stalled),
           "RST_STREAM on the stalled streams %r" % (stalled,), timeout=short.send_timeout + 4)
    elapsed = time.monotonic() - started
    if elapsed < short.send_timeout * 0.8:
        fail("the stalled streams were reset after %.2f s, before send_timeout (%.1f s)" % (elapsed,
                                                                                          short.send_timeout))
    for s in stalled:
        if c.resets[s] != CANCEL:
            fail("stalled stream %d reset with %s, expected CANCEL" % (s, error_name(c.resets[s])))
        if s in c.ended:
            fail("stalled stream %d ended as if complete" % s)
    if served in c.resets or c.status(served) != 200 or c.data.get(served) != short.body:
        fail("the stream with a window was not served whole: %s" % c.summary())
    if c.goaway is not None:
        fail("a connection error where two stream resets were due: %s" % c.summary())
    print("     stalled streams reset after %.2f s" % elapsed, flush=True)
    log = getattr(short, "access_log", None)
    if log is not None:
        # The streaming one was cut: its line counts the body bytes that left, not the file's.
        line = None
        deadline = time.monotonic() + 3
        while line is None and time.monotonic() < deadline:
            with open(log, "rb") as f:
                line = next((l for l in f.read().decode("latin-1").splitlines() if short.big_path + " HTTP/2.0" in l),
                            None)
            time.sleep(0.05)
        found = re.search(r'" (\d{3}) (\d+) ', line or "")
        if not found or int(found.group(2)) >= short.big_size:
            fail("the cut stream's access log line does not say it was cut short: %r" % line)
        print("     access log: %s %s bytes of %d" % (found.group(1), found.group(2), short.big_size), flush=True)
    expect_served(connected(short), "a second connection while the first waits for its idle timeout")
    idle_since = time.monotonic()
    if not c.wait_close(short.keepalive_timeout + 4):
        fail("the connection without streams stayed open past keepalive_timeout (%s)" % c.summary())
    if c.goaway is None or c.goaway[1] != NO_ERROR or c.goaway[0] != served:
        fail("the idle connection closed without GOAWAY NO_ERROR naming stream %d (%s)" % (served, c.summary()))
    print("     idle connection: GOAWAY NO_ERROR and the close after %.2f s" % (time.monotonic() - idle_since),
          flush=True)


# ---- running ------------------------------------------------------------------------------------

def run_checks(target, only=(), skip_groups=()):
    """Runs the selected checks; prints one line each; returns the names of the failed ones."""
    failed = []
    ran = 0
    started = time.monotonic()
    for name, group, fn in CHECKS:
        if group in skip_groups or (only and not any(word in name or word in fn.__name__ for word in only)):
            continue
        ran += 1
        t0 = time.monotonic()
        try:
            fn(target)
            print("ok   %s (%.2f s)" % (name, time.monotonic() - t0), flush=True)
        except KnownDeviation as deviation:
            print("ok   %s -- KNOWN DEVIATION: %s" % (name, deviation), flush=True)
        except Skipped as why:
            print("skip %s -- %s" % (name, why), flush=True)
        except ConformanceFailure as error:
            print("FAIL %s -- %s" % (name, error), flush=True)
            failed.append(name)
        except Exception as error:  # a socket error, or h2 refusing what a check asked of it
            print("FAIL %s -- %s: %s" % (name, type(error).__name__, error), flush=True)
            failed.append(name)
    print("     %d checks in %.1f s, %d failed" % (ran, time.monotonic() - started, len(failed)), flush=True)
    return failed


def page_fixture(folder):
    """The page every check requests: 1 KiB of text, and its bytes."""
    body = (b"<!doctype html><title>h2</title><p>" + b"conformance " * 90)[:1024]
    with open(os.path.join(folder, "index.html"), "wb") as f:
        f.write(body)
    return "/index.html", body


def run_against_proxyd(args):
    from h2_setup import require_http2
    from proxyd_harness import (HOST, Proxyd, TestFailure, config_head, free_ports, make_certificate, run_test,
                                static_handler, toml_str, workdir, write_file)

    def main():
        if h2 is None:
            raise TestFailure("python3-h2 is not installed (packaging/build-deps.sh --test installs it)")
        folder = workdir("h2-conformance")
        docroot = os.path.join(folder, "www")
        os.makedirs(docroot)
        path, body = page_fixture(docroot)
        big_size = 1 << 20
        with open(os.path.join(docroot, "big.bin"), "wb") as f:
            f.write(b"z" * big_size)
        port, short_port = free_ports(2)
        tls = ""
        if args.tls:
            cert, key = make_certificate(folder, "site", ["localhost"], ips=[HOST])
            tls = "tls = { certificate = %s, key = %s }\n" % (toml_str(cert), toml_str(key))
        config = (config_head(access=os.path.join(folder, "access.log")) + static_handler("site", docroot) +
                  "[[listeners]]\nname = \"h2\"\nlisten = %s\nhandler = \"site\"\nhttp2 = true\n%s\n"
                  % (toml_str("%s:%d" % (HOST, port)), tls) +
                  # The timeout checks' listener: seconds, not the minute of the defaults.
                  "[[listeners]]\nname = \"h2-short\"\nlisten = %s\nhandler = \"site\"\nhttp2 = true\n"
                  "limits = { send_timeout = \"1s\", keepalive_timeout = \"1s\" }\n%s\n"
                  % (toml_str("%s:%d" % (HOST, short_port)), tls))
        config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
        require_http2(config_path)
        proxyd = Proxyd(config_path, folder)
        proxyd.start([port, short_port])
        target = Target(HOST, port, tls=args.tls, path=path, body=body)
        target.short_timeouts = Target(HOST, short_port, tls=args.tls, path=path, body=body)
        target.short_timeouts.big_path = "/big.bin"
        target.short_timeouts.big_size = big_size
        target.short_timeouts.access_log = os.path.join(folder, "access.log")
        target.short_timeouts.send_timeout = target.short_timeouts.keepalive_timeout = 1.0
        failed = run_checks(target, args.only, args.skip_group)
        if not proxyd.alive():
            raise TestFailure("proxyd exited during the checks")
        if failed:
            raise TestFailure("%d checks failed:\n  %s" % (len(failed), "\n  ".join(failed)))

    run_test(main)


def run_against_nghttpd(args):
    """nghttpd serving a temporary folder, cleartext (or TLS with a fresh certificate)."""
    import tempfile
    if shutil.which("nghttpd") is None:
        sys.exit("nghttpd is not installed (apt-get install nghttp2-server)")
    from proxyd_harness import HOST, die_with_parent, free_port, make_certificate, port_accepts
    folder = tempfile.mkdtemp(prefix="h2-nghttpd-")
    path, body = page_fixture(folder)
    port = free_port()
    cmd = ["nghttpd", "-a", HOST, "-d", folder, "--no-content-length"]
    if args.tls:
        cert, key = make_certificate(folder, "site", ["localhost"], ips=[HOST])
        cmd += [str(port), key, cert]
    else:
        cmd += ["--no-tls", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 5
        while not port_accepts(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        # The "proxyd" checks hold the answers proxyd gives (414, 501, ...), not the RFC's alone.
        failed = run_checks(Target(HOST, port, tls=args.tls, path=path, body=body), args.only,
                            args.skip_group + ["proxyd"])
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tls", action="store_true", help="TLS with ALPN h2 instead of cleartext h2c")
    parser.add_argument("--nghttpd", action="store_true", help="check nghttpd instead of proxyd")
    parser.add_argument("--target", help="HOST:PORT of a running server")
    parser.add_argument("--path", default="/", help="with --target: a path answered 200")
    parser.add_argument("--only", action="append", default=[], help="checks whose name holds this word")
    parser.add_argument("--skip-group", action="append", default=[], help="rfc or flood")
    args = parser.parse_args()
    if args.nghttpd or args.target:
        if h2 is None:
            sys.exit("python3-h2 is not installed")
        if args.target:
            host, _, port = args.target.rpartition(":")
            failed = run_checks(Target(host, int(port), tls=args.tls, path=args.path), args.only, args.skip_group)
        else:
            failed = run_against_nghttpd(args)
        if failed:
            print("FAIL: %d checks:\n  %s" % (len(failed), "\n  ".join(failed)))
            sys.exit(1)
        print("PASS")
        return
    run_against_proxyd(args)


if __name__ == "__main__":
    main()
