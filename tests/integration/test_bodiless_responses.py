#!/usr/bin/env python3
"""Responses that end at their head whatever their length fields say (RFC 9112 §6.3, RFC 9110
§6.4.1): every 304, every 204, every response to HEAD, and every 1xx interim response.

A scripted backend answers with exactly such heads and sends no body: a 304 with
`Content-Length: 100` or `Transfer-Encoding: chunked`, a 204 with either, a HEAD answered 200 with
either, and a 103 Early Hints followed by a 304 with `Content-Length: 100`. For each, once on a
fresh upstream connection and once on a pooled (reused) one:

- the response reaches the client within RELAY_BOUND seconds, and nothing follows its head;
- a 304 keeps its ETag, and its Content-Length if any is the backend's (RFC 9110 §8.6 allows it);
  a HEAD response keeps `Content-Length: 100` (the length a GET would get); a 204 carries neither
  Content-Length nor Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1: MUST NOT);
- a second request on the same client connection is answered at once (the connection is in step);
- that second request reaches the backend on the same upstream connection as the first (the
  upstream connection went back to the pool, in step too).

A proxy that reads a body after such a head waits for bytes that never come: the client connection
hangs until the upstream read_timeout (20 s here) and is then closed, and the upstream connection
is lost. Client sockets time out after CLIENT_TIMEOUT (3 s), so the hang fails fast. Every case
runs even when an earlier one failed, and a wrong field in a relayed head does not stop its case
from checking the connections; the failure lists every failed check."""

import json
import os
import socket
import time

from proxyd_harness import (Backend, Client, ConnectionClosed, Proxyd, TestFailure, check, check_equal, config_head,
                            free_ports, listener, note, response_bytes, run_test, upstream, workdir, write_file)

CLIENT_TIMEOUT = 3.0  # seconds: a hang is the bug, so give up long before read_timeout
RELAY_BOUND = 1.0     # seconds within which a bodiless response and the next one must arrive
READ_TIMEOUT = "20s"  # upstream read_timeout: far from both bounds, so a hang is not mistaken for it

NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n'
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
LENGTH_100 = b"Content-Length: 100\r\n\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n\r\n"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


def check_304(label, response, length):
    check_equal(response.header("ETag"), '"x"', "%s: the 304 keeps its ETag" % label)
    if length:
        check(response.header("Content-Length") in (None, "100"),
              "%s: the 304's Content-Length, if relayed, is the backend's (100)" % label,
              "Content-Length: %r" % response.all("Content-Length"))


def check_204(label, response, length):
    check(not response.has("Content-Length"), "%s: the relayed 204 carries no Content-Length (RFC 9110 §8.6)" % label,
          "Content-Length: %r" % response.all("Content-Length"))
    check(not response.has("Transfer-Encoding"),
          "%s: the relayed 204 carries no Transfer-Encoding (RFC 9112 §6.1)" % label,
          "Transfer-Encoding: %r" % response.all("Transfer-Encoding"))


def check_head(label, response, length):
    if length:
        check_equal(response.header("Content-Length"), "100",
                    "%s: the HEAD response keeps Content-Length unchanged" % label)


# (key, what, method, backend's pieces, status, checks of the relayed head, Content-Length given)
CASES = [
    ("304-length", "304 with Content-Length: 100", "GET", [NOT_MODIFIED + LENGTH_100], 304, check_304, True),
    ("304-chunked", "304 with Transfer-Encoding: chunked", "GET", [NOT_MODIFIED + CHUNKED], 304, check_304, False),
    ("204-length", "204 with Content-Length: 100", "GET", [NO_CONTENT + LENGTH_100], 204, check_204, True),
    ("204-chunked", "204 with Transfer-Encoding: chunked", "GET", [NO_CONTENT + CHUNKED], 204, check_204, False),
    ("head-length", "HEAD answered 200 with Content-Length: 100", "HEAD", [OK + LENGTH_100], 200, check_head,
     True),
    ("head-chunked", "HEAD answered 200 with Transfer-Encoding: chunked", "HEAD", [OK + CHUNKED], 200, check_head,
     False),
    ("103-304-length", "103 Early Hints, then 304 with Content-Length: 100", "GET",
     [EARLY_HINTS, 0.05, NOT_MODIFIED + LENGTH_100], 304, check_304, True),
]
PIECES = {key: pieces for key, _, _, pieces, _, _, _ in CASES}


def backend_handler(request, conn_id):
    """/<case key>/<variant> answers that case's head; /close-upstream answers and closes its
    connection (so the next request needs a fresh one); anything else is echoed as JSON."""
    key = request.target.split("/")[1]
    if key in PIECES:
        return PIECES[key], False
    if key == "close-upstream":
        return [response_bytes(200, b"closing\n", [("Connection", "close")])], True
    body = json.dumps({"target": request.target, "connection": conn_id}).encode()
    return [response_bytes(200, body, [("Content-Type", "application/json")])], False


def timed(what, action):
    """action()'s result, checked to come within RELAY_BOUND; a hang or a close is a failure."""
    start = time.monotonic()
    try:
        result = action()
    except socket.timeout:
        raise TestFailure("%s -- nothing within %.0f s (proxyd still waits for something)" % (what, CLIENT_TIMEOUT))
    except (ConnectionClosed, ConnectionResetError) as error:
        raise TestFailure("%s -- the connection was closed instead (%s)" % (what, error))
    elapsed = time.monotonic() - start
    check(elapsed < RELAY_BOUND, "%s within %.1f s" % (what, RELAY_BOUND), "took %.2f s" % elapsed)
    return result


def conn_of(label, backend, target):
    seen = [conn_id for conn_id, request in list(backend.requests) if request.target == target]
    check(len(seen) == 1, "%s: the backend received %s once" % (label, target), "received it %d times" % len(seen))
    return seen[0]


def run_case(port, backend, case, pooled, failures):
    """One case; a wrong field in the relayed head is recorded in failures and the case goes on (the
    connection may still be in step), anything else ends the case with TestFailure."""
    key, what, method, _, status, check_relayed, length = case
    variant = "pooled" if pooled else "fresh"
    label = "%s (%s upstream connection)" % (what, variant)
    # No idle upstream connection afterwards: the backend closes the one this request used, and
    # requests are sequential, so at most one was idle.
    with Client(port, timeout=CLIENT_TIMEOUT) as reset:
        check_equal(reset.request("GET", "/close-upstream/%s/%s" % (key, variant)).status, 200,
                    "%s: setup: the backend closes the pooled upstream connection" % label)
    connections_before = backend.connections

    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        warm_conn = None
        if pooled:
            warm = client.request("GET", "/warm/%s" % key)
            check_equal(warm.status, 200, "%s: setup: a first request opens the upstream connection" % label)
            warm_conn = json.loads(warm.body)["connection"]

        target = "/%s/%s" % (key, variant)
        client.send(("%s %s HTTP/1.1\r\nHost: example.test\r\n\r\n" % (method, target)).encode())
        if key.startswith("103"):
            interim = timed("%s: the 103 reaches the client" % label, lambda: client.read_response(method))
            check_equal(interim.status, 103, "%s: interim status" % label)
            check_equal(interim.header("Link"), "</style.css>; rel=preload", "%s: the 103 keeps its Link" % label)
        response = timed("%s: the %d reaches the client" % (label, status), lambda: client.read_response(method))
        check_equal(response.status, status, "%s: status" % label)
        try:
            check_relayed(label, response, length)
        except TestFailure as failure:
            print("FAIL " + str(failure), flush=True)
            failures.append(str(failure))
        check(not client.reader.buf, "%s: nothing follows the head" % label,
              "%d bytes after it: %r" % (len(client.reader.buf), bytes(client.reader.buf[:60])))

        case_conn = conn_of(label, backend, target)
        if pooled:
            check_equal(case_conn, warm_conn, "%s: setup: it reused the pooled upstream connection" % label)
        else:
            check(case_conn > connections_before, "%s: setup: it went on a fresh upstream connection" % label,
                  "connection %d, already open before: %d" % (case_conn, connections_before))

        after = "/after/%s/%s" % (key, variant)
        follow = timed("%s: a second request on the same client connection is answered" % label,
                       lambda: client.request("GET", after))
        check(follow.status == 200 and follow.body.startswith(b"{"),
              "%s: the second response parses cleanly (no stray body bytes before it)" % label,
              "got %r" % follow.start_line)
        check_equal(json.loads(follow.body)["connection"], case_conn,
                    "%s: the second request went on the same upstream connection (pooled, in step)" % label)


def main():
    folder = workdir("bodiless")
    backend = Backend(backend_handler, tag="bodiless")
    (port,) = free_ports(1)
    config = config_head(plugins=("round_robin",))
    config += upstream("app", [backend.port], "read_timeout = \"%s\"\nmax_tries = 1" % READ_TIMEOUT)
    config += listener("front", port, "upstream", "app")
    proxyd = Proxyd(write_file(os.path.join(folder, "bodiless.toml"), config), folder).start([port])

    failures = []
    for case in CASES:
        for pooled in (False, True):
            try:
                run_case(port, backend, case, pooled, failures)
            except TestFailure as failure:
                print("FAIL " + str(failure), flush=True)
                failures.append(str(failure))
    if failures:
        raise TestFailure("%d checks failed (%d cases, each on a fresh and on a pooled upstream connection):\n  %s"
                          % (len(failures), len(CASES), "\n  ".join(failures)))
    check(proxyd.alive(), "proxyd still running")
    note("every bodiless response relayed at once, both connections kept in step")


if __name__ == "__main__":
    run_test(main)
