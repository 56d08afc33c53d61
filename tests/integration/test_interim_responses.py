#!/usr/bin/env python3
"""Expect: 100-continue and 1xx interim responses (RFC 9110 §10.1.1, §15.2) through the proxy.

A backend that answers 100 Continue: the client, which waits for it before sending its body,
receives it through proxyd, sends the body, and gets the final response; the backend received the
whole body. A backend that sends 103 Early Hints before its 200: an HTTP/1.1 client receives the
103 with its Link field, then the 200, and the connection stays in step (a next request on it is
answered normally). An HTTP/1.0 client, which cannot take interim responses, gets only the final.
A backend that never sends 100: the client sends its body after its own wait and proxyd forwards
it. Over HTTP/2 (h2c), the 103 comes as a HEADERS frame before the final response's, its Link
field kept. A backend that answers 401 before the body: the client gets the 401 and its connection is
closed (the unread body is never taken for a request). An expectation other than 100-continue:
417, and nothing reaches the backend."""

import json
import os
import socket

from h2_frames import H2Client, Target, h2
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Backend, Client, Proxyd, Reader, check, check_equal, config_head, free_ports, listener,
                            run_test, upstream, workdir, write_file)


SEEN = []  # targets the backend received


def interim_backend(conn, conn_id):
    reader = Reader(conn)
    while True:
        start, headers = reader.read_head()
        names = {n.lower(): v for n, v in headers}
        target = start.split(" ")[1]
        SEEN.append(target)
        if target == "/deny":
            conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            return  # the body is never read
        if names.get("expect", "").lower() == "100-continue" and target != "/no-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = reader.read_exact(int(names.get("content-length", "0")))
        if target == "/hints":
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        answer = json.dumps({"target": target, "body": body.decode("latin-1"),
                             "expect": names.get("expect")}).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % len(answer) + answer)


def main():
    folder = workdir("interim")
    backend = Backend(raw=interim_backend, tag="interim")
    port, h2_port = free_ports(2)
    config = config_head(access="off", plugins=("round_robin",))
    config += upstream("app", [backend.port]) + listener("front", port, "upstream", "app")
    config += h2_listener("front-h2", h2_port, "upstream", "app")
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    require_http2(config_path)
    Proxyd(config_path, folder).start([port, h2_port])

    if h2 is not None:
        c = H2Client(Target("127.0.0.1", h2_port, path="/hints"))
        stream_id = c.request()
        c.wait(lambda: c.response_done(stream_id), "the HTTP/2 response to /hints")
        heads = [dict(head) for head in c.heads.get(stream_id, [])]
        check_equal([head.get(":status") for head in heads], ["103", "200"],
                    "HTTP/2: 103 Early Hints comes as its own HEADERS before the final response")
        check_equal(heads[0].get("link"), "</style.css>; rel=preload", "HTTP/2: the 103 keeps its Link field")
        check_equal(json.loads(c.data.get(stream_id, b"{}"))["target"], "/hints", "HTTP/2: then the final body")
        c.close()

    with Client(port, timeout=5) as client:
        body = b"hello world"
        client.send(b"POST /upload HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
        interim = client.read_response()
        check_equal(interim.status, 100, "Expect: 100-continue: the backend's 100 reaches the client before the body")
        client.send(body)
        final = client.read_response()
        check_equal(final.status, 200, "Expect: 100-continue: then the final response")
        seen = json.loads(final.body)
        check_equal(seen["body"], "hello world", "Expect: 100-continue: the backend got the whole body")

        client.send(b"GET /hints HTTP/1.1\r\nHost: example.test\r\n\r\n")
        hints = client.read_response()
        check_equal(hints.status, 103, "103 Early Hints is relayed to an HTTP/1.1 client")
        check_equal(hints.header("Link"), "</style.css>; rel=preload", "103 Early Hints keeps its Link field")
        final = client.read_response()
        check_equal(final.status, 200, "the final response follows the 103")
        check_equal(json.loads(final.body)["target"], "/hints", "and it is the one for /hints")

        again = client.request("GET", "/next")
        check_equal(json.loads(again.body)["target"], "/next", "the connection stays in step afterwards")

    with Client(port, timeout=5) as client:
        client.send(b"GET /hints HTTP/1.0\r\nHost: example.test\r\n\r\n")
        response = client.read_response()
        check_equal(response.status, 200, "an HTTP/1.0 client gets no interim response, only the final one")

    body = b"sent without waiting any longer"
    with Client(port, timeout=5) as client:
        client.send(b"POST /no-continue HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
        client.sock.settimeout(1.0)
        try:
            early = client.sock.recv(1)
        except socket.timeout:
            early = None
        check_equal(early, None, "Expect: 100-continue to a backend that sends no 100: nothing arrives meanwhile")
        client.sock.settimeout(5)
        client.send(body)  # as a client does when its wait for 100 runs out
        final = client.read_response()
        check_equal(final.status, 200, "the body sent after the client's own wait is forwarded: 200")
        check_equal(json.loads(final.body)["body"], body.decode(), "and the backend got the whole body")

    with Client(port, timeout=5) as client:
        client.send(b"POST /deny HTTP/1.1\r\nHost: example.test\r\nExpect: 100-continue\r\n"
                    b"Content-Length: 100000\r\n\r\n")
        response = client.read_response()
        check_equal(response.status, 401, "a final response before the body (401) is relayed")
        check("close" in response.connection_tokens(), "with Connection: close (the body was never read)",
              str(response.headers))
        check(client.closed_by_peer(5), "and the client connection then closes")

    before = len(SEEN)
    with Client(port, timeout=5) as client:
        client.send(b"POST /odd HTTP/1.1\r\nHost: example.test\r\nExpect: something-else\r\n"
                    b"Content-Length: 2\r\n\r\nhi")
        response = client.read_response()
        check_equal(response.status, 417, "an expectation other than 100-continue: 417")
        check(client.closed_by_peer(5), "417 closes the connection (the body was not read)")
    check_equal(SEEN[before:], [], "the 417 request never reaches the backend")
    with Client(port, timeout=5) as client:
        response = client.request("GET", "/still-fine")
        check_equal(json.loads(response.body)["target"], "/still-fine", "proxyd keeps serving afterwards")


if __name__ == "__main__":
    run_test(main)
