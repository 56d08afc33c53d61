#!/usr/bin/env python3
"""The request line beyond the methods and versions a parser library knows.

Extension methods (RFC 9110 §9.1: a method is any token, and a proxy forwards one it does not
know): FROB, Frob (case kept), M-SEARCH and X_CUSTOM.1! reach an echo backend exactly as sent,
with the target unchanged, and the connection serves a GET next; a Content-Length body and a
chunked body under FROB arrive intact; a method split across two reads is still FROB. FROB is not
idempotent (RFC 9110 §9.2.2), so when the first peer of an upstream takes it and hangs up without
answering, the client gets 502 and the second peer never sees it, while a GET in the same situation
is retried there and answered 200. A static-file listener answers FROB with 405 or 501, a well-formed
response, not 400. A method of 100 letters gets 400, 414 or 501 and a close; a method with a
non-token byte (FR(B) gets 400 and a close; neither reaches a backend.

Versions (RFC 9112 §2.3: HTTP/1.x with x above 1 is processed as the highest minor version the
recipient implements): GET with HTTP/1.2 and HTTP/1.9, and with HTTP/1.2 split across reads inside
the version, is answered 200 with an `HTTP/1.1` status line, the backend receives an HTTP/1.1
request, and the connection stays open for a second request. HTTP/2.0, HTTP/3.1 and HTTP/0.9 with a
head get 505 and a close, and reach no backend.

The asterisk form (RFC 9112 §3.2.4): `OPTIONS *` asks about the server in general (RFC 9110
§9.3.7). A listener whose target is one upstream group forwards it there, target `*` kept; a routed
listener (its router never sees `*`: the prefix router used to answer 404) and a static listener
(405) get proxyd's own answer, 200 with Content-Length: 0, reaching no backend, and the connection
serves a GET next. `OPTIONS http://example.test` (absolute form, empty path, no query) is the same
question: the origin gets `*` (RFC 9112 §3.2.4), a routed listener answers it. Any other method
with the target `*` gets 400 and a close.

Client sockets time out after CLIENT_TIMEOUT (3 s). Every case runs even when an earlier one
failed; the failure lists every failed case."""

import json
import os
import random
import socket
import time

from hostile_cases import status_of
from proxyd_harness import (HOST, Backend, Client, ConnectionClosed, Proxyd, TestFailure, check, check_equal, chunked,
                            config_head, free_ports, listener, note, run_test, sha256, static_handler, toml_str,
                            workdir, write_file)

CLIENT_TIMEOUT = 3.0
READ_TIMEOUT = "20s"


def drop_handler(request, conn_id):
    """A peer that takes the request and hangs up without a byte of answer."""
    raise ConnectionClosed("dropped on purpose")


def weighted_upstream(name, first, second):
    """An upstream whose first peer (weight 100) is always chosen first, the second taking retries."""
    peers = ", ".join('{ address = %s, weight = %d }' % (toml_str("%s:%d" % (HOST, port)), weight)
                      for port, weight in ((first, 100), (second, 1)))
    return "[upstreams.%s]\npeers = [%s]\nread_timeout = %s\n\n" % (name, peers, toml_str(READ_TIMEOUT))


def raw_head(method, target, version="HTTP/1.1", extra=""):
    return ("%s %s %s\r\nHost: example.test\r\n%s\r\n" % (method, target, version, extra)).encode("latin-1")


def ask(client, data, what, method="GET"):
    """Sends data, returns the response; a silence or a close is a failure naming `what`."""
    client.send(data)
    try:
        return client.read_response(method)
    except socket.timeout:
        raise TestFailure("%s -- no answer within %.0f s" % (what, CLIENT_TIMEOUT))
    except (ConnectionClosed, ConnectionResetError) as error:
        raise TestFailure("%s -- the connection was closed without an answer (%s)" % (what, error))


def echoed(response, what):
    check_equal(response.status, 200, "%s: status" % what)
    return json.loads(response.body)


def send_split(client, first, rest):
    """first and rest in two TCP segments 0.2 s apart, so proxyd reads them separately."""
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.send(first)
    time.sleep(0.2)
    client.send(rest)


def refused(port, backend, data, what, statuses):
    """data on a fresh connection gets one of statuses and a close, and reaches no backend."""
    connections, requests = backend.connections, len(backend.requests)
    status, closed = status_of(port, data, timeout=CLIENT_TIMEOUT)
    check(status in statuses and closed, "%s: %s and close" % (what, " or ".join(map(str, statuses))),
          "got status %r, closed %r" % (status, closed))
    time.sleep(0.1)
    check(backend.connections == connections and len(backend.requests) == requests,
          "%s: nothing reached the backend" % what)
    return status


# ---- extension methods ---------------------------------------------------------------------------

def extension_method(port, method):
    def case():
        with Client(port, timeout=CLIENT_TIMEOUT) as client:
            seen = echoed(ask(client, raw_head(method, "/x"), method), method)
            check_equal(seen["method"], method, "%s: the backend received the method exactly" % method)
            check_equal(seen["target"], "/x", "%s: and the target unchanged" % method)
            follow = echoed(ask(client, raw_head("GET", "/next"), "%s, then GET" % method),
                            "%s: a GET next on the same connection" % method)
            check_equal(follow["method"], "GET", "%s: the GET next reached the backend as GET" % method)
    return case


def extension_method_bodies(port):
    data = random.Random(9).randbytes(10_000)
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        head = raw_head("FROB", "/upload", extra="Content-Length: %d\r\n" % len(data))
        seen = echoed(ask(client, head + data, "FROB with Content-Length"), "FROB with a Content-Length body")
        check_equal(seen["method"], "FROB", "FROB with a Content-Length body: method")
        check_equal((seen["body_length"], seen["body_sha256"]), (len(data), sha256(data)),
                    "FROB with a Content-Length body: the body arrives intact (length, sha256)")

        head = raw_head("FROB", "/upload-chunked", extra="Transfer-Encoding: chunked\r\n")
        seen = echoed(ask(client, head + chunked(data, piece=3_000), "FROB with chunked body"),
                      "FROB with a chunked body")
        check_equal(seen["method"], "FROB", "FROB with a chunked body: method")
        check_equal((seen["body_length"], seen["body_sha256"]), (len(data), sha256(data)),
                    "FROB with a chunked body: the body arrives intact (length, sha256)")


def no_retry_of_extension_method(nonidem_port, idem_port, drops, echoes):
    with Client(nonidem_port, timeout=CLIENT_TIMEOUT) as client:
        response = ask(client, raw_head("FROB", "/once"), "FROB to a peer that hangs up")
    check_equal(response.status, 502, "FROB, first peer hangs up without answering: 502")
    check([r.method for _, r in drops[0].requests] == ["FROB"], "FROB: the first peer did receive it (setup)",
          "first peer saw %r" % [r.start_line for _, r in drops[0].requests])
    check(not any(r.method == "FROB" for _, r in echoes[0].requests),
          "FROB is not idempotent: it was not retried on the second peer",
          "second peer saw %r" % [r.start_line for _, r in echoes[0].requests])

    with Client(idem_port, timeout=CLIENT_TIMEOUT) as client:
        response = ask(client, raw_head("GET", "/again"), "GET to a peer that hangs up")
    check_equal(response.status, 200, "GET, first peer hangs up without answering: retried, 200")
    check([r.target for _, r in drops[1].requests] == ["/again"], "GET: the first peer did receive it (setup)",
          "first peer saw %r" % [r.start_line for _, r in drops[1].requests])
    check([r.target for _, r in echoes[1].requests] == ["/again"], "GET: the second peer answered it")


def static_listener(port):
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        response = ask(client, raw_head("FROB", "/index.html"), "FROB on a static listener")
        check(response.status in (405, 501), "FROB on a static listener: 405 or 501, not 400",
              "got %r" % response.start_line)
        note("static listener answers FROB with %d" % response.status)
        if response.status == 405:
            check(response.has("Allow"), "the 405 says which methods are allowed (Allow, RFC 9110 §15.5.6)")
        if "close" not in response.connection_tokens():
            follow = ask(client, raw_head("GET", "/index.html"), "GET after FROB on a static listener")
            check_equal(follow.status, 200, "FROB on a static listener: the response was well-formed "
                                            "(a GET next on the same connection is answered)")


def split_method(port):
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        send_split(client, b"FR", b"OB /split HTTP/1.1\r\nHost: a\r\n\r\n")
        try:
            response = client.read_response()
        except socket.timeout:
            raise TestFailure("FROB split as FR|OB: no answer within %.0f s" % CLIENT_TIMEOUT)
        seen = echoed(response, "FROB split as FR|OB")
        check_equal((seen["method"], seen["target"]), ("FROB", "/split"), "FROB split as FR|OB: forwarded as FROB")


def bad_methods(port, backend):
    status = refused(port, backend, raw_head("A" * 100, "/x"), "a method of 100 letters", (400, 414, 501))
    note("a method of 100 letters gets %d" % status)
    refused(port, backend, raw_head("FR(B", "/x"), "a method with a non-token byte (FR(B)", (400,))


def asterisk_form(port, routed, backend):
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        seen = echoed(ask(client, raw_head("OPTIONS", "*"), "OPTIONS *", method="OPTIONS"),
                      "OPTIONS * to a listener of one upstream group")
        check_equal((seen["method"], seen["target"]), ("OPTIONS", "*"), "OPTIONS *: forwarded as it came")
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        seen = echoed(ask(client, raw_head("OPTIONS", "http://example.test"), "OPTIONS http://example.test",
                          method="OPTIONS"), "OPTIONS in absolute form with an empty path")
        check_equal(seen["target"], "*", "OPTIONS http://example.test: the origin gets * (RFC 9112 §3.2.4)")
    requests = len(backend.requests)
    with Client(routed, timeout=CLIENT_TIMEOUT) as client:
        response = ask(client, raw_head("OPTIONS", "http://example.test"), "OPTIONS http://example.test to a "
                       "routed listener", method="OPTIONS")
        check_equal(response.status, 200, "OPTIONS http://example.test to a routed listener: proxyd's own answer")
        response = ask(client, raw_head("OPTIONS", "*"), "OPTIONS * to a routed listener", method="OPTIONS")
        check_equal(response.status, 200, "OPTIONS * to a routed listener: proxyd's own answer")
        check_equal(response.header("Content-Length"), "0", "OPTIONS *: no content, said so")
        check("close" not in response.connection_tokens(), "OPTIONS *: the connection is kept")
        echoed(ask(client, raw_head("GET", "/x/after-options"), "a GET after OPTIONS *"), "a GET after OPTIONS *")
    check_equal(len(backend.requests), requests + 1, "OPTIONS * to a routed listener: only the GET after it "
                                                     "reached the backend")
    for method in ("GET", "POST", "FROB"):
        refused(port, backend, raw_head(method, "*"), "%s *" % method, (400,))


def static_asterisk_form(port):
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        response = ask(client, raw_head("OPTIONS", "*"), "OPTIONS * on a static listener", method="OPTIONS")
        check_equal(response.status, 200, "OPTIONS * on a static listener: the server's own answer")


# ---- versions ------------------------------------------------------------------------------------

def minor_version(port, minor):
    def case():
        version = "HTTP/1.%d" % minor
        with Client(port, timeout=CLIENT_TIMEOUT) as client:
            for n in (1, 2):
                what = "GET with %s, request %d on the connection" % (version, n)
                response = ask(client, raw_head("GET", "/v1%d/%d" % (minor, n), version), what)
                check(response.start_line.startswith("HTTP/1.1 "), "%s: answered with HTTP/1.1" % what,
                      "status line %r" % response.start_line)
                seen = echoed(response, what)
                check_equal(seen["version"], "HTTP/1.1", "%s: the backend received an HTTP/1.1 request" % what)
                check("close" not in response.connection_tokens(), "%s: the connection is kept open" % what)
    return case


def split_version(port):
    with Client(port, timeout=CLIENT_TIMEOUT) as client:
        send_split(client, b"GET /split-version HTTP/1.", b"2\r\nHost: a\r\n\r\n")
        try:
            response = client.read_response()
        except socket.timeout:
            raise TestFailure("HTTP/1.2 split as HTTP/1.|2: no answer within %.0f s" % CLIENT_TIMEOUT)
        check(response.start_line.startswith("HTTP/1.1 "), "HTTP/1.2 split as HTTP/1.|2: answered with HTTP/1.1",
              "status line %r" % response.start_line)
        seen = echoed(response, "HTTP/1.2 split as HTTP/1.|2")
        check_equal(seen["version"], "HTTP/1.1", "HTTP/1.2 split: the backend received an HTTP/1.1 request")


def other_majors(port, backend):
    for version in ("HTTP/2.0", "HTTP/3.1", "HTTP/0.9"):
        refused(port, backend, raw_head("GET", "/", version), "GET with %s and a head" % version, (505,))


def main():
    folder = workdir("request-line")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>static</title>\n")
    echo = Backend(tag="echo")
    drops = [Backend(drop_handler, tag="drop-%d" % n) for n in (1, 2)]
    echoes = [Backend(tag="echo-%d" % n) for n in (1, 2)]
    front, nonidem, idem, static, routed = free_ports(5)
    config = config_head(plugins=("static", "round_robin", "prefix"))
    config += "[upstreams.echo]\npeers = [%s]\nread_timeout = %s\n\n" % (
        toml_str("%s:%d" % (HOST, echo.port)), toml_str(READ_TIMEOUT))
    config += weighted_upstream("frob_retry", drops[0].port, echoes[0].port)
    config += weighted_upstream("get_retry", drops[1].port, echoes[1].port)
    config += static_handler("files", root)
    config += listener("front", front, "upstream", "echo")
    config += listener("nonidem", nonidem, "upstream", "frob_retry")
    config += listener("idem", idem, "upstream", "get_retry")
    config += listener("static", static, "handler", "files")
    config += "[routers.paths]\nplugin = \"prefix\"\nroutes = [{ prefix = \"/x/\", upstream = \"echo\" }]\n\n"
    config += "[[listeners]]\nname = \"routed\"\nlisten = %s\nrouter = \"paths\"\n\n" % toml_str("%s:%d" % (HOST, routed))
    proxyd = Proxyd(write_file(os.path.join(folder, "request-line.toml"), config), folder).start(
        [front, nonidem, idem, static, routed])

    cases = [("extension method %s" % method, extension_method(front, method))
             for method in ("FROB", "Frob", "M-SEARCH", "X_CUSTOM.1!")]
    cases += [
        ("extension method with a body", lambda: extension_method_bodies(front)),
        ("extension method not retried", lambda: no_retry_of_extension_method(nonidem, idem, drops, echoes)),
        ("extension method on a static listener", lambda: static_listener(static)),
        ("extension method split across reads", lambda: split_method(front)),
        ("bad methods", lambda: bad_methods(front, echo)),
        ("asterisk form", lambda: asterisk_form(front, routed, echo)),
        ("asterisk form on a static listener", lambda: static_asterisk_form(static)),
        ("HTTP/1.2", minor_version(front, 2)),
        ("HTTP/1.9", minor_version(front, 9)),
        ("HTTP/1.2 split across reads", lambda: split_version(front)),
        ("other major versions", lambda: other_majors(front, echo)),
    ]
    failures = []
    for name, case in cases:
        try:
            case()
        except TestFailure as failure:
            print("FAIL %s: %s" % (name, failure), flush=True)
            failures.append("%s: %s" % (name, failure))
    if failures:
        raise TestFailure("%d of %d cases failed:\n  %s" % (len(failures), len(cases), "\n  ".join(failures)))
    check(proxyd.alive(), "proxyd still running")


if __name__ == "__main__":
    run_test(main)
