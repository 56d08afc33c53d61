#!/usr/bin/env python3
"""An HTTP/2 request body sent in DATA frames of one byte each costs proxyd about the bytes, not
a string a frame: streams queued for an upstream at its max_connections hold their bodies (up to
the stream window each) until a connection is free, and each frame's byte used to be kept as a
std::string of its own (32 bytes and more a byte, ~25 MiB for these 8 streams' 512 KiB)."""

import os
import threading

from h2_frames import DATA, H2Client, Target, frame, h2
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Backend, Proxyd, TestSkip, check, config_head, free_ports, proc_status_kib,
                            run_test, upstream, workdir, write_file)

STREAMS = 8
WINDOW = 65535  # the stream window proxyd announces: bytes each stream may send unconsumed


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed (packaging/build-deps.sh --test)")
    folder = workdir("h2-body-pieces")
    release = threading.Event()
    backend = Backend(raw=lambda conn, conn_id: release.wait(20), tag="silent")
    port, = free_ports(1)
    config = (config_head(access="off", plugins=("round_robin",))
              + upstream("app", [backend.port], 'max_connections = 1\nqueue_size = 20\nqueue_timeout = "10s"\n')
              + h2_listener("web", port, "upstream", "app"))
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    require_http2(config_path)
    proxyd = Proxyd(config_path, folder, tag="body-pieces").start([port])

    c = H2Client(Target("127.0.0.1", port))
    c.request(path="/holds-the-connection")  # the backend never answers: the others queue
    c.pump(0.2)
    before = proc_status_kib(proxyd.proc.pid, "VmRSS")
    for _ in range(STREAMS):
        stream_id = c.request(path="/upload", method="POST", extra=[("content-length", "1000000")],
                              end_stream=False)
        c.send(frame(DATA, 0, stream_id, b"x") * WINDOW)
    c.settle(0.5)
    grown = proc_status_kib(proxyd.proc.pid, "VmRSS") - before
    print("     %d streams x %d DATA frames of 1 byte: proxyd grew %d KiB" % (STREAMS, WINDOW, grown))
    check(not c.send_failed, "proxyd took every frame (%d bytes of DATA)" % (STREAMS * WINDOW))
    check(not c.closed and c.goaway is None, "the connection is still open")
    check(grown < 8 * 1024, "the queued bodies (%d KiB) cost less than 8 MiB" % (STREAMS * WINDOW // 1024),
          "grew %d KiB" % grown)
    release.set()


run_test(main)
