#!/usr/bin/env python3
"""The request view's ABI 1.6 members in the real proxyd, as plugins read them: `protocol` names
what the client spoke and `received_ns` when its request began.

The plain C fixture tests/loader/content_request_view.c (built against the frozen 1.6 header)
answers with both; the headers filter renders them as $protocol and $request_time. What a
plugin author relies on:
- protocol is HTTP/1.0 and HTTP/1.1 as sent, and HTTP/2.0 for h2c (prior knowledge) and for h2
  over TLS (ALPN), where http_major/http_minor read 1.1 (so a log plugin can tell them apart);
- received_ns is the request's first byte on the monotonic clock: a head sent in two parts
  1 s apart is old when the handler runs (at least half that, leaving room for a stalled
  machine), and $request_time says the same in seconds; an HTTP/2 stream whose CONTINUATION
  completes its head 1 s after its HEADERS frame counts from the HEADERS frame, and so does the
  access log's request time of such a head refused (501, an over-long method); a prompt request
  is young (under 10 s: a bound, not a timing); the second request of a keep-alive connection, sent 1.5 s after the
  first, counts from its own start.
curl comes from Debian's curl; every process is stopped by its PID; ~5 s."""

import os
import re
import socket
import struct
import time

from h2_setup import h2_listener, require_http2
from proxyd_harness import (HOST, Client, Proxyd, access_log_entries, check, check_equal, config_head, curl,
                            free_ports, header_of, make_certificate, run_test, toml_str, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_request_view.so")
# A gap long enough that proxyd has read the head's first part before the second arrives, even
# on a loaded machine; the assertions leave half of it for such stalls.
SLOW_HEAD_GAP = 1.0
KEEPALIVE_GAP = 1.5


def parse_answer(body):
    """{"protocol": ..., "age_ns": ...} from the fixture's body."""
    fields = dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)
    check("protocol" in fields and "age_ns" in fields, "the fixture answered its two lines", body)
    check(fields["age_ns"] != "none", "received_ns is set and not in the future", body)
    return fields["protocol"], int(fields["age_ns"])


def check_answer(status, headers, body, protocol, what):
    check_equal(status, 200, what + ": status")
    got, age_ns = parse_answer(body)
    check_equal(got, protocol, what + ": protocol in the request view")
    check_equal(header_of(headers, "X-Protocol"), protocol, what + ": $protocol of the headers filter")
    check(age_ns < 10 * 10**9, what + ": received_ns is this request's (age %d ns)" % age_ns)


def raw_get(port, version):
    with Client(port) as client:
        client.send(("GET /view HTTP/%s\r\nHost: x\r\n\r\n" % version).encode())
        response = client.read_response()
    return response.status, response.headers, response.body


def slow_head(port):
    """A head whose second half comes SLOW_HEAD_GAP seconds after its first byte."""
    with Client(port) as client:
        client.send(b"GET /slow HTTP/1.1\r\n")
        time.sleep(SLOW_HEAD_GAP)
        client.send(b"Host: x\r\n\r\n")
        response = client.read_response()
    check_equal(response.status, 200, "slow head: status")
    _, age_ns = parse_answer(response.body)
    check(age_ns >= SLOW_HEAD_GAP / 2 * 10**9,
          "received_ns is the first byte's time: %d ns into a %.1f s gap" % (age_ns, SLOW_HEAD_GAP))
    request_time = response.header("X-Time") or ""
    check(re.fullmatch(r"\d+\.\d{3}", request_time) is not None,
          "$request_time is seconds to the millisecond", request_time)
    check(float(request_time) >= SLOW_HEAD_GAP / 2, "$request_time counts from the first byte", request_time)


def h2_frame(kind, flags, stream_id, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


def h2_split_head(port, block):
    """Sends an HTTP/2 stream's head as a HEADERS frame and, SLOW_HEAD_GAP seconds later, the
    CONTINUATION that completes it; returns stream 1's DATA payload (None when it had none)."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b""))
        sock.sendall(h2_frame(1, 0x1, 1, block[:4]))  # HEADERS, END_STREAM, no END_HEADERS
        time.sleep(SLOW_HEAD_GAP)
        sock.sendall(h2_frame(9, 0x4, 1, block[4:]))  # CONTINUATION, END_HEADERS
        data, body, ended = b"", None, False
        deadline = time.monotonic() + 10
        while not ended and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            check(chunk != b"", "h2: the connection stays open until the answer")
            data += chunk
            at = 0
            while at + 9 <= len(data):
                length = int.from_bytes(data[at:at + 3], "big")
                if at + 9 + length > len(data):
                    break
                kind, flags = data[at + 3], data[at + 4]
                if int.from_bytes(data[at + 5:at + 9], "big") == 1 and kind in (0, 1):  # DATA, HEADERS
                    if kind == 0:
                        body = (body or b"") + data[at + 9:at + 9 + length]
                    ended = ended or bool(flags & 0x1)
                at += 9 + length
            data = data[at:]
    check(ended, "h2: the stream's answer arrived whole")
    return body


def h2_slow_continuation(port):
    """An HTTP/2 stream whose HEADERS frame comes SLOW_HEAD_GAP seconds before the CONTINUATION
    that completes its head began at the HEADERS frame, as an HTTP/1.x request at its first byte."""
    # HPACK, static table only: :method GET, :scheme http, :path /h2 (literal), :authority x.
    body = h2_split_head(port, b"\x82\x86" + b"\x44\x03/h2" + b"\x41\x01x")
    check(body is not None, "h2: the stream's answer has a body")
    protocol, age_ns = parse_answer(body)
    check_equal(protocol, "HTTP/2.0", "h2 with CONTINUATION: protocol")
    check(age_ns >= SLOW_HEAD_GAP / 2 * 10**9,
          "h2: received_ns is the HEADERS frame's time: %d ns into a %.1f s gap" % (age_ns, SLOW_HEAD_GAP))


def h2_refused_slow_continuation(port, proxyd):
    """A head proxyd refuses (a method over 64 bytes: 501) whose CONTINUATION came late still
    counts from its HEADERS frame: the access log's rt covers the gap."""
    method = b"M" * 65
    # :method as a literal with the static table's name 2; then :scheme http, :path /, :authority x.
    block = b"\x02" + bytes([len(method)]) + method + b"\x86\x84\x41\x01x"
    h2_split_head(port, block)
    deadline = time.monotonic() + 5
    refused = []
    while not refused and time.monotonic() < deadline:
        refused = [e for e in access_log_entries(proxyd.stderr_text()) if e["status"] == "501"]
        time.sleep(0.05)
    check(len(refused) == 1, "h2: the refused head has one access-log line", proxyd.stderr_tail())
    check(float(refused[0]["rt"]) >= SLOW_HEAD_GAP / 2,
          "h2: a refused head's request time counts from its HEADERS frame (rt=%s)" % refused[0]["rt"])


def keepalive_second_request(port):
    """The second request of a connection gets its own start, not the first one's."""
    with Client(port) as client:
        first = client.request("GET", "/first")
        time.sleep(KEEPALIVE_GAP)
        second = client.request("GET", "/second")
    check_equal((first.status, second.status), (200, 200), "keep-alive: both answered")
    _, age_ns = parse_answer(second.body)
    check(age_ns < KEEPALIVE_GAP * 10**9,
          "keep-alive: the second request's received_ns is its own (age %d ns < the %.1f s idle gap)"
          % (age_ns, KEEPALIVE_GAP))


def main():
    folder = workdir("request-view")
    cert, key = make_certificate(folder, "site", ["localhost"], ips=[HOST])
    plain, secure = free_ports(2)
    config = (config_head(plugins=()).replace(
                  "[plugins]\n", "[plugins]\nview = %s\n" % toml_str(PLUGIN)) +
              "[filters.stamp]\nplugin = \"headers\"\n"
              "response = { set = { \"X-Protocol\" = \"$protocol\", \"X-Time\" = \"$request_time\" } }\n\n"
              "[handlers.view]\nplugin = \"view\"\nfilters = [\"stamp\"]\n\n" +
              h2_listener("plain", plain, "handler", "view") +
              h2_listener("secure", secure, "handler", "view", tls=(cert, key)))
    path = write_file(os.path.join(folder, "view.toml"), config)
    require_http2(path)
    proxyd = Proxyd(path, folder)
    proxyd.start([plain, secure])

    check_answer(*raw_get(plain, "1.1"), "HTTP/1.1", "HTTP/1.1")
    check_answer(*raw_get(plain, "1.0"), "HTTP/1.0", "HTTP/1.0")
    check_answer(*curl("http://%s:%d/view" % (HOST, plain), folder, "--http2-prior-knowledge"),
                 "HTTP/2.0", "h2c (prior knowledge)")
    tls = ["--resolve", "localhost:%d:%s" % (secure, HOST), "--cacert", cert]
    check_answer(*curl("https://localhost:%d/view" % secure, folder, "--http2", *tls), "HTTP/2.0",
                 "h2 over TLS (ALPN)")
    check_answer(*curl("https://localhost:%d/view" % secure, folder, "--http1.1", *tls), "HTTP/1.1",
                 "HTTP/1.1 over TLS")
    slow_head(plain)
    h2_slow_continuation(plain)
    h2_refused_slow_continuation(plain, proxyd)
    keepalive_second_request(plain)
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
