#!/usr/bin/env python3
"""The headers filter in the real proxyd: request fields set (with $client_address and $request_id),
removed and added before the backend sees them; response fields set, added and removed on proxied
answers and on proxyd's own 502 page; HSTS as one line of config."""

import json
import os

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, echo_handler, free_ports,
                            response_bytes, run_test, upstream, workdir, write_file)

HSTS = "max-age=63072000; includeSubDomains"


def backend_handler(request, conn_id):
    pieces, close = echo_handler(request, conn_id)
    # The echo with one more field, which the filter must take away from the client's view.
    head, _, body = pieces[0].partition(b"\r\n\r\n")
    return [head + b"\r\nX-Powered-By: test-backend\r\n\r\n" + body], close


def main():
    folder = workdir("filter_headers")
    backend = Backend(backend_handler)
    front, broken, dead = free_ports(3)
    config = config_head(plugins=None) + upstream("echo", [backend.port]) + upstream("dead", [dead]) + """
[filters.tracing]
plugin = "headers"
request.set = { "X-Client" = "$client_address", "X-Seen-Id" = "$request_id", "X-Origin" = "${scheme}://$host" }
request.remove = ["X-Debug-Token"]
request.add = { "X-Tag" = ["a", "b"] }
response.set = { "X-Request-ID" = "$request_id" }
response.add = { "X-Served-By" = "proxyd $$1" }
response.remove = ["X-Powered-By"]

[filters.hsts]
plugin = "headers"
response.set = { "Strict-Transport-Security" = "%s" }

[[listeners]]
name = "front"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["tracing", "hsts"]

[[listeners]]
name = "broken"
listen = "127.0.0.1:%d"
upstream = "dead"
filters = ["hsts"]
""" % (HSTS, front, broken)
    path = write_file(os.path.join(folder, "headers.toml"), config)
    proxyd = Proxyd(path, folder).start([front, broken])

    with Client(front) as client:
        response = client.request("GET", "/x", [("Host", "site.test"), ("X-Debug-Token", "secret"),
                                                ("X-Tag", "client"), ("X-Request-ID", "client-id-42")])
        check_equal(response.status, 200, "proxied through the filters")
        seen = json.loads(response.body)
        got = {}
        for name, value in seen["headers"]:
            got.setdefault(name.lower(), []).append(value)
        check_equal(got.get("x-client"), ["127.0.0.1"], "backend got $client_address")
        check_equal(got.get("x-seen-id"), ["client-id-42"], "backend got $request_id (the client's valid id)")
        check_equal(got.get("x-origin"), ["http://site.test"], "backend got ${scheme}://$host")
        check(not got.get("x-debug-token"), "X-Debug-Token removed before the backend", repr(got.get("x-debug-token")))
        check_equal(got.get("x-tag"), ["client", "a", "b"], "add keeps the client's field and appends two")
        check_equal(response.header("X-Request-ID"), "client-id-42", "response carries the request id")
        check_equal(response.header("X-Served-By"), "proxyd $1", "$$ is a dollar sign")
        check_equal(response.header("Strict-Transport-Security"), HSTS, "HSTS from one line of config")
        check(not response.has("X-Powered-By"), "backend's X-Powered-By removed", response.header("X-Powered-By"))
        again = client.request("GET", "/y", [("Host", "site.test")])
        check_equal(again.status, 200, "keep-alive: a second request on the connection")
        check(again.header("X-Request-ID") not in (None, "", "client-id-42"), "proxyd made an id for the second",
              repr(again.header("X-Request-ID")))

    with Client(broken) as client:
        response = client.request("GET", "/", [("Host", "site.test")])
        check_equal(response.status, 502, "a dead upstream answers 502")
        check_equal(response.header("Strict-Transport-Security"), HSTS, "proxyd's own error page gets HSTS too")

    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
