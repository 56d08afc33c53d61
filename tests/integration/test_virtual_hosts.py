#!/usr/bin/env python3
"""Virtual hosts: one listener serves several sites by Host and path prefix together (the prefix
router's `host` key). Four scripted backends say who they are and echo the path they saw. Exact
names win over `*.example.com`, which wins over routes without a host; Host compares without
case, port or trailing dot; an absolute-form target's host counts, not the Host field; a path an
exact host does not define falls back to the less specific routes; `example.com` is not matched
by `*.example.com`. curl --resolve reaches the same sites as a user would."""

import json
import os
import subprocess

from proxyd_harness import (HOST, Backend, Client, Proxyd, check, check_equal, config_head, free_ports, response_bytes,
                            run_test, toml_str, workdir, write_file)


def tagged(tag):
    def answer(request, conn_id):
        body = json.dumps({"site": tag, "path": request.target}).encode()
        return [response_bytes(200, body, [("Content-Type", "application/json")])], False
    return Backend(answer, tag=tag)


def seen(response):
    check_equal(response.status, 200, "status")
    data = json.loads(response.body)
    return data["site"], data["path"]


def main():
    folder = workdir("vhosts")
    sites = {tag: tagged(tag) for tag in ("app", "api", "wild", "default")}
    (port,) = free_ports(1)
    config = config_head(plugins=None)
    for tag, backend in sites.items():
        config += "[upstreams.%s]\npeers = [%s]\n\n" % (tag, toml_str("%s:%d" % (HOST, backend.port)))
    config += ("[routers.sites]\nplugin = \"prefix\"\nroutes = [\n"
               "  { host = \"app.example.com\", prefix = \"/\", upstream = \"app\" },\n"
               "  { host = \"api.example.com\", prefix = \"/v1/\", upstream = \"api\", strip_prefix = true },\n"
               "  { host = \"*.example.com\", prefix = \"/\", upstream = \"wild\" },\n"
               "  { prefix = \"/\", upstream = \"default\" },\n]\n\n"
               "[[listeners]]\nname = \"front\"\nlisten = \"%s:%d\"\nrouter = \"sites\"\n" % (HOST, port))
    Proxyd(write_file(os.path.join(folder, "vhosts.toml"), config), folder).start([port])

    cases = [
        ("app.example.com", "/a", ("app", "/a")),
        ("APP.Example.COM:%d" % port, "/a", ("app", "/a")),
        ("app.example.com.", "/a", ("app", "/a")),
        ("api.example.com", "/v1/users?id=2", ("api", "/users?id=2")),
        ("api.example.com", "/v2/users", ("wild", "/v2/users")),  # no /v2/ on api: the wildcard answers
        ("x.example.com", "/x", ("wild", "/x")),
        ("a.b.example.com", "/x", ("wild", "/x")),
        ("example.com", "/x", ("default", "/x")),
        ("unknown.test", "/x", ("default", "/x")),
    ]
    with Client(port) as client:
        for host, target, expected in cases:
            got = seen(client.request("GET", target, host=host))
            check_equal(got, expected, "Host %s, %s" % (host, target))
        # RFC 9112 §3.2.2: an absolute-form target's authority is the request's host.
        got = seen(client.request("GET", "http://api.example.com/v1/x", host="app.example.com"))
        check_equal(got, ("api", "/x"), "absolute-form http://api.example.com/v1/x with Host app.example.com")

    for host, path, expected in (("app.example.com", "/curl", "app"), ("api.example.com", "/v1/curl", "api")):
        out = subprocess.run(["curl", "-s", "--max-time", "10", "--resolve", "%s:%d:%s" % (host, port, HOST),
                              "http://%s:%d%s" % (host, port, path)], capture_output=True, timeout=20)
        check_equal(json.loads(out.stdout or b"{}").get("site"), expected, "curl --resolve %s%s" % (host, path))


if __name__ == "__main__":
    run_test(main)
