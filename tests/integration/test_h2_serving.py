#!/usr/bin/env python3
"""HTTP/2 for clients as curl and nghttp meet it: prior-knowledge h2c on a cleartext listener with
http2 = true, h2 by ALPN on an HTTPS one, HTTP/1.1 clients on the same listeners unaffected.
Through the whole pipeline: the demo page and the 540 KB PDF from the static handler
(byte-identical), a 404, a proxied 1 MB POST (checksummed at the backend, sent without a
content-length so the stream's body goes to the backend chunked), 20 streams at once on one
connection, and the access log's protocol HTTP/2.0, also for the answers the HTTP/2 side gives
itself (431 for a header list over its bound, 501 for CONNECT), and Max-Forwards on an OPTIONS
stream (0: answered by proxyd; more: decremented on the way)."""

import hashlib
import json
import os
import re
import shutil
import subprocess

from h2_frames import H2Client, Target
from proxyd_harness import (HOST, WWW_DIR, Backend, Proxyd, TestSkip, check, check_equal, config_head,
                            free_ports, make_certificate, read_file, run_test, static_handler, toml_str,
                            upstream, workdir, write_file)


def curl_h2(url, folder, *extra, timeout=20):
    """Runs curl: (HTTP version as curl says it, status, body bytes)."""
    body_path = os.path.join(folder, "body")
    if os.path.exists(body_path):
        os.remove(body_path)
    cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout), "-o", body_path,
           "-w", "%{http_version} %{http_code}", *extra, url]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout + 10)
    if done.returncode != 0:
        raise AssertionError("%s failed (exit %d): %s" % (" ".join(cmd), done.returncode, done.stderr.decode()))
    version, status = done.stdout.decode().split()
    return version, int(status), read_file(body_path) if os.path.exists(body_path) else b""


def main():
    for tool in ("curl", "nghttp"):
        if shutil.which(tool) is None:
            raise TestSkip(tool + " is not installed (packaging/build-deps.sh --test)")
    folder = workdir("h2-serving")
    cert, key = make_certificate(folder, "h2", ["localhost"], ips=["127.0.0.1"])
    backend = Backend()
    h2c, h2tls, plain_tls = free_ports(3)
    router = ("[routers.paths]\nplugin = \"prefix\"\nroutes = [\n"
              "  { prefix = \"/api/\", upstream = \"api\" },\n"
              "  { prefix = \"/pdf/\", handler = \"pdf\", strip_prefix = true },\n"
              "  { prefix = \"/\", handler = \"site\" },\n]\n\n")
    tls = "[listeners.tls]\ncertificate = %s\nkey = %s\n\n" % (toml_str(cert), toml_str(key))
    config = (config_head() + static_handler("site", os.path.join(WWW_DIR, "default"))
              + static_handler("pdf", os.path.join(WWW_DIR, "pdf")) + upstream("api", [backend.port]) + router
              + "[[listeners]]\nname = \"h2c\"\nlisten = \"%s:%d\"\nrouter = \"paths\"\nhttp2 = true\n\n" % (HOST, h2c)
              + "[[listeners]]\nname = \"h2\"\nlisten = \"%s:%d\"\nrouter = \"paths\"\nhttp2 = true\n" % (HOST, h2tls)
              + tls
              + "[[listeners]]\nname = \"h1\"\nlisten = \"%s:%d\"\nrouter = \"paths\"\n" % (HOST, plain_tls) + tls)
    path = os.path.join(folder, "proxyd.toml")
    write_file(path, config.encode())
    proxyd = Proxyd(path, folder)
    proxyd.start((h2c, h2tls, plain_tls))

    page = read_file(os.path.join(WWW_DIR, "default", "index.html"))
    pdf = read_file(os.path.join(WWW_DIR, "pdf", "report.pdf"))
    base = {"h2c": ("http://%s:%d" % (HOST, h2c), ["--http2-prior-knowledge"]),
            "h2": ("https://%s:%d" % (HOST, h2tls), ["--http2", "--cacert", cert])}
    for name, (url, flags) in base.items():
        version, status, body = curl_h2(url + "/", folder, *flags)
        check(version == "2" and status == 200 and body == page,
              "%s: GET / over HTTP/2 is the demo page (version %s, status %d)" % (name, version, status))
        version, status, body = curl_h2(url + "/pdf/report.pdf", folder, *flags)
        check(version == "2" and status == 200 and body == pdf,
              "%s: the %d-byte PDF over HTTP/2 is byte-identical" % (name, len(pdf)))
        version, status, _ = curl_h2(url + "/no/such/page", folder, *flags)
        check_equal((version, status), ("2", 404), "%s: a missing file is a 404 over HTTP/2" % name)
        upload = os.urandom(1024 * 1024)
        upload_path = os.path.join(folder, "upload.bin")
        write_file(upload_path, upload)
        # -T sends a file's length; from stdin curl sends none, so the stream's body is chunked
        # towards the backend.
        for how, extra in (("with its length", ["--data-binary", "@" + upload_path]),
                           ("without a length", ["-T", "-", "-X", "POST"])):
            cmd_extra = flags + extra
            if how == "without a length":
                with open(upload_path, "rb") as f:
                    done = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-w",
                                           "\n%{http_version} %{http_code}", *cmd_extra, url + "/api/upload"],
                                          stdin=f, capture_output=True, timeout=30)
                text = done.stdout.decode()
                answer, _, tail = text.rpartition("\n")
                version, status = tail.split()
                status = int(status)
            else:
                version, status, body = curl_h2(url + "/api/upload", folder, *cmd_extra)
                answer = body.decode()
            echo = json.loads(answer)
            check(version == "2" and status == 200 and echo["method"] == "POST"
                  and echo["body_sha256"] == hashlib.sha256(upload).hexdigest(),
                  "%s: a proxied 1 MB POST %s reaches the backend intact (framing %s)"
                  % (name, how, echo.get("framing")))

    # On the same listeners, HTTP/1.1 clients are served as before; without http2 no h2 is offered.
    version, status, body = curl_h2("http://%s:%d/" % (HOST, h2c), folder, "--http1.1")
    check(version == "1.1" and status == 200 and body == page, "h2c listener: an HTTP/1.1 client is served")
    version, status, body = curl_h2("https://%s:%d/" % (HOST, h2tls), folder, "--http1.1", "--cacert", cert)
    check(version == "1.1" and status == 200, "h2 listener: an HTTP/1.1 client (ALPN http/1.1) is served")
    version, status, body = curl_h2("https://%s:%d/" % (HOST, plain_tls), folder, "--http2", "--cacert", cert)
    check_equal((version, status), ("1.1", 200), "a listener without http2 answers a client offering h2 in HTTP/1.1")

    # Twenty streams at once on one connection.
    for name, (url, flags) in base.items():
        done_v = subprocess.run(["nghttp", "-v", "-n", "-m", "20", url + "/"], capture_output=True, timeout=30)
        oks = done_v.stdout.decode().count(":status: 200")
        check(done_v.returncode == 0 and oks == 20,
              "%s: nghttp -m 20 on one connection: 20 answers of 200 (got %d)" % (name, oks),
              done_v.stderr.decode()[-500:])

    # Answers the HTTP/2 side gives before any request begins (no routing, no exchange) are
    # logged and counted as every other one: a header list over http2_max_header_list_size, and
    # CONNECT.
    client = H2Client(Target(HOST, h2c))
    too_big = client.request(path="/big-head", extra=[("x-big-%d" % i, "v" * 4000) for i in range(20)])
    connect = client.raw_headers([(":method", "CONNECT"), (":authority", "%s:%d" % (HOST, h2c))])
    client.wait(lambda: all(s in client.ended or s in client.resets for s in (too_big, connect)), "both answers")
    check_equal((client.status(too_big), client.status(connect)), (431, 501),
                "a header list over its bound and a CONNECT are answered 431 and 501")
    client.close()

    # RFC 9110 §7.6.2 on a stream too: an OPTIONS whose Max-Forwards is 0 is proxyd's to answer,
    # one with 3 goes on with 2.
    client = H2Client(Target(HOST, h2c))
    last_hop = client.request(path="/api/options", method="OPTIONS", extra=[("max-forwards", "0")])
    onward = client.request(path="/api/options", method="OPTIONS", extra=[("max-forwards", "3")])
    client.wait(lambda: all(s in client.ended for s in (last_hop, onward)), "both OPTIONS answers")
    check_equal((client.status(last_hop), client.data.get(last_hop, b"")), (200, b""),
                "OPTIONS, max-forwards 0: proxyd answers 200 without content")
    seen = json.loads(client.data.get(onward, b"{}"))
    check_equal([v for n, v in seen.get("headers", []) if n.lower() == "max-forwards"], ["2"],
                "OPTIONS, max-forwards 3: the backend gets Max-Forwards 2")
    client.close()

    log = proxyd.stderr_text()
    check(re.search(r'"GET / HTTP/2\.0" 200 %d ' % len(page), log) is not None,
          "the access log says HTTP/2.0 for a request on a stream")
    check(re.search(r'"GET /big-head HTTP/2\.0" 431 0 .* listener=h2c', log) is not None,
          "the access log has the 431 the HTTP/2 side gave itself")
    check(re.search(r'"CONNECT %s:%d HTTP/2\.0" 501 0 .* listener=h2c' % (re.escape(HOST), h2c), log) is not None,
          "the access log has the CONNECT's 501, its authority as the target")
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exits 0 on SIGTERM")


run_test(main)
