#!/usr/bin/env python3
"""HTTP/2 flow control tied to backpressure, both ways, seen from proxyd's memory.

Upload: curl sends 24 MiB on an h2c stream to a backend that reads nothing for 1.5 s. proxyd opens
the stream's window only as the upstream takes bytes, so while the backend stalls proxyd holds
a bounded amount (window, write queue, socket buffers), never the upload: its RSS may grow by
8 MiB at most. The backend then gets every byte (checksum).

Download: an 8 MiB file comes from a static listener of the same proxyd through an h2c proxy
listener to a curl reading at 4 MiB/s. proxyd stops reading the upstream while the stream's
queue is full, so its RSS again grows by 8 MiB at most, and the file arrives byte-exact."""

import hashlib
import os
import re
import shutil
import subprocess
import threading
import time

from proxyd_harness import (HOST, Backend, Proxyd, TestSkip, check, check_equal, config_head, free_ports,
                            note, proc_status_kib, response_bytes, run_test, static_handler, toml_str,
                            upstream, workdir, write_file)

UPLOAD = 24 * 1024 * 1024
DOWNLOAD = 8 * 1024 * 1024
STALL = 1.5
RSS_ALLOWANCE = 8 * 1024 * 1024




def stalling_sink(conn, conn_id):
    """Reads nothing for STALL seconds, then the request (Content-Length framed); answers with its
    body's SHA-256."""
    time.sleep(STALL)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    digest = hashlib.sha256(rest)
    got = len(rest)
    while got < length:
        piece = conn.recv(1 << 20)
        if not piece:
            break
        digest.update(piece)
        got += len(piece)
    body = digest.hexdigest().encode()
    conn.sendall(response_bytes(200, body, [("Content-Type", "text/plain")]))


def under_sanitizer(pid):
    """ASan keeps freed memory in quarantine, so RSS then says nothing of what proxyd holds."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def peak_rss_while(pid, thread):
    peak = proc_status_kib(pid, "VmRSS") * 1024
    while thread.is_alive():
        peak = max(peak, proc_status_kib(pid, "VmRSS") * 1024)
        time.sleep(0.02)
    return peak


def main():
    if shutil.which("curl") is None:
        raise TestSkip("curl is not installed")
    folder = workdir("h2-backpressure")
    root = os.path.join(folder, "www")
    big = os.urandom(1 << 20) * (DOWNLOAD >> 20)
    write_file(os.path.join(root, "big.bin"), big)
    upload = os.urandom(1 << 20) * (UPLOAD >> 20)
    upload_path = write_file(os.path.join(folder, "upload.bin"), upload)
    sink = Backend(raw=stalling_sink)
    files, front = free_ports(2)
    config = (config_head(access="off") + static_handler("files", root)
              + upstream("file_server", [files]) + upstream("sink", [sink.port])
              + "[routers.paths]\nplugin = \"prefix\"\nroutes = [\n"
                "  { prefix = \"/up/\", upstream = \"sink\" },\n  { prefix = \"/\", upstream = \"file_server\" },\n]\n\n"
              + "[[listeners]]\nname = \"files\"\nlisten = %s\nhandler = \"files\"\n\n" % toml_str("%s:%d" % (HOST, files))
              + "[[listeners]]\nname = \"front\"\nlisten = %s\nrouter = \"paths\"\nhttp2 = true\n"
              % toml_str("%s:%d" % (HOST, front)))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([files, front])
    pid = proxyd.proc.pid
    sanitized = under_sanitizer(pid)
    if sanitized:
        note("a sanitizer build: its quarantine makes RSS meaningless, only the bytes are checked")

    def curl(*args):
        return subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "30", "--http2-prior-knowledge",
                               *args], capture_output=True, timeout=40)

    # A first small exchange of each kind, so the baseline includes what any request allocates.
    curl("-o", "/dev/null", "-r", "0-1048575", "http://%s:%d/big.bin" % (HOST, front))
    baseline = proc_status_kib(pid, "VmRSS") * 1024

    outcome = {}
    uploader = threading.Thread(target=lambda: outcome.update(
        up=curl("--data-binary", "@" + upload_path, "http://%s:%d/up/x" % (HOST, front))))
    uploader.start()
    peak = peak_rss_while(pid, uploader)
    note("proxyd RSS: %.1f MiB before, peak %.1f MiB during a %d MiB upload to a backend stalled %.1f s"
         % (baseline / 2**20, peak / 2**20, UPLOAD // 2**20, STALL))
    check_equal(outcome["up"].stdout.decode(), hashlib.sha256(upload).hexdigest(),
                "the stalled backend gets the whole upload (its SHA-256)")
    if not sanitized:
        check(peak - baseline <= RSS_ALLOWANCE, "proxyd holds no more than %d MiB of it meanwhile"
              % (RSS_ALLOWANCE // 2**20), "grew by %.1f MiB" % ((peak - baseline) / 2**20))

    baseline = proc_status_kib(pid, "VmRSS") * 1024
    body_path = os.path.join(folder, "down.bin")
    downloader = threading.Thread(target=lambda: outcome.update(
        down=curl("--limit-rate", "4M", "-o", body_path, "http://%s:%d/big.bin" % (HOST, front))))
    downloader.start()
    peak = peak_rss_while(pid, downloader)
    note("proxyd RSS: %.1f MiB before, peak %.1f MiB while a client reads %d MiB at 4 MiB/s"
         % (baseline / 2**20, peak / 2**20, DOWNLOAD // 2**20))
    with open(body_path, "rb") as f:
        check(f.read() == big, "the slow reader gets the %d MiB file byte-exact" % (DOWNLOAD // 2**20))
    if not sanitized:
        check(peak - baseline <= RSS_ALLOWANCE, "proxyd's RSS grows by %d MiB at most meanwhile"
              % (RSS_ALLOWANCE // 2**20), "grew by %.1f MiB" % ((peak - baseline) / 2**20))
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exits 0 on SIGTERM")


run_test(main)
