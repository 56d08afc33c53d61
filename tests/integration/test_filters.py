#!/usr/bin/env python3
"""Filters (ABI 1.3) as a user sees them, through tests/loader/filter_probe.c: header edits of a
listener's filters reach the backend, and their response-head edits reach the client, on proxied
answers, content answers and proxyd's own error pages; a filter's 403 reaches the client and no
backend; route_to sends a request to another target; a filter changes the method and path the
backend sees; a target's own filters run after the listener's and see only what reaches that
target; every hook runs in its order (request_head in chain order, response_head and log in
reverse) and the log hook once per request; a listener without filters keeps today's answer."""

import os
import re

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, get, listener,
                            response_bytes, run_test, static_handler, toml_str, upstream, wait_for, workdir,
                            write_file, SOURCE_DIR)

PROBE = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "filter_probe.so")


def backend_handler(request, conn_id):
    body = ("%s %s" % (request.method, request.target)).encode()
    return [response_bytes(200, body, [("X-Backend-Only", "1"), ("Content-Type", "text/plain")])], False


def filter_block(name, **keys):
    lines = ["[filters.%s]" % name, 'plugin = "probe"', "label = %s" % toml_str(name)]
    for key, value in keys.items():
        if isinstance(value, (list, tuple)):
            lines.append("%s = [%s]" % (key, ", ".join(toml_str(v) for v in value)))
        elif isinstance(value, int):
            lines.append("%s = %d" % (key, value))
        else:
            lines.append("%s = %s" % (key, toml_str(value)))
    return "\n".join(lines) + "\n\n"


def with_filters(text, names):
    return text.replace("\n\n", "\nfilters = [%s]\n\n" % ", ".join(toml_str(n) for n in names), 1)


def hooks_of(proxyd, request_id):
    """The probe's log lines for one request, in order: ["edit request_head", ...]."""
    pattern = re.compile(r"plugin filter_probe: (\S+ (?:request_head|response_head|log|cancelled|resumed))"
                         r"(?: [^\n]*)? id=%s$" % re.escape(request_id), re.M)
    return pattern.findall(proxyd.stderr_text())


def main():
    folder = workdir("filters")
    backend = Backend(handler=backend_handler)
    front, plain, broken, hosted = free_ports(4)
    (dead,) = free_ports(1)
    www = os.path.join(SOURCE_DIR, "www", "default")
    config = (config_head(level="warn").replace("[plugins]\n", "[plugins]\nprobe = %s\n" % toml_str(PROBE))
              + filter_block("edit", request_set=["X-Set: 1"], request_add=["X-Added: a"],
                             request_remove=["X-Secret"], response_set=["X-Served-By: edit"],
                             response_remove=["X-Backend-Only"])
              + filter_block("deny", only_if_header="X-Deny", respond=403, respond_body="denied\n")
              + filter_block("route", only_if_header="X-To-Site", route_to_handler="site")
              + filter_block("rewrite", only_if_header="X-Rewrite", set_path="/rewritten?x=1", set_method="PUT")
              + filter_block("target", response_set=["X-Target: app"], response_status=203, check_refusals=1)
              + filter_block("site_only", response_set=["X-Site: yes"])
              + with_filters(upstream("app", [backend.port]), ["target"])
              + upstream("dead", [dead])
              + with_filters(static_handler("site", www), ["site_only"])
              + with_filters(listener("front", front, "upstream", "app"), ["edit", "deny", "route", "rewrite"])
              + with_filters(listener("broken", broken, "upstream", "dead"), ["edit"])
              + upstream("bare", [backend.port])
              + listener("plain", plain, "upstream", "bare")
              + filter_block("hostset", request_set=["Host: backend.internal"])
              + with_filters(listener("hosted", hosted, "upstream", "bare"), ["hostset"]))
    path = write_file(os.path.join(folder, "filters.toml"), config)
    proxyd = Proxyd(path, folder).start([front, plain, broken, hosted])

    # Header edits both ways, and the target's filter after the listener's.
    before = len(backend.requests)
    response = get(front, "/edit", headers=[("X-Secret", "s3"), ("X-Set", "0"), ("X-Request-ID", "edit-1")])
    check_equal(response.status, 203, "the target's filter set the status")
    check_equal(response.body, b"GET /edit", "the backend answered")
    _, seen = backend.requests[before]
    check_equal(seen.all("X-Set"), ["1"], "request_set_header replaced the client's field")
    check_equal(seen.all("X-Added"), ["a"], "request_add_header reached the backend")
    check(not seen.has("X-Secret"), "request_remove_header kept the field from the backend")
    check_equal(seen.all("X-Request-ID"), ["edit-1"], "the backend gets the request id once")
    check_equal(response.header("X-Served-By"), "edit", "the listener's filter edited the proxied response")
    check_equal(response.header("X-Target"), "app", "the target's filter edited the proxied response")
    check(response.header("X-Backend-Only") is None, "response_head_remove_header removed the backend's field")
    wait_for("the log hooks ran", lambda: len(hooks_of(proxyd, "edit-1")) >= 15)
    check_equal(hooks_of(proxyd, "edit-1"),
                ["edit request_head", "deny request_head", "route request_head", "rewrite request_head",
                 "target request_head",
                 "target response_head", "rewrite response_head", "route response_head", "deny response_head",
                 "edit response_head",
                 "target log", "rewrite log", "route log", "deny log", "edit log"],
                "hooks run in chain order, then response_head and log in reverse, once each")

    check_equal(len(re.findall(r"target refusals ok id=edit-1$", proxyd.stderr_text(), re.M)), 3,
                "calls out of their phase or with bad arguments are refused (request_head, response_head, log)")
    check("refusal missed" not in proxyd.stderr_text(), "no refusal missed")

    # A filter's answer reaches the client and no backend; filters reached see it.
    before = len(backend.requests)
    with Client(front) as client:
        response = client.request("GET", "/denied", headers=[("X-Deny", "1"), ("X-Request-ID", "deny-1")])
        check_equal(response.status, 403, "the filter answered 403")
        check_equal(response.body, b"denied\n", "with its body")
        check_equal(response.header("X-Filter-Answer"), "deny", "and its field")
        check_equal(response.header("X-Served-By"), "edit", "an earlier filter's response_head saw the answer")
        check(response.header("X-Target") is None, "the target's filters were not reached")
        check_equal(client.request("GET", "/after-deny").status, 203, "the connection serves the next request")
    check_equal(len(backend.requests), before + 1, "the denied request reached no backend")
    wait_for("the denied request's log hooks ran", lambda: "edit log" in hooks_of(proxyd, "deny-1"))
    check_equal(hooks_of(proxyd, "deny-1"),
                ["edit request_head", "deny request_head", "rewrite response_head", "route response_head",
                 "deny response_head", "edit response_head", "rewrite log", "route log", "deny log", "edit log"],
                "the chain stops at the answer; every filter of the reached chain sees the response and the log")

    # route_to: a content handler instead of the upstream, with that handler's filters.
    response = get(front, "/index.html", headers=[("X-To-Site", "1")])
    check_equal(response.status, 200, "route_to sent the request to the static handler")
    check(b"<html" in response.body.lower(), "the static page")
    check_equal(response.header("X-Served-By"), "edit", "the listener's filter saw the content response")
    check_equal(response.header("X-Site"), "yes", "the handler's own filter ran")
    check(response.header("X-Target") is None, "the upstream's filter did not")
    response = get(front, "/missing.html", headers=[("X-To-Site", "1")])
    check_equal((response.status, response.header("X-Site")), (404, "yes"), "a content error passes the filters")

    # A Host a filter sets is the upstream's; X-Forwarded-Host and Forwarded's host= keep the
    # client's (RFC 7239 §5.3), so the backend can still build the client's URLs.
    before = len(backend.requests)
    response = get(hosted, "/where", headers=[("Host", "www.example.test")])
    _, seen = backend.requests[before]
    check_equal(seen.all("Host"), ["backend.internal"], "the backend gets the Host the filter set")
    check_equal(seen.all("X-Forwarded-Host"), ["www.example.test"], "X-Forwarded-Host is the client's Host")
    check('host="www.example.test"' in (seen.header("Forwarded") or ""), "so is Forwarded's host=",
          seen.header("Forwarded"))

    # The method and the path the backend sees.
    before = len(backend.requests)
    response = get(front, "/original?q=2", headers=[("X-Rewrite", "1")])
    check_equal(response.body, b"PUT /rewritten?x=1", "set_method and set_path reached the backend")

    # proxyd's own error page passes the response-head filters.
    response = get(broken, "/gone")
    check_equal(response.status, 502, "no backend behind this listener")
    check_equal(response.header("X-Served-By"), "edit", "the error page passed the listener's filter")

    # No filter: the answer is what it always was, with the request id added upstream.
    before = len(backend.requests)
    response = get(plain, "/plain")
    check_equal((response.status, response.header("X-Backend-Only")), (200, "1"), "a listener without filters")
    _, seen = backend.requests[before]
    check(re.fullmatch(r"[0-9a-f]{16}", seen.header("X-Request-ID") or ""), "proxyd made a request id")
    bad_id = get(plain, "/bad-id", headers=[("X-Request-ID", "has space")])
    _, seen = backend.requests[before + 1]
    check(re.fullmatch(r"[0-9a-f]{16}", seen.header("X-Request-ID") or ""), "an invalid client id is replaced")
    check_equal(bad_id.status, 200, "the request with an invalid id is served")

    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
