#!/usr/bin/env python3
"""The reverse-proxy profile as a user meets it: `proxyd -c conf.d/reverse.toml`, then curl and
http.client against 127.0.0.1:18000 (/ -> default site, /images/ -> image site, /pdf/ -> PDF site)."""

import email.utils
import http.client
import os
import re
import time

from proxyd_harness import (CONF_DIR, HOST, SOURCE_DIR, WWW_DIR, Client, Proxyd, access_log_entries, check,
                            check_equal, curl, header_of, note, read_file, require_ports_free, run_test,
                            workdir)

FRONT = 18000
ADMIN = 18001  # [admin] listen
BACKENDS = (8888, 8889, 8890)
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d{2}:\d{2}:\d{2} GMT$")

PAGES = {
    "/": ("default/index.html", "text/html"),
    "/images/": ("images/index.html", "text/html"),
    "/images/photo.jpg": ("images/photo.jpg", "image/jpeg"),
    "/pdf/": ("pdf/index.html", "text/html"),
    "/pdf/report.pdf": ("pdf/report.pdf", "application/pdf"),
    "/style.css": ("default/style.css", "text/css"),
}


def expected(path):
    rel, mime = PAGES[path]
    return read_file(os.path.join(WWW_DIR, rel)), mime


def media_type(value):
    return (value or "").split(";")[0].strip().lower()


def check_date(value, what):
    check(value is not None and IMF_FIXDATE.match(value) is not None, what + ": Date is an IMF-fixdate",
          "Date: %r" % value)
    skew = abs(email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    check(skew < 120, what + ": Date is the current time", "off by %.0f s" % skew)


def with_curl(folder):
    for path in ("/", "/images/", "/images/photo.jpg", "/pdf/report.pdf"):
        body, mime = expected(path)
        status, headers, got = curl("http://%s:%d%s" % (HOST, FRONT, path), folder)
        check_equal(status, 200, "curl GET %s status" % path)
        check_equal(media_type(header_of(headers, "Content-Type")), mime, "curl GET %s Content-Type" % path)
        check(got == body, "curl GET %s body is byte-exact (%d bytes)" % (path, len(body)),
              "got %d bytes, expected %d" % (len(got), len(body)))
        check_equal(header_of(headers, "Content-Length"), str(len(body)), "curl GET %s Content-Length" % path)
    status, _, _ = curl("http://%s:%d/no-such-page.html" % (HOST, FRONT), folder)
    check_equal(status, 404, "curl GET /no-such-page.html status")


def with_http_client():
    conn = http.client.HTTPConnection(HOST, FRONT, timeout=10)
    try:
        first_socket = None
        for path in PAGES:
            body, mime = expected(path)
            conn.request("GET", path)
            response = conn.getresponse()
            got = response.read()
            if first_socket is None:
                first_socket = conn.sock
            check_equal(response.status, 200, "http.client GET %s status" % path)
            check_equal(media_type(response.getheader("Content-Type")), mime, "http.client GET %s Content-Type" % path)
            check(got == body, "http.client GET %s body is byte-exact" % path,
                  "got %d bytes, expected %d" % (len(got), len(body)))
            check_date(response.getheader("Date"), "http.client GET %s" % path)
        check(conn.sock is first_socket and conn.sock is not None,
              "http.client sent all %d requests on one keep-alive connection" % len(PAGES))
        for path in ("/missing.txt", "/images/missing.jpg", "/pdf/missing.pdf"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            check_equal(response.status, 404, "http.client GET %s status" % path)
    finally:
        conn.close()


def head_requests():
    for path in ("/", "/images/photo.jpg", "/pdf/report.pdf"):
        with Client(FRONT) as client:
            got = client.request("GET", path)
            head = client.request("HEAD", path)
            # The next response must start right after HEAD's head: a body sent for HEAD would break it.
            after = client.request("GET", "/")
        check_equal(head.status, 200, "HEAD %s status" % path)
        for name in ("Content-Type", "Content-Length"):
            check_equal(head.header(name), got.header(name), "HEAD %s %s equals GET's" % (path, name))
        check(after.status == 200 and after.body == expected("/")[0],
              "HEAD %s sends no body (the next response on the connection parses cleanly)" % path,
              "next response: %s, %d bytes" % (after.start_line, len(after.body)))


def keep_alive():
    order = ["/", "/images/photo.jpg", "/pdf/", "/style.css", "/images/", "/pdf/report.pdf", "/"]
    with Client(FRONT) as client:
        for path in order:
            response = client.request("GET", path)
            check(response.status == 200 and response.body == expected(path)[0],
                  "keep-alive: %s answered whole on the shared connection" % path,
                  "got %s, %d bytes" % (response.start_line, len(response.body)))
            if "close" in response.connection_tokens():
                check(False, "keep-alive: %s leaves the connection open" % path, "response says Connection: close")
        check(not client.closed_by_peer(within=0.5), "keep-alive: connection still open after %d requests" % len(order))


def pipelining():
    paths = ["/images/photo.jpg", "/", "/pdf/", "/no-such-page.html", "/style.css"]
    wire = b"".join(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:18000\r\n\r\n" % p.encode() for p in paths)
    with Client(FRONT) as client:
        client.send(wire)
        for path in paths:
            response = client.read_response()
            if path.startswith("/no-such"):
                check_equal(response.status, 404, "pipelined %s status, in order" % path)
            else:
                check(response.status == 200 and response.body == expected(path)[0],
                      "pipelined %s answered in order, byte-exact" % path,
                      "got %s with %d bytes" % (response.start_line, len(response.body)))
    note("%d requests sent in one write, %d responses read in order" % (len(paths), len(paths)))


def connection_close():
    with Client(FRONT) as client:
        response = client.request("GET", "/", [("Connection", "close")])
        check_equal(response.status, 200, "GET / with Connection: close status")
        check(client.closed_by_peer(within=3), "Connection: close -- proxyd closes the connection after the response")
    with Client(FRONT) as client:
        client.send(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        response = client.read_response()
        check(response.status == 200 and response.body == expected("/")[0], "HTTP/1.0 GET / answered whole",
              "got %s" % response.start_line)
        check(client.closed_by_peer(within=3), "HTTP/1.0 without keep-alive -- proxyd closes after the response")


def no_way_out():
    """Nothing outside www/ leaks, whether asked through the proxy or from a backend directly."""
    probes = ["/../conf.d/reverse.toml", "/%2e%2e/conf.d/reverse.toml", "/images/../../conf.d/reverse.toml",
              "/images/..%2f..%2fconf.d/reverse.toml", "/pdf/%2e%2e%2f%2e%2e%2fconf.d/reverse.toml",
              "/..%5c..%5cconf.d/reverse.toml"]
    for port in (FRONT, 8888, 8889):
        for target in probes:
            with Client(port) as client:
                client.send(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                try:
                    response = client.read_response()
                    leaked = response.status == 200 or b"[[listeners]]" in response.body
                    outcome = response.start_line
                except Exception as error:  # a closed connection is a refusal too
                    leaked, outcome = False, "no response (%s)" % type(error).__name__
            check(not leaked, "127.0.0.1:%d GET %s does not leave www/ (%s)" % (port, target, outcome))


def access_log(proxyd):
    entries = [e for e in access_log_entries(proxyd.stderr_text()) if e["listener"] == "reverse"]
    check(len(entries) > 0, "access log has lines for listener=reverse", "stderr:\n" + proxyd.stderr_tail())
    want = {"/images/photo.jpg": "127.0.0.1:8889", "/pdf/report.pdf": "127.0.0.1:8890", "/style.css": "127.0.0.1:8888"}
    for path, peer in want.items():
        lines = [e for e in entries if e["request"] == "GET %s HTTP/1.1" % path and e["status"] == "200"]
        check(lines and all(e["upstream"] == peer for e in lines),
              "access log: GET %s went to upstream=%s" % (path, peer),
              "lines: %r" % [(e["request"], e["upstream"]) for e in lines[:3]])


def main():
    require_ports_free((FRONT, ADMIN) + BACKENDS)
    folder = workdir("reverse")
    proxyd = Proxyd(os.path.join(CONF_DIR, "reverse.toml"), folder, cwd=SOURCE_DIR)
    proxyd.start((FRONT, ADMIN) + BACKENDS)
    with_curl(folder)
    with_http_client()
    head_requests()
    keep_alive()
    pipelining()
    connection_close()
    no_way_out()
    check(proxyd.alive(), "proxyd still running after all requests")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    access_log(proxyd)


if __name__ == "__main__":
    run_test(main)
