#!/usr/bin/env python3
"""The access log's byte count of a static file sent whole is its body's length, on every path a
file takes: sendfile over HTTP/1.1, the copy through TLS, an HTTP/2 stream that reads the file
itself, a small file copied into HTTP/2 frames, several ranges as multipart/byteranges, and 0 for
HEAD and a 304. (A download cut short is logged with the bytes that left: test_drain.py.)

curl makes the requests (HTTP/1.1, TLS with the test's certificate, h2c prior knowledge); each
response is matched to its access-log line by the target, which is unique per request. Every
process is stopped by its PID."""

import os
import time

from proxyd_harness import (HOST, Proxyd, access_log_entries, check, check_equal, config_head, curl, free_ports,
                            listener, make_certificate, run_test, static_handler, toml_str, workdir, write_file)

BIG = 1 << 20  # past 64 KiB: an HTTP/2 stream reads the file itself
SMALL = 5000


def main():
    folder = workdir("logged-bytes")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "big.bin"), os.urandom(BIG))
    write_file(os.path.join(root, "small.bin"), os.urandom(SMALL))
    cert, key = make_certificate(folder, "site", ["site.test"])
    plain, tls = free_ports(2)
    config = (config_head(plugins=("static",)) + static_handler("site", root)
              + listener("plain", plain, "handler", "site") + "http2 = true\n\n"
              + listener("tls", tls, "handler", "site")
              + "tls = { certificate = %s, key = %s }\n\n" % (toml_str(cert), toml_str(key)))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([plain, tls])

    base = "http://%s:%d" % (HOST, plain)
    secure = ["--cacert", cert, "--resolve", "site.test:%d:%s" % (tls, HOST)]
    cases = [  # (what, url, curl options, expected status, expected logged bytes; None: the body's length)
        ("HTTP/1.1, sendfile", base + "/big.bin?h1", [], 200, BIG),
        ("HTTP/1.1 over TLS, copied and encrypted", "https://site.test:%d/big.bin?tls" % tls, secure, 200, BIG),
        ("HTTP/2, the stream reads the file", base + "/big.bin?h2", ["--http2-prior-knowledge"], 200, BIG),
        ("HTTP/2, a small file copied into frames", base + "/small.bin?h2", ["--http2-prior-knowledge"], 200, SMALL),
        ("two ranges as multipart/byteranges", base + "/big.bin?ranges", ["-H", "Range: bytes=0-9,1000-1999"],
         206, None),
        ("HEAD", base + "/big.bin?head", ["-I"], 200, 0),
    ]
    etag = None
    for what, url, options, status, expected in cases:
        got_status, headers, body = curl(url, folder, *options)
        check_equal(got_status, status, "%s: status" % what)
        if expected is None:
            expected = len(body)
        elif not url.endswith("?head"):
            check_equal(len(body), expected, "%s: body length" % what)
        etag = etag or next((v for n, v in headers if n.lower() == "etag"), None)
        logged = wait_for_line(proxyd, url[url.index("/", 8):])
        check_equal(logged, str(expected), "%s: the access log counts the body's %d bytes" % (what, expected))
    check(etag is not None, "the file has an ETag")
    got_status, _, _ = curl(base + "/big.bin?notmodified", folder, "-H", "If-None-Match: " + etag)
    check_equal(got_status, 304, "If-None-Match: 304")
    check_equal(wait_for_line(proxyd, "/big.bin?notmodified"), "0", "304: the access log counts 0 bytes")
    check(proxyd.alive(), "proxyd still running")


def wait_for_line(proxyd, target):
    """The logged bytes of the request for target (its line may follow the response by a moment)."""
    deadline = time.monotonic() + 5
    while True:
        for entry in access_log_entries(proxyd.stderr_text()):
            if entry["request"].split(" ")[1:2] == [target]:
                return entry["bytes"]
        if time.monotonic() > deadline:
            return "no access-log line for " + target
        time.sleep(0.05)


if __name__ == "__main__":
    run_test(main)
