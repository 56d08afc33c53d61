#!/usr/bin/env python3
"""HTTP/2: static files larger than one read (64 KiB), which the stream reads itself, a block as
its DATA frames are made (the content exchange hands the file's descriptor over), over h2c and
over TLS:
- a whole 1 MiB file, ten streams of it at once on one connection: every byte right;
- one range of it (206): the bytes of the range, from an offset inside the file;
- two ranges (multipart/byteranges, which is not handed over): both parts right;
- a stream the client resets after its first bytes, and a connection closed under streams still
  reading: their descriptors are closed (proxyd holds as many open files as before);
- the file truncated while a stream waits for its window: the bytes that were there, then
  RST_STREAM(INTERNAL_ERROR), never END_STREAM, a warning in the error log naming the cause, and
  the next stream on the same connection served. The warning is the stream's own (the stream
  read the file, not the exchange). ~1 s."""

import os

from h2_frames import CANCEL, INITIAL_WINDOW_SIZE, INTERNAL_ERROR, H2Client, Target, h2, rst_stream, window_update
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Proxyd, TestSkip, check, check_equal, config_head, free_ports, make_certificate,
                            open_files, run_test, static_handler, wait_for, workdir, write_file)

SIZE = 1 << 20
CONTENT = bytes((i * 13 + i // 4093) % 256 for i in range(SIZE))


def serve_whole_and_ranges(target, name):
    client = H2Client(target, settings={INITIAL_WINDOW_SIZE: (1 << 30) - 1}, timeout=10)
    client.send(window_update(0, (1 << 30) - 65536))
    streams = [client.request(path="/big.bin") for _ in range(10)]
    one_range = client.request(path="/big.bin", extra=[("range", "bytes=70000-900000")])
    two_ranges = client.request(path="/big.bin", extra=[("range", "bytes=10-19,500000-600000")])
    client.wait(lambda: all(s in client.ended for s in streams + [one_range, two_ranges]),
                "%s: every stream's whole response" % name)
    for s in streams:
        check_equal((client.status(s), len(client.data.get(s, b""))), (200, SIZE),
                    "%s: stream %d: 200 and the whole file" % (name, s))
        check(client.data[s] == CONTENT, "%s: stream %d: every byte of the file right" % (name, s))
    check_equal(client.status(one_range), 206, "%s: one range: 206" % name)
    check_equal(client.field(one_range, "content-range"), "bytes 70000-900000/%d" % SIZE,
                "%s: one range: its Content-Range" % name)
    check(client.data.get(one_range) == CONTENT[70000:900001],
          "%s: one range: exactly its %d bytes" % (name, 900001 - 70000))
    check_equal(client.status(two_ranges), 206, "%s: two ranges: 206" % name)
    body = client.data.get(two_ranges, b"")
    check(client.field(two_ranges, "content-type").startswith("multipart/byteranges"),
          "%s: two ranges: multipart/byteranges" % name)
    check(CONTENT[10:20] in body and CONTENT[500000:600001] in body, "%s: two ranges: both parts' bytes" % name)
    check_equal(client.resets, {}, "%s: no stream reset" % name)
    client.close()


def reset_and_close(target, name, proxyd):
    files_before = open_files(proxyd.proc.pid)
    client = H2Client(target)
    client.auto_window = False
    reset = client.request(path="/big.bin")
    cut = [client.request(path="/big.bin") for _ in range(3)]
    client.wait(lambda: len(client.data.get(reset, b"")) > 0 and all(client.status(s) == 200 for s in cut),
                "%s: the first bytes of the stream to reset and the heads of the others" % name)
    client.send(rst_stream(reset, CANCEL))
    client.close()  # the others still reading, their windows closed
    wait_for("%s: proxyd holds the files it held before" % name,
             lambda: open_files(proxyd.proc.pid) == files_before, timeout=5)


def truncated_while_waiting(target, name, root, proxyd):
    path = os.path.join(root, "shrinks.bin")
    write_file(path, CONTENT)
    client = H2Client(target, settings={INITIAL_WINDOW_SIZE: 0})
    client.auto_window = False
    client.send(window_update(0, (1 << 30) - 65536))
    stream = client.request(path="/shrinks.bin")
    client.wait(lambda: client.status(stream) == 200, "%s: the head of the file about to shrink" % name)
    # The stream's read logs it ("HTTP/2 stream N: ..."); the exchange's own read would say "failed:".
    warning = "reading a file for client 127.0.0.1: HTTP/2 stream %d: the file shrank while being sent" % stream
    warnings_before = proxyd.stderr_text().count(warning)
    os.truncate(path, 100000)
    client.send(window_update(stream, SIZE))
    client.wait(lambda: stream in client.resets or stream in client.ended, "%s: the shrunk file's end" % name)
    check_equal(client.resets.get(stream), INTERNAL_ERROR,
                "%s: a file shorter than its Content-Length ends in RST_STREAM(INTERNAL_ERROR)" % name)
    check(stream not in client.ended, "%s: never END_STREAM on a cut body" % name)
    check(client.data.get(stream, b"") == CONTENT[:100000], "%s: the bytes that were there came" % name)
    wait_for("%s: the stream's warning naming the cause" % name,
             lambda: proxyd.stderr_text().count(warning) == warnings_before + 1, timeout=5)
    again = client.request(path="/missing-after-shrink")
    client.send(window_update(again, 1 << 16))
    client.wait(lambda: client.response_done(again), "%s: the next stream on the same connection" % name)
    check_equal(client.status(again), 404, "%s: the connection serves on" % name)
    client.close()
    write_file(path, CONTENT)


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed (packaging/build-deps.sh --test)")
    folder = workdir("h2-static-files")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "big.bin"), CONTENT)
    cert, key = make_certificate(folder, "files", ["localhost"], ips=["127.0.0.1"])
    clear_port, tls_port = free_ports(2)
    config = (config_head() + static_handler("files", root)
              + h2_listener("clear", clear_port, "handler", "files")
              + h2_listener("tls", tls_port, "handler", "files", tls=(cert, key)))
    path = write_file(os.path.join(folder, "files.toml"), config)
    require_http2(path)
    proxyd = Proxyd(path, folder, tag="files").start([clear_port, tls_port])
    for name, target in (("h2c", Target("127.0.0.1", clear_port)),
                         ("TLS", Target("127.0.0.1", tls_port, tls=True, authority="localhost"))):
        serve_whole_and_ranges(target, name)
        reset_and_close(target, name, proxyd)
        truncated_while_waiting(target, name, root, proxyd)
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
