#!/usr/bin/env python3
"""Slow readers of a large proxied body: each gets every byte, and the proxy's memory stays
bounded because it stops reading the upstream while the client is behind.

A 24 MiB file comes from a static listener of the same proxyd through a proxy listener. Four
clients with small receive buffers request it together, read nothing for a while, then read in
small steps with pauses. Meanwhile proxyd's RSS is sampled: it must stay within 20 MiB of the
RSS after a warm-up download. Without backpressure the proxy would hold most of the 4 x 24 MiB
the upstream can deliver faster than the clients take it."""

import hashlib
import os
import random
import socket
import threading
import time

from proxyd_harness import (HOST, Proxyd, check, check_equal, config_head, free_ports, listener, note,
                            proc_status_kib, run_test, static_handler, upstream, workdir, write_file)

SIZE = 24 * 1024 * 1024
CLIENTS = 4
RSS_ALLOWANCE = 20 * 1024 * 1024




def download(port, slow, results, index):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(30)
        sock.connect((HOST, port))
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        if slow:
            time.sleep(1.5)  # nothing read: the proxy must stop reading its upstream
        data = bytearray()
        steps = 0
        while True:
            chunk = sock.recv(64 * 1024)
            if not chunk:
                break
            data += chunk
            steps += 1
            if slow and steps % 16 == 0:
                time.sleep(0.01)
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        results[index] = (head.split(b"\r\n")[0], len(body), hashlib.sha256(body).hexdigest())
    except Exception as error:
        results[index] = ("error", repr(error), None)
    finally:
        sock.close()


def main():
    folder = workdir("slowmem")
    root = os.path.join(folder, "www")
    data = random.Random(24).randbytes(SIZE)
    expected = hashlib.sha256(data).hexdigest()
    write_file(os.path.join(root, "big.bin"), data)
    files, front = free_ports(2)
    config = (config_head(access="off", plugins=("static", "round_robin"))
              + static_handler("files", root)
              + upstream("file_server", [files])
              + listener("files", files, "handler", "files")
              + listener("front", front, "upstream", "file_server"))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([files, front])
    pid = proxyd.proc.pid

    warm = [None]
    download(front, False, warm, 0)
    check_equal(warm[0], (b"HTTP/1.1 200 OK", SIZE, expected), "a fast client gets the 24 MiB file byte-exact")
    baseline = proc_status_kib(pid, "VmRSS") * 1024

    results = [None] * CLIENTS
    threads = [threading.Thread(target=download, args=(front, True, results, i), daemon=True)
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    peak = baseline
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, proc_status_kib(pid, "VmRSS") * 1024)
        time.sleep(0.05)
    for thread in threads:
        thread.join(60)
    note("proxyd RSS: %.1f MiB after warm-up, peak %.1f MiB with %d slow readers of %d MiB" %
         (baseline / 2**20, peak / 2**20, CLIENTS, SIZE // 2**20))
    check(results == [(b"HTTP/1.1 200 OK", SIZE, expected)] * CLIENTS,
          "%d slow readers each get the 24 MiB file byte-exact" % CLIENTS,
          "got %r" % [(r[0], r[1]) if r else None for r in results])
    check(peak - baseline <= RSS_ALLOWANCE,
          "proxyd's RSS stays within %d MiB of its warm-up RSS while %d clients read %d MiB slowly" %
          (RSS_ALLOWANCE // 2**20, CLIENTS, SIZE // 2**20),
          "grew by %.1f MiB" % ((peak - baseline) / 2**20))
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
