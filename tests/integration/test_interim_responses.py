#!/usr/bin/env python3
"""Expect: 100-continue and 1xx interim responses (RFC 9110 §10.1.1, §15.2) through the proxy.

A backend that answers 100 Continue: the client, which waits for it before sending its body,
receives it through proxyd, sends the body, and gets the final response; the backend received the
whole body. A backend that sends 103 Early Hints before its 200: an HTTP/1.1 client receives the
103 with its Link field, then the 200, and the connection stays in step (a next request on it is
answered normally). An HTTP/1.0 client, which cannot take interim responses, gets only the final."""

import json
import os

from proxyd_harness import (Backend, Client, Proxyd, Reader, check, check_equal, config_head, free_ports, listener,
                            run_test, upstream, workdir, write_file)


def interim_backend(conn, conn_id):
    reader = Reader(conn)
    while True:
        start, headers = reader.read_head()
        names = {n.lower(): v for n, v in headers}
        target = start.split(" ")[1]
        if names.get("expect", "").lower() == "100-continue":
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
    port, = free_ports(1)
    config = config_head(access="off", plugins=("round_robin",))
    config += upstream("app", [backend.port]) + listener("front", port, "upstream", "app")
    Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([port])

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


if __name__ == "__main__":
    run_test(main)
