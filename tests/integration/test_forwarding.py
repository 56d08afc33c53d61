#!/usr/bin/env python3
"""What proxyd changes on the way through, seen from a backend that echoes the request it got:
hop-by-hop headers go (both directions), X-Forwarded-*, Forwarded and Via come, bodies (Content-Length
and chunked) arrive intact both ways, and upstream connections are kept alive and reused."""

import hashlib
import json
import os
import random
import re

from proxyd_harness import (Backend, Client, Proxyd, chunked, check, check_equal, config_head, echo_json, free_ports,
                            listener, note, response_bytes, run_test, upstream, workdir, write_file)

CHUNKED_PIECES = [b"first piece\n", b"x" * 5000, b"", b"third\n", bytes(range(256)) * 40, b"last\n"]
CLOSE_DELIMITED = b"no length, ends when the backend closes\n" * 300


def backend_handler(request, conn_id):
    if request.target == "/hop-response":
        headers = [("Content-Type", "text/plain"), ("Connection", "X-Hop-Response"), ("X-Hop-Response", "1"),
                   ("Keep-Alive", "timeout=99"), ("Upgrade", "example/1"), ("Proxy-Connection", "keep-alive"),
                   ("X-End-To-End", "kept"), ("Via", "1.0 gateway-a"), ("Via", "1.1 gateway-b")]
        return [response_bytes(200, b"hop\n", headers)], False
    if request.target == "/chunked-response":
        pieces = [b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"]
        for piece in CHUNKED_PIECES:
            if piece:
                pieces += [b"%x\r\n" % len(piece) + piece + b"\r\n", 0.05]
        pieces.append(b"0\r\n\r\n")
        return pieces, False
    if request.target == "/close-delimited":
        return [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n", CLOSE_DELIMITED], True
    body = json.dumps(echo_json(request, conn_id)).encode("utf-8")
    return [response_bytes(200, body, [("Content-Type", "application/json")])], False


def echoed(response, what):
    check_equal(response.status, 200, what + ": status")
    return json.loads(response.body)


def backend_headers(seen):
    return [(n, v) for n, v in seen["headers"]]


def values(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def forwarded_params(value):
    """The last element of a Forwarded header (the one this proxy added), as {param: value}."""
    element = value.split(",")[-1]
    params = {}
    for pair in element.split(";"):
        key, _, val = pair.strip().partition("=")
        params[key.lower()] = val.strip('"')
    return params


def request_headers_forwarded(port):
    sent = [("Host", "demo.example:8080"), ("User-Agent", "proxyd-integration"),
            ("Connection", "keep-alive, X-Hop-Request"), ("X-Hop-Request", "must not pass"),
            ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Upgrade", "example/1"),
            ("Proxy-Connection", "keep-alive"), ("Trailer", "X-Checksum"),
            ("X-Custom", "one"), ("X-Custom", "two"), ("X-Forwarded-For", "203.0.113.7"),
            ("Via", "1.0 first"), ("Forwarded", "for=203.0.113.7"), ("X-Forwarded-For", "198.51.100.2"),
            ("Via", "1.1 second"), ("Forwarded", "for=198.51.100.2")]
    with Client(port) as client:
        response = client.request("GET", "/some/path?x=1&y=%2F", sent)
    seen = echoed(response, "GET through the proxy")
    got = backend_headers(seen)
    note("backend received: " + "; ".join("%s: %s" % h for h in got))
    check_equal(seen["method"], "GET", "backend got the method")
    check_equal(seen["target"], "/some/path?x=1&y=%2F", "backend got the request target unchanged")
    for name in ("X-Hop-Request", "Keep-Alive", "TE", "Upgrade", "Proxy-Connection", "Trailer"):
        check(not values(got, name), "hop-by-hop %s removed before the backend" % name, "got %r" % values(got, name))
    tokens = {t.strip().lower() for v in values(got, "Connection") for t in v.split(",")}
    check("x-hop-request" not in tokens, "client's Connection header not passed on", "Connection: %r" % tokens)
    check_equal(", ".join(values(got, "X-Custom")), "one, two", "end-to-end X-Custom (sent twice) kept, in order")
    check_equal(values(got, "User-Agent"), ["proxyd-integration"], "User-Agent kept")
    # Each field sent on two lines: both reach the backend, in order, before proxyd's entry (RFC 9110
    # §5.3; a Via chain with a hop missing, §7.6.3).
    check_equal(", ".join(values(got, "X-Forwarded-For")), "203.0.113.7, 198.51.100.2, 127.0.0.1",
                "X-Forwarded-For: every line the client sent, then the client's address")
    check_equal(values(got, "X-Forwarded-Proto"), ["http"], "X-Forwarded-Proto added")
    check_equal(values(got, "X-Forwarded-Host"), ["demo.example:8080"], "X-Forwarded-Host is the client's Host")
    forwarded = values(got, "Forwarded")
    check(len(forwarded) == 1, "Forwarded added once", "got %r" % forwarded)
    check(forwarded[0].startswith("for=203.0.113.7, for=198.51.100.2, for=127.0.0.1"),
          "Forwarded: every line the client sent, then proxyd's element", forwarded[0])
    params = forwarded_params(forwarded[0])
    check_equal(params.get("for"), "127.0.0.1", "Forwarded for=")
    check_equal(params.get("proto"), "http", "Forwarded proto=")
    check_equal(params.get("host"), "demo.example:8080", "Forwarded host=")
    via = values(got, "Via")
    check(len(via) == 1 and re.match(r"(HTTP/)?1\.1 \S", via[0].split(",")[-1].strip()) is not None,
          "Via added (1.1 <name>)", "Via: %r" % via)
    check(via[0].startswith("1.0 first, 1.1 second, "), "Via: both lines the client sent, in order", via[0])
    check(response.has("Date"), "the response to the client carries a Date (the backend sent none)")


def max_forwards(port, backend):
    """RFC 9110 §7.6.2: an OPTIONS or TRACE goes on with Max-Forwards less one; at 0 proxyd is its
    final recipient and answers it (OPTIONS 200 without content, TRACE 501); other methods carry
    the field unchanged."""
    with Client(port) as client:
        seen = echoed(client.request("OPTIONS", "/mf", [("Max-Forwards", "5")]), "OPTIONS, Max-Forwards 5")
        check_equal(values(backend_headers(seen), "Max-Forwards"), ["4"], "OPTIONS goes on with Max-Forwards 4")
        seen = echoed(client.request("GET", "/mf", [("Max-Forwards", "0")]), "GET, Max-Forwards 0")
        check_equal(values(backend_headers(seen), "Max-Forwards"), ["0"], "a GET's Max-Forwards goes on unchanged")
        before = len(backend.requests)
        response = client.request("OPTIONS", "/mf", [("Max-Forwards", "0")])
        check_equal((response.status, response.header("Content-Length"), response.body), (200, "0", b""),
                    "OPTIONS, Max-Forwards 0: proxyd answers 200, no content")
        response = client.request("TRACE", "/mf", [("Max-Forwards", "0")])
        check_equal(response.status, 501, "TRACE, Max-Forwards 0: proxyd answers 501, reflecting nothing")
        check_equal(len(backend.requests), before, "neither reached the backend")
        seen = echoed(client.request("GET", "/after-max-forwards"), "the connection after")
        check_equal(seen["target"], "/after-max-forwards", "the connection serves the next request")


def response_hop_by_hop(port):
    with Client(port) as client:
        response = client.request("GET", "/hop-response")
    check_equal(response.status, 200, "GET /hop-response status")
    check(not response.has("X-Hop-Response"), "header named in the backend's Connection removed",
          "X-Hop-Response: %r" % response.all("X-Hop-Response"))
    check("timeout=99" not in response.all("Keep-Alive"), "backend's Keep-Alive removed")
    check(not response.has("Upgrade"), "backend's Upgrade removed", "Upgrade: %r" % response.all("Upgrade"))
    check(not response.has("Proxy-Connection"), "backend's Proxy-Connection removed")
    check("x-hop-response" not in response.connection_tokens(), "backend's Connection tokens not passed on")
    check_equal(response.header("X-End-To-End"), "kept", "end-to-end response header kept")
    via = response.all("Via")
    check(len(via) == 1 and via[0].startswith("1.0 gateway-a, 1.1 gateway-b, 1.1 "),
          "response Via: both lines the backend sent, in order, then proxyd's", "Via: %r" % via)
    check_equal(response.body, b"hop\n", "response body")


def request_bodies(port):
    data = random.Random(7).randbytes(100_000)
    with Client(port) as client:
        response = client.request("POST", "/upload?kind=length", [("Content-Type", "application/octet-stream")], data)
        seen = echoed(response, "POST with Content-Length")
        check_equal((seen["body_length"], seen["body_sha256"]), (len(data), hashlib.sha256(data).hexdigest()),
                    "Content-Length body (100000 bytes) arrives intact: length and sha256")
        note("backend saw the body framed by %s" % seen["framing"])

        data = random.Random(8).randbytes(300_001)
        client.send(b"POST /upload?kind=chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        wire = chunked(data, piece=7_777)
        for at in range(0, len(wire), 65_536):  # several writes, so chunks straddle reads
            client.send(wire[at:at + 65_536])
        seen = echoed(client.read_response(), "POST with chunked body")
        check_equal((seen["body_length"], seen["body_sha256"]), (len(data), hashlib.sha256(data).hexdigest()),
                    "chunked body (300001 bytes) arrives intact: length and sha256")
        note("backend saw the body framed by %s" % seen["framing"])
        check(not any(n.lower() == "transfer-encoding" for n, _ in seen["headers"]) or seen["framing"] == "chunked",
              "Transfer-Encoding reaches the backend only with a chunked body")

        response = client.request("GET", "/after-bodies")
        check_equal(response.status, 200, "same client connection still usable after both uploads")


def chunked_response(port):
    with Client(port) as client:
        response = client.request("GET", "/chunked-response")
        check_equal(response.status, 200, "GET /chunked-response status")
        check(response.body == b"".join(CHUNKED_PIECES),
              "chunked response from the backend reaches the client intact (%d bytes)" % len(response.body),
              "got %d bytes, expected %d" % (len(response.body), len(b"".join(CHUNKED_PIECES))))
        note("client saw it framed by %s" % response.framing)
        again = client.request("GET", "/after-chunked")
        check_equal(again.status, 200, "same client connection still usable after the chunked response")

    with Client(port) as client:
        response = client.request("GET", "/close-delimited")
        check(response.status == 200 and response.body == CLOSE_DELIMITED,
              "close-delimited backend response reaches the client whole (%d bytes)" % len(CLOSE_DELIMITED),
              "got %s with %d bytes" % (response.start_line, len(response.body)))


def upstream_keepalive(port, backend):
    before = {c for c, _ in backend.requests}
    with Client(port) as client:
        statuses = [client.request("GET", "/pool/%d" % n).status for n in range(6)]
    check_equal(statuses, [200] * 6, "6 sequential GETs on one client connection: statuses")
    used = {c for c, r in backend.requests if r.target.startswith("/pool/")}
    note("backend connections used by 6 sequential requests: %d (already open before: %d)" % (len(used), len(before)))
    check(len(used) <= 2, "upstream connections are kept alive and reused",
          "6 requests used %d connections" % len(used))


def main():
    folder = workdir("forwarding")
    backend = Backend(backend_handler)
    (front,) = free_ports(1)
    config = config_head(plugins=("round_robin",)) + upstream("echo", [backend.port]) + listener(
        "front", front, "upstream", "echo")
    path = write_file(os.path.join(folder, "forwarding.toml"), config)
    proxyd = Proxyd(path, folder).start([front])
    request_headers_forwarded(front)
    response_hop_by_hop(front)
    max_forwards(front, backend)
    request_bodies(front)
    chunked_response(front)
    upstream_keepalive(front, backend)
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
