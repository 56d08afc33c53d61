#!/usr/bin/env python3
"""Around HTTPS: HSTS, the redirect of a cleartext listener to HTTPS, and what `proxyd -t` checks of
certificate files.

What a user relies on:
- `tls.hsts` puts exactly one Strict-Transport-Security (the configured one) on every response of
  the HTTPS listener: a static file, proxyd's own 404, and a proxied response whose backend sent
  its own (replaced);
- `redirect_https = PORT` answers every request of a cleartext listener with a 308 whose Location is
  the same host (its port replaced) and target over https, keep-alive intact; a POST too, whose
  body (Content-Length or chunked, sent after the answer) is read and dropped, the connection then
  serving the next request, while a body declared larger than 1 MiB (no max_body_size) or one that
  stops coming for body_timeout ends the connection; an HTTP/1.0 request without Host is sent to
  the address it reached; `redirect_https = true` leaves the port out (443);
- `proxyd -t` refuses, at the key's file:line:col: a missing certificate or key file, a key that is
  not the certificate's, ciphers or groups OpenSSL does not know (one unknown group among known
  ones too, beside a missing key), a bad HSTS value, HSTS on a cleartext listener, redirect_https
  on an HTTPS listener; and it warns (exit 0) of a cipher or TLS 1.3 suite among known ones that
  OpenSSL would skip, naming it, and of a certificate expiring within 14 days, naming the file,
  its notAfter and the position; proxyd logs the same warning when it starts.

Client sockets time out after 5 s; every process is stopped by PID."""

import os
import re
import socket
import ssl
import subprocess

from proxyd_harness import (HOST, PROXYD_BIN, Backend, check, check_equal, chunked, Client, config_head, free_ports,
                            make_certificate, Proxyd, read_until_close, response_bytes, run_test, static_handler,
                            toml_str, upstream, workdir, write_file)
from test_tls import client_context

TIMEOUT = 5.0
HSTS = "max-age=31536000; includeSubDomains"


def https_get(port, cafile, path):
    """One GET over TLS; returns (status, list of header (name, value), body)."""
    sock = client_context(cafile).wrap_socket(socket.create_connection((HOST, port), timeout=TIMEOUT),
                                              server_hostname="site.test")
    with sock:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n" % path).encode())
        data = read_until_close(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    return int(lines[0].split(" ")[1]), headers, body


def all_of(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def check_config(folder, stem, text):
    """Runs proxyd -t on text; returns (exit code, stderr)."""
    path = write_file(os.path.join(folder, stem + ".toml"), text)
    done = subprocess.run([PROXYD_BIN, "-t", "-c", path], capture_output=True, text=True, timeout=20)
    return done.returncode, done.stderr


def position_of(text, needle, path):
    """'path:line:col' of the first occurrence of needle in text, as the loader reports a value's."""
    before = text[:text.index(needle)]
    return "%s:%d:%d" % (path, before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)


def backend_with_own_hsts(request, conn_id):
    return [response_bytes(200, b"proxied", [("Strict-Transport-Security", "max-age=5")])], False


def serving_checks(folder, site):
    www = os.path.join(folder, "www")
    write_file(os.path.join(www, "index.html"), "hello\n")
    backend = Backend(handler=backend_with_own_hsts)
    static_port, proxy_port, redirect_port, default_port = free_ports(4)
    tls = "{ certificate = %s, key = %s, hsts = %s }" % (toml_str(site[0]), toml_str(site[1]), toml_str(HSTS))
    config = (config_head() + static_handler("site", www) + upstream("app", [backend.port]) +
              "[[listeners]]\nname = \"static\"\nlisten = \"%s:%d\"\nhandler = \"site\"\ntls = %s\n\n"
              % (HOST, static_port, tls) +
              "[[listeners]]\nname = \"proxied\"\nlisten = \"%s:%d\"\nupstream = \"app\"\ntls = %s\n\n"
              % (HOST, proxy_port, tls) +
              "[[listeners]]\nname = \"to-https\"\nlisten = \"%s:%d\"\nredirect_https = %d\n"
              "limits = { body_timeout = \"500ms\" }\n\n"
              % (HOST, redirect_port, static_port) +
              "[[listeners]]\nname = \"to-443\"\nlisten = \"%s:%d\"\nredirect_https = true\n\n" % (HOST, default_port))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder)
    proxyd.start([static_port, proxy_port, redirect_port, default_port])

    for port, path, status, what in ((static_port, "/index.html", 200, "a static file"),
                                     (static_port, "/missing", 404, "proxyd's own 404"),
                                     (proxy_port, "/api", 200, "a proxied response")):
        got, headers, body = https_get(port, site[0], path)
        check_equal(got, status, "status of %s" % what)
        check_equal(all_of(headers, "strict-transport-security"), [HSTS], "HSTS on %s" % what)
    check_equal(body, b"proxied", "the proxied body")

    with Client(redirect_port, TIMEOUT) as client:
        first = client.request("GET", "/a/b?x=1&y=2", host="site.test:%d" % redirect_port)
        check_equal(first.status, 308, "redirect status")
        check_equal(first.header("location"), "https://site.test:%d/a/b?x=1&y=2" % static_port,
                    "Location: same host and target, the HTTPS port")
        check(not first.has("strict-transport-security"), "no HSTS over cleartext")
        check("close" not in first.connection_tokens(), "keep-alive kept after a redirect")
        again = client.request("GET", "/again", host="site.test")
        check_equal(again.header("location"), "https://site.test:%d/again" % static_port,
                    "a second request on the same connection")
    redirect_body_checks(redirect_port, static_port)
    with Client(redirect_port, TIMEOUT) as client:
        client.send(b"GET /old HTTP/1.0\r\n\r\n")
        bare = client.read_response()
        check_equal(bare.header("location"), "https://%s:%d/old" % (HOST, static_port),
                    "HTTP/1.0 without Host: the address the client reached")
    with Client(default_port, TIMEOUT) as client:
        got = client.request("GET", "/", host="[::1]:8080")
        check_equal(got.header("location"), "https://[::1]/", "redirect_https = true: port 443 left out")

    # The HTTPS listener behind the redirect serves what the Location names.
    got, headers, body = https_get(static_port, site[0], "/index.html")
    check_equal(body, b"hello\n", "the redirect's target serves")
    check(proxyd.alive(), "proxyd still running")
    proxyd.stop()


def post_head(target, framing):
    return b"POST %s HTTP/1.1\r\nHost: site.test\r\n%s\r\n\r\n" % (target.encode(), framing.encode())


def redirect_body_checks(redirect_port, static_port):
    """The 308 comes at the head; a body sent after it is read and dropped, so the connection
    serves the next request, as nginx does. Too large a body, or one that stalls, closes it."""
    with Client(redirect_port, TIMEOUT) as client:
        client.send(post_head("/form", "Content-Length: 3000"))
        post = client.read_response()
        check_equal(post.status, 308, "a POST is redirected too (308 keeps the method)")
        check_equal(post.header("location"), "https://site.test:%d/form" % static_port, "Location of the POST")
        check("close" not in post.connection_tokens(), "the redirect of a POST keeps the connection")
        client.send(b"a" * 3000)
        after = client.request("GET", "/after", host="site.test")
        check_equal(after.header("location"), "https://site.test:%d/after" % static_port,
                    "the body was read and dropped: the next request on the connection is answered")
        client.send(post_head("/chunked", "Transfer-Encoding: chunked"))
        check("close" not in client.read_response().connection_tokens(), "a chunked POST's redirect keeps it too")
        client.send(chunked(b"b" * 20000, piece=5000))
        after = client.request("GET", "/after-chunks", host="site.test")
        check_equal(after.header("location"), "https://site.test:%d/after-chunks" % static_port,
                    "the chunked body was read and dropped: the next request is answered")
        # The body's tail and the next request in one segment: the request after the body is parsed.
        client.send(post_head("/split", "Content-Length: 20") + b"f" * 8)
        check_equal(client.read_response().status, 308, "the POST whose body comes in two parts")
        client.send(b"f" * 12 + b"GET /pipelined HTTP/1.1\r\nHost: site.test\r\n\r\n")
        after = client.read_response()
        check_equal(after.header("location"), "https://site.test:%d/pipelined" % static_port,
                    "a request in the same segment as the dropped body's tail is answered")
    with Client(redirect_port, TIMEOUT) as client:
        client.send(post_head("/expect", "Content-Length: 100\r\nExpect: 100-continue"))
        expected = client.read_response()
        check(expected.status == 308 and "close" in expected.connection_tokens(),
              "a POST waiting for 100-continue gets the 308 with Connection: close (it may never send its body)")
        check(client.closed_by_peer(), "and the connection is closed")
    with Client(redirect_port, TIMEOUT) as client:
        client.send(post_head("/upload", "Content-Length: 10000000000") + b"c" * 1000)
        huge = client.read_response()
        check_equal(huge.status, 308, "a POST of 10 GB declared is redirected")
        check("close" in huge.connection_tokens(), "a body over the 1 MiB read and dropped: Connection: close")
        check(client.closed_by_peer(), "and the connection is closed")
    with Client(redirect_port, TIMEOUT) as client:
        client.send(post_head("/big-chunks", "Transfer-Encoding: chunked"))
        check("close" not in client.read_response().connection_tokens(), "a chunked POST's size shows as it comes")
        try:
            client.send(chunked(b"e" * (1536 * 1024), piece=65536))
        except OSError:
            pass  # proxyd may stop reading before the last chunk
        check(client.closed_by_peer(), "past 1 MiB of chunks read and dropped, the connection is closed")
    with Client(redirect_port, TIMEOUT) as client:
        client.send(post_head("/stalled", "Content-Length: 100") + b"d" * 10)
        stalled = client.read_response()
        check("close" not in stalled.connection_tokens(), "a small body's redirect keeps the connection")
        check(client.closed_by_peer(within=3.0), "a body that stops coming: closed after body_timeout (500ms)")


def config_checks(folder, site, other, soon):
    www = os.path.join(folder, "www")
    port = free_ports(1)[0]
    head = config_head() + static_handler("site", www)

    def https(tls_fields, extra=""):
        return head + "[[listeners]]\nlisten = \"%s:%d\"\nhandler = \"site\"\n%stls = { %s }\n" % (
            HOST, port, extra, tls_fields)

    def files(cert, key):
        return "certificate = %s, key = %s" % (toml_str(cert), toml_str(key))

    missing = os.path.join(folder, "nowhere.key")
    cases = [
        ("missing-key", https(files(site[0], missing)), "key = ", "listeners[0].tls.key: %s: cannot read it" % missing),
        ("missing-cert", https(files(missing, site[1])), "certificate = ",
         "listeners[0].tls.certificate: %s: cannot read it" % missing),
        ("mismatch", https(files(site[0], other[1])), "key = ",
         "listeners[0].tls.key: %s: the private key does not match the certificate in %s" % (other[1], site[0])),
        ("bad-hsts", https(files(site[0], site[1]) + ", hsts = \"includeSubDomains\""), "hsts = ",
         "listeners[0].tls.hsts: \"includeSubDomains\": needs max-age"),
        ("cleartext-hsts", head + "[[listeners]]\nlisten = \"%s:%d\"\nhandler = \"site\"\nhsts = \"max-age=1\"\n"
         % (HOST, port), "hsts = ", "listeners[0].hsts: HSTS belongs to an HTTPS listener"),
        ("bad-ciphers", https(files(site[0], site[1]) + ", ciphers = \"NO-SUCH-CIPHER\""), "ciphers = ",
         "listeners[0].tls.ciphers: ciphers 'NO-SUCH-CIPHER': "),
        ("bad-groups", https(files(site[0], site[1]) + ", groups = \"nosuchcurve\""), "groups = ",
         "listeners[0].tls.groups: OpenSSL knows no group 'nosuchcurve'"),
        # One unknown group refuses the list: named, and beside another error (the lists are
        # checked on their own, not only once the certificates have loaded).
        ("bad-group-beside-missing-key", https(files(site[0], missing) + ", groups = \"X25519:nosuchcurve\""),
         "groups = ", "listeners[0].tls.groups: OpenSSL knows no group 'nosuchcurve', and refuses the whole list"),
        ("redirect-on-https", https(files(site[0], site[1]), "redirect_https = true\n").replace(
            "handler = \"site\"\n", ""), "redirect_https = ",
         "listeners[0].redirect_https: is for a cleartext listener"),
    ]
    for stem, text, needle, message in cases:
        code, stderr = check_config(folder, stem, text)
        path = os.path.join(folder, stem + ".toml")
        # The loader reports a value's position: just after "key = ".
        where = position_of(text, needle, path)
        line, col = where.rsplit(":", 2)[1:]
        where = "%s:%s:%d" % (path, line, int(col) + len(needle))
        check(code != 0, "%s: proxyd -t fails" % stem, stderr)
        check("%s: %s" % (where, message) in stderr, "%s: the error names the position and the file" % stem, stderr)

    # A cipher or TLS 1.3 suite OpenSSL would skip beside known ones (a typo): a warning naming it.
    for stem, key, value, unknown in (("typo-cipher", "ciphers", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265",
                                       "'ECDHE-RSA-AES128-GCM-SHA265'"),
                                      ("typo-suite", "ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA384",
                                       "'TLS_AES_128_GCM_SHA384'")):
        text = https(files(site[0], site[1]) + ", %s = %s" % (key, toml_str(value)))
        code, stderr = check_config(folder, stem, text)
        check_equal(code, 0, "%s: a skipped entry is a warning, not an error (%s)" % (stem, stderr))
        path = os.path.join(folder, stem + ".toml")
        check(re.search(r"warning: %s:\d+:\d+: listeners\[0\]\.tls\.%s: %s selects nothing this OpenSSL offers"
                        % (re.escape(path), key, re.escape(unknown)), stderr),
              "%s: the warning names the position, the key and the entry" % stem, stderr)

    # A certificate expiring in 3 days: a warning with its position and notAfter, and still valid.
    text = https(files(soon[0], soon[1]))
    code, stderr = check_config(folder, "soon", text)
    check_equal(code, 0, "an expiring certificate is a warning, not an error (%s)" % stderr)
    not_after = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", soon[0]], capture_output=True,
                               text=True, check=True).stdout.strip().split("=", 1)[1]
    year = not_after.split()[-2]
    path = os.path.join(folder, "soon.toml")
    before = text[:text.index("certificate = ")]
    where = "%s:%d:" % (path, before.count("\n") + 1)
    warning = [l for l in stderr.splitlines() if l.startswith("proxyd: warning: ")]
    check(len(warning) == 1 and where in warning[0] and soon[0] in warning[0] and "expires on " + year in warning[0]
          and ("in 2 day(s)" in warning[0] or "in 3 day(s)" in warning[0]),
          "the warning names the position, file and notAfter", stderr)
    code, stderr = check_config(folder, "fresh", https(files(site[0], site[1])))
    check(code == 0 and "warning" not in stderr, "a certificate valid for 30 days gets no warning", stderr)

    # proxyd logs the same warning when it starts serving.
    proxyd = Proxyd(write_file(os.path.join(folder, "soon-run.toml"), text), folder, tag="soon")
    proxyd.start([port])
    check("[warn]" in proxyd.stderr_text() and "expires on" in proxyd.stderr_text(),
          "the expiry warning is logged at start", proxyd.stderr_tail())
    proxyd.stop()


def main():
    folder = workdir("tls-edge")
    site = make_certificate(folder, "site", ["site.test"], days=30)
    other = make_certificate(folder, "other", ["other.test"], days=30)
    soon = make_certificate(folder, "soon", ["soon.test"], days=3)
    serving_checks(folder, site)
    config_checks(folder, site, other, soon)


run_test(main)
