#!/usr/bin/env python3
"""Large bodies through the proxy, both ways: 5 MiB uploads (Content-Length and chunked) reach a backend
whole, and a 5 MiB file from a static listener of the same proxyd, fetched through a proxy listener
(curl, a raw client that reads slowly, three at once), arrives byte-exact."""

import hashlib
import json
import os
import random
import threading
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, chunked, config_head, curl, free_ports,
                            header_of, listener, note, run_test, static_handler, upstream, workdir, write_file)

SIZE = 5 * 1024 * 1024


def fetch_slowly(port, expected):
    with Client(port, timeout=20) as client:
        client.send(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for _ in range(2):
            time.sleep(1.0)  # nothing read meanwhile: the socket buffers fill and the proxy must wait
            client.receive_some()  # then take a little, and pause again
        response = client.read_response()
    check_equal(response.status, 200, "slow reader: status")
    check(hashlib.sha256(response.body).hexdigest() == expected,
          "slow reader (two 1 s pauses) gets the 5 MiB file byte-exact", "got %d bytes" % len(response.body))


def fetch_in_parallel(port, expected, count=3):
    results = []
    lock = threading.Lock()

    def one():
        try:
            with Client(port, timeout=30) as client:
                response = client.request("GET", "/big.bin")
            digest = (response.status, hashlib.sha256(response.body).hexdigest())
        except Exception as error:
            digest = ("error", str(error))
        with lock:
            results.append(digest)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    check(results == [(200, expected)] * count,
          "%d parallel downloads of 5 MiB: all 200 and byte-exact (sha256)" % count,
          "got %r" % results)


def upload(port, data):
    with Client(port, timeout=30) as client:
        response = client.request("POST", "/upload", [("Content-Type", "application/octet-stream")], data)
        check_equal(response.status, 200, "5 MiB upload with Content-Length: status")
        seen = json.loads(response.body)
        check_equal((seen["body_length"], seen["body_sha256"] == hashlib.sha256(data).hexdigest()), (len(data), True),
                    "5 MiB upload with Content-Length arrives whole at the backend (length, sha256 matches)")

        client.send(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send(chunked(data, piece=100_000))
        response = client.read_response()
        check_equal(response.status, 200, "5 MiB chunked upload: status")
        seen = json.loads(response.body)
        check_equal((seen["body_length"], seen["body_sha256"] == hashlib.sha256(data).hexdigest()), (len(data), True),
                    "5 MiB chunked upload arrives whole at the backend (length, sha256 matches)")


def main():
    folder = workdir("large")
    root = os.path.join(folder, "www")
    data = random.Random(5).randbytes(SIZE)
    expected = hashlib.sha256(data).hexdigest()
    write_file(os.path.join(root, "big.bin"), data)
    echo = Backend(tag="echo")
    files, front, up = free_ports(3)
    config = (config_head(plugins=("static", "round_robin"))
              + static_handler("files", root)
              + upstream("file_server", [files])
              + upstream("sink", [echo.port])
              + listener("files", files, "handler", "files")
              + listener("front", front, "upstream", "file_server")
              + listener("upload", up, "upstream", "sink"))
    path = write_file(os.path.join(folder, "large.toml"), config)
    proxyd = Proxyd(path, folder).start([files, front, up])

    upload(up, data)

    started = time.monotonic()
    status, headers, body = curl("http://127.0.0.1:%d/big.bin" % front, folder)
    note("curl fetched %d bytes through the proxy in %.2f s" % (len(body), time.monotonic() - started))
    check_equal(status, 200, "curl GET /big.bin through the proxy: status")
    check_equal(header_of(headers, "Content-Length"), str(SIZE), "Content-Length of the 5 MiB file")
    check(hashlib.sha256(body).hexdigest() == expected, "5 MiB file byte-exact through the proxy (sha256)",
          "got %d bytes" % len(body))

    fetch_slowly(front, expected)
    fetch_in_parallel(front, expected)
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
