#!/usr/bin/env python3
"""HTTP/2 with real clients, through a reverse proxy laid out like conf.d/reverse.toml: a front
listener with HTTP/2 on (TLS with ALPN h2, and a cleartext one for prior-knowledge h2c) routing
/ , /images/ and /pdf/ to three static listeners of the same process serving www/.
(test_h2_serving.py covers curl on static handlers, POST bodies and nghttp's multiplexing.)

What a user relies on:
- curl --http2 over TLS gets the 540 KB PDF byte-exact through the proxy, on h2;
  curl --http2-prior-knowledge on the cleartext listener speaks h2c; curl --http2 on cleartext
  (which offers Upgrade: h2c, a path proxyd does not take) is served as HTTP/1.1;
- `nghttp -v` reports the negotiated h2 and :status 200 for the page;
- h2load -n 2000 -c 10 -m 10 over TLS through the proxy: 2000 of 2000 succeeded, 0 failed,
  0 errored, all 2xx, on h2;
- the access log names the protocol HTTP/2.0 for every h2 request.
curl and h2load/nghttp come from Debian's curl and nghttp2-client (packaging/build-deps.sh
--test). Every process is stopped by its PID; ~6 s."""

import os
import re
import shutil
import subprocess

from h2_setup import h2_listener, require_http2
from proxyd_harness import (HOST, WWW_DIR, Proxyd, TestFailure, access_log_entries, check, check_equal, config_head,
                            curl, free_ports, listener, make_certificate, note, read_file, run_test, static_handler,
                            upstream, workdir, write_file)

ROUTES = ("[routers.reverse]\nplugin = \"prefix\"\nroutes = [\n"
          "  { prefix = \"/images/\", upstream = \"images\", strip_prefix = true },\n"
          "  { prefix = \"/pdf/\", upstream = \"pdf\", strip_prefix = true },\n"
          "  { prefix = \"/\", upstream = \"web\" },\n]\n\n")


def run(cmd, timeout=60):
    note("running: " + " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def curl_version(url, folder, *extra):
    """(status, HTTP version curl used, body)."""
    status, headers, body = curl(url, folder, *extra)
    head = read_file(os.path.join(folder, "curl.head")).decode("latin-1")
    first = [line for line in head.split("\r\n") if line.startswith("HTTP/")][-1]
    return status, first.split(" ")[0], body


def main():
    for tool in ("curl", "nghttp", "h2load"):
        if shutil.which(tool) is None:
            raise TestFailure("%s is not installed (packaging/build-deps.sh --test installs it)" % tool)
    folder = workdir("h2-clients")
    cert, key = make_certificate(folder, "site", ["localhost"], ips=[HOST])
    front_tls, front_h2c, web, images, pdf = free_ports(5)
    config = (config_head() + upstream("web", [web]) + upstream("images", [images]) + upstream("pdf", [pdf]) +
              ROUTES +
              h2_listener("reverse-h2", front_tls, "router", "reverse", tls=(cert, key)) +
              h2_listener("reverse-h2c", front_h2c, "router", "reverse") +
              static_handler("default_site", os.path.join(WWW_DIR, "default")) +
              static_handler("image_site", os.path.join(WWW_DIR, "images")) +
              static_handler("pdf_site", os.path.join(WWW_DIR, "pdf")) +
              listener("default-site", web, "handler", "default_site") +
              listener("image-site", images, "handler", "image_site") +
              listener("pdf-site", pdf, "handler", "pdf_site"))
    path = write_file(os.path.join(folder, "proxyd.toml"), config)
    require_http2(path)
    proxyd = Proxyd(path, folder)
    proxyd.start([front_tls, front_h2c, web, images, pdf])

    page = read_file(os.path.join(WWW_DIR, "default", "index.html"))
    report = read_file(os.path.join(WWW_DIR, "pdf", "report.pdf"))
    tls_base = "https://localhost:%d" % front_tls
    resolve = ["--resolve", "localhost:%d:%s" % (front_tls, HOST), "--cacert", cert]

    status, version, body = curl_version(tls_base + "/pdf/report.pdf", folder, "--http2", *resolve)
    check_equal((status, version), (200, "HTTP/2"), "curl --http2: /pdf/report.pdf through the proxy: status, protocol")
    check(body == report, "the %d-byte PDF over h2 byte-exact (got %d)" % (len(report), len(body)))
    status, version, body = curl_version("http://%s:%d/" % (HOST, front_h2c), folder, "--http2-prior-knowledge")
    check_equal((status, version), (200, "HTTP/2"), "curl --http2-prior-knowledge (h2c): status and protocol")
    check(body == page, "h2c: the page byte-exact")
    status, version, body = curl_version("http://%s:%d/" % (HOST, front_h2c), folder, "--http2")
    check_equal((status, version), (200, "HTTP/1.1"), "curl --http2 on cleartext (Upgrade: h2c offered): HTTP/1.1")
    check(body == page, "the Upgrade-offering request's page byte-exact")

    code, out, err = run(["nghttp", "-v", "-n", "https://%s:%d/" % (HOST, front_tls)])
    check_equal(code, 0, "nghttp -v exit code")
    check("The negotiated protocol: h2" in out, "nghttp -v: the negotiated protocol is h2",
          out[:600] + err[-300:])
    check(re.search(r"recv \(stream_id=\d+\) :status: 200", out) is not None, "nghttp -v: :status: 200",
          out[-800:])

    code, out, err = run(["h2load", "-n", "2000", "-c", "10", "-m", "10", "https://%s:%d/" % (HOST, front_tls)],
                         timeout=120)
    note(" | ".join(line.strip() for line in out.splitlines() if line.startswith(("requests:", "status codes:",
                                                                                    "finished in", "Application"))))
    check_equal(code, 0, "h2load exit code")
    check("Application protocol: h2" in out, "h2load negotiated h2", out[-800:])
    counts = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", out)
    check(counts is not None, "h2load printed its request counts", out[-800:])
    check_equal(tuple(int(x) for x in counts.groups()), (2000, 2000, 2000, 2000, 0, 0, 0),
                "h2load -n 2000 -c 10 -m 10: total, started, done, succeeded, failed, errored, timeout")
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    check_equal(codes and int(codes.group(1)), 2000, "h2load: 2000 responses 2xx")

    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    # reverse-h2 saw curl's PDF, nghttp's page and h2load's 2000, all on h2; reverse-h2c one h2c
    # request and one HTTP/1.1 request.
    entries = [e for e in access_log_entries(proxyd.stderr_text()) if e["listener"].startswith("reverse-h2")]
    h2_lines = [e for e in entries if e["request"].endswith(" HTTP/2.0")]
    check_equal((len(h2_lines), len(entries)), (2003, 2004),
                "access log: lines with protocol HTTP/2.0, and all lines, on the two front listeners")


run_test(main)
