#!/usr/bin/env python3
"""The headers filter in the real proxyd: request fields set (with $client_address and $request_id),
removed and added before the backend sees them; response fields set, added and removed on proxied
answers and on proxyd's own 502 page; HSTS as one line of config. An X-Request-ID a filter sets is
the request's id (later filters' $request_id, the backend's one X-Request-ID, the access log), over
the client's; one a filter removes gives the request an id proxyd makes."""

import json
import os

import re

from proxyd_harness import (Backend, Client, Proxyd, access_log_entries, check, check_equal, config_head, echo_handler,
                            free_ports, response_bytes, run_test, upstream, wait_for, workdir, write_file)

HSTS = "max-age=63072000; includeSubDomains"


def backend_handler(request, conn_id):
    pieces, close = echo_handler(request, conn_id)
    # The echo with one more field, which the filter must take away from the client's view.
    head, _, body = pieces[0].partition(b"\r\n\r\n")
    return [head + b"\r\nX-Powered-By: test-backend\r\n\r\n" + body], close


def main():
    folder = workdir("filter_headers")
    backend = Backend(backend_handler)
    front, broken, stamped, untrusting, rehosted, dead = free_ports(6)
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

[filters.stamp]
plugin = "headers"
request.set = { "X-Request-ID" = "edge-7.${scheme}" }

[filters.untrusted_ids]
plugin = "headers"
request.remove = ["X-Request-ID"]

[filters.rehost]
plugin = "headers"
request.set = { "Host" = "internal.test" }

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

[[listeners]]
name = "stamped"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["stamp", "tracing"]

[[listeners]]
name = "untrusting"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["untrusted_ids", "tracing"]

[[listeners]]
name = "rehosted"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["rehost"]
""" % (HSTS, front, broken, stamped, untrusting, rehosted)
    path = write_file(os.path.join(folder, "headers.toml"), config)
    proxyd = Proxyd(path, folder).start([front, broken, stamped, untrusting, rehosted])

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

    # An absolute-form target's authority replaces the client's Host (RFC 9112 §3.2.2), also when
    # filters edited the head; a Host a filter sets replaces both.
    def fields_seen(port, target, host):
        with Client(port) as client:
            response = client.request("GET", target, [("Host", host)])
        check_equal(response.status, 200, "%s proxied" % target)
        got = {}
        for name, value in json.loads(response.body)["headers"]:
            got.setdefault(name.lower(), []).append(value)
        return got
    got = fields_seen(front, "http://site.test/absolute", "other.test")
    check_equal(got.get("host"), ["site.test"], "absolute-form through filters: the backend's Host is the authority")
    check_equal(got.get("x-origin"), ["http://site.test"], "absolute-form: $host is the authority")
    got = fields_seen(rehosted, "http://site.test/absolute", "other.test")
    check_equal(got.get("host"), ["internal.test"], "absolute-form: a Host a filter set wins over the authority")
    got = fields_seen(rehosted, "http://admin.test/absolute", "internal.test")
    check_equal(got.get("host"), ["internal.test"],
                "absolute-form: a filter's Host wins even when the client sent the same Host")
    got = fields_seen(rehosted, "/origin-form", "site.test")
    check_equal(got.get("host"), ["internal.test"], "origin-form: a Host a filter set reaches the backend")

    with Client(broken) as client:
        response = client.request("GET", "/", [("Host", "site.test")])
        check_equal(response.status, 502, "a dead upstream answers 502")
        check_equal(response.header("Strict-Transport-Security"), HSTS, "proxyd's own error page gets HSTS too")

    # The request id as filters left it: what later filters see ($request_id, echoed on the
    # response by "tracing"), the one X-Request-ID the backend gets, and the access log's.
    def ids_of(port, target):
        with Client(port) as client:
            response = client.request("GET", target, [("Host", "site.test"), ("X-Request-ID", "client-id-42")])
        check_equal(response.status, 200, "%s proxied" % target)
        seen = [value for name, value in json.loads(response.body)["headers"] if name.lower() == "x-request-id"]
        wait_for("the access-log line of %s" % target,
                 lambda: any(e["request"].startswith("GET %s " % target) for e in access_log_entries(proxyd.stderr_text())))
        logged = [e["request_id"] for e in access_log_entries(proxyd.stderr_text())
                  if e["request"].startswith("GET %s " % target)]
        return response.header("X-Request-ID"), seen, logged

    echoed, seen, logged = ids_of(stamped, "/stamped")
    check_equal(echoed, "edge-7.http", "a filter's X-Request-ID wins over the client's: later filters' $request_id")
    check_equal(seen, ["edge-7.http"], "the backend gets the filter's id, once")
    check_equal(logged, ["edge-7.http"], "the access log has the filter's id")
    echoed, seen, logged = ids_of(untrusting, "/untrusting")
    check(re.fullmatch(r"[0-9a-f]{16}", echoed or ""), "a filter removed the client's id: proxyd made one", repr(echoed))
    check_equal(seen, [echoed], "the backend gets proxyd's id, once")
    check_equal(logged, [echoed], "the access log has proxyd's id")

    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
