#!/usr/bin/env python3
"""A content plugin's body of several file ranges naming one descriptor (ABI 1.5), through the real
core: an empty range first, then two ranges of the same descriptor with bytes between them. The
core must keep the descriptor open past the empty range (its bytes would be missing, or another
file's, otherwise) and close it once after the last range: over HTTP/1.1 (sendfile) and h2c
(curl and nghttp: the copy path), the body is exact and proxyd holds no more
files open after 40 responses than before. ~1 s."""

import os
import subprocess

from h2_setup import require_http2
from proxyd_harness import (BUILD_DIR, Client, Proxyd, check, check_equal, config_head, free_ports, listener,
                            open_files, run_test, toml_str, wait_for, workdir, write_file)

PROBE = os.path.join(BUILD_DIR, "tests", "plugins", "sdk", "sdk_probe_content.so")
CONTENT = b"0123456789"
EXPECTED = b"|" + CONTENT[2:5] + b"|" + CONTENT[0:2]


def main():
    folder = workdir("content_file_ranges")
    data = write_file(os.path.join(folder, "ten.bin"), CONTENT.decode())
    check(os.path.exists(PROBE), "the SDK probe plugin is built (%s)" % PROBE)
    plain, h2c = free_ports(2)
    config = config_head(plugins=None) + "[plugins]\nprobe = %s\n\n" % toml_str(PROBE)
    config += "[handlers.ranges]\nplugin = \"probe\"\nranges_file = %s\n\n" % toml_str(data)
    config += listener("plain", plain, "handler", "ranges")
    config += listener("h2c", h2c, "handler", "ranges").rstrip("\n") + "\nhttp2 = true\n\n"
    config_path = write_file(os.path.join(folder, "ranges.toml"), config)
    require_http2(config_path)
    proxyd = Proxyd(config_path, folder).start([plain, h2c])

    with Client(plain) as client:
        response = client.request("GET", "/ranges")
        check_equal((response.status, response.header("content-length"), response.body),
                    (200, str(len(EXPECTED)), EXPECTED), "HTTP/1.1 (sendfile): the ranges and bytes in order")
    url = "http://127.0.0.1:%d/ranges" % h2c
    curl = ["curl", "-sS", "--max-time", "10", "--http2-prior-knowledge", url]
    done = subprocess.run(curl, capture_output=True, timeout=20)
    check_equal((done.returncode, done.stdout), (0, EXPECTED), "HTTP/2 (the copy path): the ranges and bytes in order")

    before = open_files(proxyd.proc.pid)
    bodies = []
    with Client(plain) as client:
        bodies += [client.request("GET", "/ranges").body for _ in range(20)]
    # nghttp, not curl: curl 7.88 fails every request after the first on a reused h2c connection
    # (nginx's too).
    nghttp = ["nghttp", "-t", "10"] + [url + "?n=%d" % n for n in range(20)]
    done = subprocess.run(nghttp, capture_output=True, timeout=30)
    bodies.append(done.stdout)
    check_equal((bodies, done.stderr), ([EXPECTED] * 20 + [EXPECTED * 20], b""),
                "20 more over one connection each (HTTP/1.1, HTTP/2): the same body")
    # A response's descriptor is closed once its last range went, which may be a loop turn after
    # the client has the bytes.
    wait_for("no file left open after 40 responses", lambda: open_files(proxyd.proc.pid) == before, timeout=5)
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
