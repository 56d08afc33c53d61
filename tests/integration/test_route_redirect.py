#!/usr/bin/env python3
"""A routing plugin's redirect (ABI 1.7, PROXYD_ROUTE_REDIRECT), through the real binary.

The prefix router sends a path that lacks only the trailing slash of a route's prefix there, as
nginx does for its locations: "/images" to "/images/". What a user relies on:
- GET and HEAD get 301 with Location "/images/" (the query kept); curl -L lands on the route;
- a POST gets 308, which keeps the method and body (a 301 would turn it into a GET); its body is
  read and dropped and the connection serves the next request;
- the same over h2c (GET and POST); an escaped letter (/im%61ges) is decoded first; the access
  log records the 301 with no upstream;
- a route whose prefix is the slash-less path itself is served, not redirected.
And what the core does with any router's location (the C fixture routing_redirect.c): it sends
a good one as it is; an empty one, one with CR LF (which would split the head and inject a
Set-Cookie), a blank or a raw UTF-8 byte gets 500 and an error naming the router, and the connection serves on;
a 1.6 router (routing_redirect_1_6.c) returning the result's value is declined, not obeyed.
curl comes from Debian's curl; every process is stopped by its PID; ~3 s."""

import os

from h2_frames import ConformanceFailure, H2Client, Target
from h2_setup import HTTP2_KEY, require_http2
from proxyd_harness import (HOST, Client, Proxyd, access_log_entries, check, check_equal, config_head, curl,
                            free_ports, header_of, run_test, static_handler, toml_str, workdir, write_file)

LOADER_DIR = os.environ.get("PROXYD_TEST_PLUGIN_DIR", "")


def listener(name, port, router, handler, http2=False):
    return "[[listeners]]\nname = %s\nlisten = %s\nrouter = %s\nhandler = %s\n%s\n" % (
        toml_str(name), toml_str("%s:%d" % (HOST, port)), toml_str(router), toml_str(handler),
        "%s = true\n" % HTTP2_KEY if http2 else "")


def prefix_router_redirects(port, folder, proxyd):
    with Client(port) as client:
        moved = client.request("GET", "/images")
        check_equal(moved.status, 301, "GET /images: status")
        check_equal(moved.header("Location"), "/images/", "GET /images: Location")
        head = client.request("HEAD", "/images?size=2&x=%20")
        check_equal(head.status, 301, "HEAD: status")
        check_equal(head.header("Location"), "/images/?size=2&x=%20", "HEAD: the query is kept")
        post = client.request("POST", "/images", [("Content-Type", "text/plain")], b"a form's body")
        check_equal(post.status, 308, "POST /images: 308 keeps the method and body")
        check_equal(post.header("Location"), "/images/", "POST: Location")
        # The same connection goes on: the POST's body was read and dropped, not taken as a request.
        served = client.request("GET", "/images/cat.txt")
        check_equal((served.status, served.body), (200, b"a cat\n"), "the route after the redirects")
        encoded = client.request("GET", "/im%61ges")
        check_equal((encoded.status, encoded.header("Location")), (301, "/images/"),
                    "an escaped letter is decoded before routing: the clean path is redirected")
        exact = client.request("GET", "/pdf")
        check_equal((exact.status, exact.body), (200, b"pdf index\n"),
                    "a route whose prefix is the slash-less path is served, not redirected")
        check(not client.closed_by_peer(within=0.2), "the connection stays open")

    status, headers, body = curl("http://%s:%d/images?size=2" % (HOST, port), folder, "-L")
    check_equal((status, body), (200, b"images index\n"), "curl -L lands on the route's index")
    status, headers, _ = curl("http://%s:%d/images" % (HOST, port), folder, "--http2-prior-knowledge")
    check_equal(status, 301, "h2c: status")
    check_equal(header_of(headers, "location"), "/images/", "h2c: Location")
    h2_post_then_get(port)

    entries = [e for e in access_log_entries(proxyd.stderr_text()) if e["request"].startswith("GET /images ")]
    check(entries, "the redirect is in the access log", proxyd.stderr_tail())
    check_equal((entries[0]["status"], entries[0]["upstream"]), ("301", "-"), "access log: status, no upstream")


def h2_post_then_get(port):
    """A POST over h2c whose body follows its HEADERS: 308, and the connection serves on. (Raw
    frames, not curl: curl 7.88 reports error 92 when the answer comes before it sent the body and
    the stream is then reset with NO_ERROR, which RFC 9113 §8.1 allows.)"""
    client = H2Client(Target(HOST, port))
    try:
        post = client.request("/images?a=1", "POST", [("content-length", "6")], end_stream=False)
        client.h2.send_data(post, b"posted", end_stream=True)
        client.flush()
        client.wait(lambda: client.response_done(post), "the POST's answer")
        check_equal((client.status(post), client.field(post, "location")), (308, "/images/?a=1"),
                    "h2c POST: 308 with the query kept")
        get = client.request("/images/cat.txt")
        client.wait(lambda: client.response_done(get), "the next stream's answer")
        check_equal(client.status(get), 200, "h2c: the connection serves the next stream")
    except ConformanceFailure as failure:
        check(False, "h2c POST then GET", str(failure))
    finally:
        client.close()


def fixture_redirects(port, proxyd):
    with Client(port) as client:
        good = client.request("GET", "/moved")
        check_equal(good.status, 301, "fixture /moved: status")
        check_equal(good.header("Location"), "/moved/?from=fixture", "fixture /moved: Location as given")
        outside = "a byte outside visible ASCII"
        for path, why in (("/empty", "it is empty"), ("/split", outside), ("/blank", outside), ("/utf8", outside)):
            logged = len(proxyd.stderr_text())
            bad = client.request("GET", path)
            check_equal(bad.status, 500, "fixture %s: a location that cannot be sent" % path)
            check(not bad.has("Location") and not bad.has("Set-Cookie"),
                  "fixture %s: nothing of it reaches the client" % path, bad.headers)
            # The log line is written before the answer goes out.
            check(why in proxyd.stderr_text()[logged:], "fixture %s: the error log says why" % path,
                  proxyd.stderr_tail())
        declined = client.request("GET", "/")
        check_equal((declined.status, declined.body), (200, b"site index\n"),
                    "a declined path goes to the listener's handler, on the same connection")
    check("routers.fixture (routing plugin 'redirect')" in proxyd.stderr_text(), "the error names the router",
          proxyd.stderr_tail())


def old_router_declined(port):
    with Client(port) as client:
        response = client.request("GET", "/moved")
    check_equal(response.status, 404, "a 1.6 router's value 2 is a decline: the listener's handler "
                                      "answers (it has no file /moved)")
    check(not response.has("Location"), "no redirect from a 1.6 router", response.headers)


def main():
    folder = workdir("route-redirect")
    for sub, name, text in (("site", "index.html", "site index\n"), ("images", "index.html", "images index\n"),
                            ("images", "cat.txt", "a cat\n"), ("pdf", "index.html", "pdf index\n")):
        write_file(os.path.join(folder, sub, name), text)
    prefix_port, fixture_port, old_port = free_ports(3)
    config = (config_head().replace(
                  "[plugins]\n", "[plugins]\nredirect = %s\nredirect_1_6 = %s\n" % (
                      toml_str(os.path.join(LOADER_DIR, "routing_redirect.so")),
                      toml_str(os.path.join(LOADER_DIR, "routing_redirect_1_6.so")))) +
              static_handler("site", os.path.join(folder, "site")) +
              static_handler("images", os.path.join(folder, "images")) +
              static_handler("pdf", os.path.join(folder, "pdf")) +
              "[routers.site]\nplugin = \"prefix\"\nroutes = [\n"
              "  { prefix = \"/images/\", handler = \"images\", strip_prefix = true },\n"
              "  { prefix = \"/pdf/\", handler = \"pdf\", strip_prefix = true },\n"
              "  { prefix = \"/pdf\", handler = \"pdf\", strip_prefix = true },\n"
              "]\n\n"
              "[routers.fixture]\nplugin = \"redirect\"\n\n"
              "[routers.old]\nplugin = \"redirect_1_6\"\n\n" +
              listener("prefix", prefix_port, "site", "site", http2=True) +
              listener("fixture", fixture_port, "fixture", "site") +
              listener("old", old_port, "old", "site"))
    path = write_file(os.path.join(folder, "redirect.toml"), config)
    require_http2(path)
    proxyd = Proxyd(path, folder)
    proxyd.start([prefix_port, fixture_port, old_port])
    prefix_router_redirects(prefix_port, folder, proxyd)
    fixture_redirects(fixture_port, proxyd)
    old_router_declined(old_port)
    check(proxyd.alive(), "proxyd still runs", proxyd.stderr_tail())
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
