#!/usr/bin/env python3
"""Trailer fields relayed both ways, on HTTP/1.1 and HTTP/2 (h2c), through one listener:
- a chunked response's trailers reach an HTTP/1.1 client after the last chunk, and an HTTP/2 client
  as a HEADERS frame that ends the stream; those RFC 9110 §6.5.1 keeps in the head (framing, cookies,
  content format), hop-by-hop ones and those the head's Connection names are dropped. An HTTP/1.0
  client's body, read to the close, has no place for them;
- a chunked request's trailers follow its last chunk to the backend, filtered the same way (Host,
  Content-Length, Authorization, X-Forwarded-For), also when they arrive with the body in one write
  while proxyd still connects (the head forwarded stays intact); an HTTP/2 request without
  content-length goes chunked, its trailing HEADERS as the trailer section; with content-length the
  body goes by length and its trailers are dropped;
- the Trailer field that announces them (end-to-end, RFC 9110 §6.6.2) goes on with them, both ways,
  and is dropped with them (HTTP/1.0 client, HTTP/2 request with content-length, a filtered head);
- over the head's limits: request trailers answer 431; response trailers over 64 KiB cut the
  response (the client never sees a complete-looking one). ~2 s."""

import json
import os

from h2_frames import H2Client, Target, h2
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Backend, Client, Proxyd, Reader, check, check_equal, config_head, free_ports,
                            run_test, upstream, workdir, write_file)

# What the backend ends /trailers with: two fields to relay, four to drop.
RESPONSE_TRAILERS = (b"X-Checksum: abc\r\nContent-Length: 99\r\nSet-Cookie: a=b\r\nX-Hop: 1\r\n"
                     b"Transfer-Encoding: chunked\r\ngrpc-status: 0\r\n")
RELAYED = [("X-Checksum", "abc"), ("grpc-status", "0")]
ANNOUNCED = "X-Checksum, grpc-status"  # its Trailer field


def trailers_backend(conn, conn_id):
    """Answers /trailers and /huge-trailers chunked, with trailers; anything else with the request's
    trailers and body as JSON."""
    reader = Reader(conn)
    while True:
        request = reader.read_request()
        if request.target == "/trailers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: X-Hop\r\n"
                         b"Trailer: " + ANNOUNCED.encode() + b"\r\n\r\n"
                         b"5\r\nhello\r\n0\r\n" + RESPONSE_TRAILERS + b"\r\n")
        elif request.target == "/huge-trailers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
                         b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70)) + b"\r\n")
        else:
            body = json.dumps({"target": request.target, "headers": request.headers, "framing": request.framing,
                               "body": request.body.decode("latin-1"), "trailers": request.trailers}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def h1_response_trailers(front):
    with Client(front) as client:
        for attempt in range(2):  # the same connection goes on after the trailer section
            response = client.request("GET", "/trailers")
            check_equal((response.status, response.framing, response.body), (200, "chunked", b"hello"),
                        "HTTP/1.1 client, response %d: a chunked body" % attempt)
            check_equal(response.trailers, RELAYED, "HTTP/1.1 client: the trailers that may go on, in order")
            check_equal(response.all("Trailer"), [ANNOUNCED], "HTTP/1.1 client: the Trailer field announces them")
    with Client(front) as client:
        client.send(b"GET /trailers HTTP/1.0\r\nHost: t\r\n\r\n")
        response = client.read_response()
        check_equal((response.framing, response.body), ("close", b"hello"),
                    "HTTP/1.0 client: the bare body to the close, no trailer text in it")
        check(not response.has("Trailer"), "HTTP/1.0 client: no Trailer field announcing trailers it cannot get")


def h1_request_trailers(front):
    head = (b"POST /up HTTP/1.1\r\nHost: trailers.test\r\nTransfer-Encoding: chunked\r\n"
            b"Trailer: X-Checksum, X-Sum-2\r\n\r\n")
    body = (b"5\r\nhello\r\n0\r\nX-Checksum: 1\r\nHost: evil\r\nContent-Length: 5\r\nAuthorization: x\r\n"
            b"X-Forwarded-For: 6.6.6.6\r\nX-Sum-2: 2\r\n\r\n")
    with Client(front) as client:
        client.send(head + body)
        seen = json.loads(client.read_response().body)
        check_equal((seen["framing"], seen["body"]), ("chunked", "hello"), "HTTP/1.1 request: re-chunked body")
        check_equal(seen["trailers"], [["X-Checksum", "1"], ["X-Sum-2", "2"]],
                    "HTTP/1.1 request: its trailers follow the last chunk, the head-only ones dropped")
        check_equal([v for n, v in seen["headers"] if n.lower() == "host"], ["trailers.test"],
                    "the forwarded Host is the head's")
        check_equal([v for n, v in seen["headers"] if n.lower() == "trailer"], ["X-Checksum, X-Sum-2"],
                    "HTTP/1.1 request: its Trailer field goes on with the trailers")

    # Trailers arriving with the body while proxyd still connects: the head's buffer must stay as
    # the request view saw it (a use-after-free once), and many trailers go on whole.
    many = [("X-Trailer-%d" % i, "v" * 200) for i in range(60)]
    section = "".join("%s: %s\r\n" % field for field in many).encode()
    for attempt in range(3):
        with Client(front) as client:
            client.send(head.replace(b"/up", b"/with-trailers") + b"5\r\nhello\r\n6\r\n world\r\n0\r\n" + section +
                        b"\r\n")
            response = client.read_response()
            check_equal(response.status, 200, "many trailers, attempt %d: status" % attempt)
            seen = json.loads(response.body)
            check_equal((seen["target"], seen["body"]), ("/with-trailers", "hello world"),
                        "many trailers: the request line and body intact")
            names = [name.lower() for name, _ in seen["headers"]]
            check("host" in names and "x-forwarded-for" in names and not any(n.startswith("x-trailer") for n in names),
                  "many trailers: the forwarded head intact, no trailer in it", str(names))
            check([tuple(t) for t in seen["trailers"]] == many, "many trailers: all %d forwarded" % len(many),
                  "%d came" % len(seen["trailers"]))

    with Client(front) as client:
        client.send(head + b"1\r\nx\r\n0\r\nX-Long: " + b"v" * 40000 + b"\r\n\r\n")
        response = client.read_response()
        check_equal(response.status, 431, "request trailers over max_header_size: 431")
        check(client.closed_by_peer(), "request trailers over the limit: the connection closes")


def h1_huge_response_trailers(front):
    with Client(front, timeout=5) as client:
        client.send(b"GET /huge-trailers HTTP/1.1\r\nHost: t\r\n\r\n")
        raw = b""
        try:
            while True:
                piece = client.sock.recv(65536)
                if not piece:
                    break
                raw += piece
        except ConnectionResetError:
            pass
        check(raw.startswith(b"HTTP/1.1 200") and b"5\r\nhello\r\n" in raw, "huge trailers: head and body went on",
              repr(raw[:120]))
        check(not raw.endswith(b"\r\n\r\n") and b"X-Big" not in raw,
              "response trailers over 64 KiB: the response is cut, never ended", repr(raw[-60:]))


def h2_trailers(front):
    c = H2Client(Target("127.0.0.1", front))
    got = c.request("/trailers")
    chunked = c.new_stream()
    c.h2.send_headers(chunked, c.request_headers("/up", "POST", [("trailer", "x-checksum, x-sum-2")]))
    c.h2.send_data(chunked, b"hello")
    c.h2.send_headers(chunked, [("x-checksum", "7"), ("authorization", "x"), ("x-sum-2", "2")], end_stream=True)
    sized = c.new_stream()
    c.h2.send_headers(sized, c.request_headers("/up", "POST", [("content-length", "5"), ("trailer", "x-checksum")]))
    c.h2.send_data(sized, b"hello")
    c.h2.send_headers(sized, [("x-checksum", "7")], end_stream=True)
    c.flush()
    c.wait(lambda: all(c.response_done(s) for s in (got, chunked, sized)), "the three responses")

    heads = c.heads.get(got, [])
    check_equal((c.status(got), c.data.get(got), len(heads)), (200, b"hello", 2),
                "HTTP/2 client: a head, the body, then a second HEADERS")
    check_equal(heads[1], [(n.lower(), v) for n, v in RELAYED], "HTTP/2 client: the trailers, lower-cased, filtered")
    check(got in c.ended and got not in c.resets, "HTTP/2 client: the trailers end the stream")
    check_equal([v for n, v in heads[0] if n == "trailer"], [ANNOUNCED],
                "HTTP/2 client: the head's trailer field announces them (not connection-specific, RFC 9113 §8.2.2)")

    seen = json.loads(c.data.get(chunked, b"{}"))
    check_equal((seen.get("framing"), seen.get("body")), ("chunked", "hello"), "HTTP/2 request without a length: chunked")
    check_equal(seen.get("trailers"), [["x-checksum", "7"], ["x-sum-2", "2"]],
                "HTTP/2 request trailers: the trailer section of the chunked body, filtered")
    check_equal([v for n, v in seen.get("headers", []) if n.lower() == "trailer"], ["x-checksum, x-sum-2"],
                "HTTP/2 request without a length: its trailer field goes on with the trailers")
    seen = json.loads(c.data.get(sized, b"{}"))
    check_equal((seen.get("framing"), seen.get("body"), seen.get("trailers")), ("length", "hello", []),
                "HTTP/2 request with content-length: the body by its length, its trailers dropped")
    check(not any(n.lower() == "trailer" for n, v in seen.get("headers", [])),
          "HTTP/2 request with content-length: its trailer field dropped with them")
    c.close()


def filtered_drops_trailers(filtered):
    """A listener whose filter edits heads relays no trailers: one could bring back a field the
    filter removed (X-User) or set, to a backend that merges trailers into the head."""
    head = (b"POST /up HTTP/1.1\r\nHost: trailers.test\r\nTransfer-Encoding: chunked\r\nX-User: admin\r\n"
            b"Trailer: X-Checksum\r\n\r\n")
    with Client(filtered) as client:
        client.send(head + b"5\r\nhello\r\n0\r\nX-User: admin\r\nX-Checksum: 1\r\n\r\n")
        seen = json.loads(client.read_response().body)
        check_equal((seen["body"], seen["trailers"]), ("hello", []),
                    "filtered listener: the body goes on, the request's trailers do not")
        check(not any(n.lower() == "x-user" for n, v in seen["headers"]), "the filter removed X-User from the head")
        check(not any(n.lower() == "trailer" for n, v in seen["headers"]),
              "filtered listener: the request's Trailer field dropped with its trailers")
        response = client.request("GET", "/trailers")
        check_equal((response.status, response.body, response.trailers), (200, b"hello", []),
                    "filtered listener: a response whose head a filter edits ends without trailers")
        check_equal(response.header("x-filtered"), "1", "the response filter ran")
        check(not response.has("Trailer"), "filtered listener: the response's Trailer field dropped with its trailers")


def main():
    folder = workdir("trailers")
    backend = Backend(raw=trailers_backend, tag="trailers")
    front, filtered = free_ports(2)
    config = config_head(plugins=None) + upstream("app", [backend.port])
    config += h2_listener("front", front, "upstream", "app")
    config += """[filters.strip]
plugin = "headers"
request.remove = ["X-User"]
response.set = { "X-Filtered" = "1" }

[[listeners]]
name = "filtered"
listen = "127.0.0.1:%d"
upstream = "app"
filters = ["strip"]

""" % filtered
    config_path = write_file(os.path.join(folder, "trailers.toml"), config)
    require_http2(config_path)
    proxyd = Proxyd(config_path, folder).start([front, filtered])

    h1_response_trailers(front)
    h1_request_trailers(front)
    h1_huge_response_trailers(front)
    filtered_drops_trailers(filtered)
    check(h2 is not None, "python3-h2 is installed (packaging/build-deps.sh --test)")
    h2_trailers(front)
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
