#!/usr/bin/env python3
"""Virtual hosts: one listener serves several sites by Host and path prefix together (the prefix
router's `host` key). Four scripted backends say who they are and echo the path they saw, and a
static handler serves one more site. Exact names win over `*.example.com`, which wins over routes
without a host; Host compares without case, port or trailing dot; an IPv6 literal keeps its
brackets; an absolute-form target's host counts, not the Host field; a path an exact host does not
define falls back to the less specific routes; `example.com` is not matched by `*.example.com`.
When no route matches, the listener's own target answers, else 404. curl --resolve reaches the
sites as a user would, and `proxyd -t` names a bad host pattern by file, line and column."""

import json
import os
import subprocess

from proxyd_harness import (HOST, PLUGIN_DIR, PLUGIN_FILES, PROXYD_BIN, Backend, Client, Proxyd, check,
                            check_equal, free_ports, response_bytes, run_test, toml_str, workdir, write_file)


def tagged(tag):
    def answer(request, conn_id):
        body = json.dumps({"site": tag, "path": request.target}).encode()
        return [response_bytes(200, body, [("Content-Type", "application/json")])], False
    return Backend(answer, tag=tag)


def seen(response, what):
    check_equal(response.status, 200, "%s: status" % what)
    data = json.loads(response.body)
    return data["site"], data["path"]


def head():
    """workers, [log] and the [plugins] this file uses, written here so the test does not depend on
    the built-in plugin set or on the harness's config_head()."""
    plugins = "".join("%s = %s\n" % (name, toml_str(PLUGIN_FILES[name])) for name in ("prefix", "round_robin",
                                                                                      "static"))
    return ("workers = 1\nplugin_dir = %s\n\n[log]\naccess = \"off\"\nlevel = \"info\"\n\n[plugins]\n%s\n"
            % (toml_str(PLUGIN_DIR), plugins))


def listener(name, port, routes, extra=""):
    return ("[[listeners]]\nname = %s\nlisten = %s\n%s[listeners.router]\nplugin = \"prefix\"\nroutes = [\n%s]\n\n"
            % (toml_str(name), toml_str("%s:%d" % (HOST, port)), extra, "".join("  %s,\n" % r for r in routes)))


SITES = [
    '{ host = "app.example.com", prefix = "/", upstream = "app" }',
    '{ host = "api.example.com", prefix = "/v1/", upstream = "api", strip_prefix = true }',
    '{ host = "*.example.com", prefix = "/", upstream = "wild" }',
    '{ host = "static.example.com", prefix = "/", handler = "static_site" }',
    '{ host = "[::1]", prefix = "/", upstream = "api" }',
    '{ prefix = "/", upstream = "default" }',
]


def check_front(port):
    cases = [
        ("app.example.com", "/a", ("app", "/a")),
        ("APP.Example.COM:18000", "/a", ("app", "/a")),
        ("app.example.com:%d" % port, "/a?q=1", ("app", "/a?q=1")),
        ("app.example.com.", "/a", ("app", "/a")),
        ("api.example.com", "/v1/users?id=2", ("api", "/users?id=2")),  # strip_prefix under a host
        ("API.EXAMPLE.COM:443", "/v1/", ("api", "/")),
        ("api.example.com", "/v2/users", ("wild", "/v2/users")),  # no /v2/ on api: the wildcard answers
        ("x.example.com", "/x", ("wild", "/x")),
        ("a.b.example.com", "/x", ("wild", "/x")),
        ("example.com", "/x", ("default", "/x")),  # *.example.com needs one more label
        ("unknown.test", "/x", ("default", "/x")),
        ("127.0.0.1:%d" % port, "/x", ("default", "/x")),
        ("[::1]:%d" % port, "/x", ("api", "/x")),
        ("[::2]:%d" % port, "/x", ("default", "/x")),
    ]
    with Client(port) as client:
        for host, target, expected in cases:
            what = "Host %s, %s" % (host, target)
            check_equal(seen(client.request("GET", target, host=host), what), expected, what)
        # RFC 9112 §3.2.2: an absolute-form target's authority is the request's host, not the Host field.
        for target, expected in (("http://api.example.com/v1/x", ("api", "/x")),
                                 ("http://API.example.com:8443/v1/y?z", ("api", "/y?z")),
                                 ("http://x.example.com/p", ("wild", "/p")),
                                 ("http://example.com/p", ("default", "/p"))):
            what = "absolute-form GET %s with Host app.example.com" % target
            check_equal(seen(client.request("GET", target, host="app.example.com"), what), expected, what)
        static = client.request("GET", "/", host="static.example.com")
        check_equal((static.status, static.body), (200, b"the static site\n"),
                    "Host static.example.com: the static handler, not the wildcard's backend")
    # HTTP/1.0 may leave Host out: only the routes without a host can match.
    with Client(port) as client:
        client.send(b"GET /old HTTP/1.0\r\n\r\n")
        check_equal(seen(client.read_response(), "HTTP/1.0 without Host"), ("default", "/old"),
                    "HTTP/1.0 without Host")


def check_curl(port):
    for host, path, expected in (("app.example.com", "/curl", ("app", "/curl")),
                                 ("api.example.com", "/v1/curl?x=1", ("api", "/curl?x=1")),
                                 ("shop.example.com", "/curl", ("wild", "/curl"))):
        out = subprocess.run(["curl", "-s", "--max-time", "10", "--resolve", "%s:%d:%s" % (host, port, HOST),
                              "http://%s:%d%s" % (host, port, path)], capture_output=True, timeout=20)
        check_equal(out.returncode, 0, "curl --resolve %s: exit status" % host)
        data = json.loads(out.stdout or b"{}")
        check_equal((data.get("site"), data.get("path")), expected, "curl --resolve %s, %s" % (host, path))


def check_declines(fallback_port, strict_port):
    with Client(fallback_port) as client:
        check_equal(seen(client.request("GET", "/a", host="app.example.com"), "listener with a default"),
                    ("app", "/a"), "Host app.example.com on a listener with its own upstream")
        check_equal(seen(client.request("GET", "/a", host="other.example.com"), "listener with a default"),
                    ("default", "/a"), "no route for the host: the listener's own upstream answers")
    with Client(strict_port) as client:
        check_equal(seen(client.request("GET", "/app/a", host="app.example.com"), "strict listener"),
                    ("app", "/app/a"), "Host app.example.com, /app/a on a listener without a default")
        for host, target in (("app.example.com", "/other"), ("other.example.com", "/app/a")):
            got = client.request("GET", target, host=host)
            check_equal(got.status, 404, "Host %s, %s: nothing matches and no default: 404" % (host, target))


def check_bad_host_refused(folder):
    text = head() + "[upstreams.app]\npeers = [\"127.0.0.1:9\"]\nbalancer = \"round_robin\"\n\n" + listener(
        "front", 1, ['{ host = "app.example.com:8080", prefix = "/", upstream = "app" }'])
    path = write_file(os.path.join(folder, "bad.toml"), text)
    value = '"app.example.com:8080"'
    line_number, line = next((n, l) for n, l in enumerate(text.splitlines(), 1) if value in l)
    done = subprocess.run([PROXYD_BIN, "-t", "-c", path], capture_output=True, text=True, timeout=30)
    check_equal(done.returncode, 1, "proxyd -t with host = \"app.example.com:8080\": exit status")
    lines = (done.stdout + done.stderr).splitlines()
    wanted = ("%s:%d:%d: listeners[0].router.routes[0].host: plugin prefix: host 'app.example.com:8080': "
              "give the host name without a port" % (path, line_number, line.index(value) + 1))
    check(any(wanted in line for line in lines), "proxyd -t names the bad host by file:line:col and key",
          "wanted a line with %r, got %r" % (wanted, done.stdout + done.stderr))


def main():
    folder = workdir("vhosts")
    backends = {tag: tagged(tag) for tag in ("app", "api", "wild", "default")}
    site = os.path.join(folder, "static-site")
    write_file(os.path.join(site, "index.html"), "the static site\n")
    front, fallback, strict = free_ports(3)

    config = head()
    for tag, backend in backends.items():
        config += "[upstreams.%s]\npeers = [%s]\nbalancer = \"round_robin\"\n\n" % (
            tag, toml_str("%s:%d" % (HOST, backend.port)))
    config += "[handlers.static_site]\nplugin = \"static\"\nroot = %s\n\n" % toml_str(site)
    config += listener("front", front, SITES)
    config += listener("fallback", fallback, ['{ host = "app.example.com", prefix = "/", upstream = "app" }'],
                       extra="upstream = \"default\"\n")
    config += listener("strict", strict, ['{ host = "app.example.com", prefix = "/app/", upstream = "app" }'])
    Proxyd(write_file(os.path.join(folder, "vhosts.toml"), config), folder).start([front, fallback, strict])

    check_front(front)
    check_curl(front)
    check_declines(fallback, strict)
    check_bad_host_refused(folder)


if __name__ == "__main__":
    run_test(main)
