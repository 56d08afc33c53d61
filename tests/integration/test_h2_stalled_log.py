#!/usr/bin/env python3
"""HTTP/2: a stream whose whole response is made but waits for a window the client never opens
is reset after send_timeout (RST_STREAM CANCEL), and its request is logged once, with the status
the client got and the body bytes that actually reached it: 1000 when the client opened the
stream's window by 1000 bytes only, 0 when it opened nothing; a stream served normally beside
them is logged with its whole body. A client that resets a stream with RST_STREAM(NO_ERROR)
after 1000 bytes, its response's remaining DATA still queued, is logged with those 1000 too:
whether the response was complete (a small file, its line held) or still being read (a large
one). A line held until its stream ends gives the request's time until then (rt), and so does the
duration histogram of /metrics, on a listener with its access log off as well. Raw frames
through python3-h2 (h2_frames.py)."""

import os
import re

from h2_frames import INITIAL_WINDOW_SIZE, NO_ERROR, H2Client, Target, h2, rst_stream, window_update
from proxyd_harness import (HOST, Proxyd, TestSkip, access_log_entries, check, check_equal, config_head,
                            free_ports, get, run_test, static_handler, wait_for, workdir, write_file)

FILE_BYTES = 8000  # made whole at once: under the stream's low-water mark
LARGE_BYTES = 1 << 20  # read piece by piece as its queue drains


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed (packaging/build-deps.sh --test)")
    folder = workdir("h2-stalled-log")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "f.bin"), b"x" * FILE_BYTES)
    write_file(os.path.join(root, "large.bin"), b"y" * LARGE_BYTES)
    port, quiet_port, admin = free_ports(3)
    config = (config_head().replace("\n[log]", '\n[limits]\nsend_timeout = "1s"\n\n[admin]\nlisten = "%s:%d"\n\n[log]'
                                    % (HOST, admin), 1)
              + static_handler("files", root)
              + '[[listeners]]\nname = "front"\nlisten = "%s:%d"\nhandler = "files"\nhttp2 = true\n\n' % (HOST, port)
              + '[[listeners]]\nname = "quiet"\nlisten = "%s:%d"\nhandler = "files"\nhttp2 = true\n'
                'access_log = false\n\n' % (HOST, quiet_port))
    path = write_file(os.path.join(folder, "stalled.toml"), config)
    proxyd = Proxyd(path, folder, tag="stalled").start([port, quiet_port, admin])

    # On a listener without an access log, a stalled stream beside the others below.
    quiet = H2Client(Target(HOST, quiet_port, path="/f.bin"), settings={INITIAL_WINDOW_SIZE: 0})
    quiet.auto_window = False
    unlogged = quiet.request()
    quiet.wait(lambda: quiet.status(unlogged) == 200, "the quiet listener's head")

    target = Target(HOST, port, path="/f.bin")
    stalled = H2Client(target, settings={INITIAL_WINDOW_SIZE: 0})
    stalled.auto_window = False
    partly = stalled.request(extra=[("x-request-id", "partly-open")])
    closed = stalled.request(extra=[("x-request-id", "never-open")])
    stalled.wait(lambda: stalled.status(partly) == 200 and stalled.status(closed) == 200,
                 "both heads (HEADERS needs no window)")
    stalled.send(window_update(partly, 1000))
    stalled.wait(lambda: len(stalled.data.get(partly, b"")) == 1000, "the 1000 bytes the window allows")
    # RFC 9113 §8.1: a client may end a stream with RST_STREAM(NO_ERROR); its unsent DATA is not
    # delivered.
    dropped = [stalled.request(path=path, extra=[("x-request-id", tag)])
               for path, tag in (("/f.bin", "reset-complete"), ("/large.bin", "reset-reading"))]
    stalled.wait(lambda: all(stalled.status(s) == 200 for s in dropped), "the heads of the streams to reset")
    stalled.send(b"".join(window_update(s, 1000) for s in dropped))
    stalled.wait(lambda: all(len(stalled.data.get(s, b"")) == 1000 for s in dropped), "1000 bytes of each")
    stalled.send(b"".join(rst_stream(s, NO_ERROR) for s in dropped))

    served = H2Client(target)
    normal = served.request(extra=[("x-request-id", "served-whole")])
    served.wait(lambda: normal in served.ended, "a normal stream's whole response")
    check_equal(len(served.data[normal]), FILE_BYTES, "a stream with a window gets the whole file")

    stalled.wait(lambda: partly in stalled.resets and closed in stalled.resets,
                 "RST_STREAM for both stalled streams after send_timeout", timeout=5)
    check_equal((stalled.resets[partly], stalled.resets[closed]), (8, 8), "both reset with CANCEL")
    check_equal(len(stalled.data.get(closed, b"")), 0, "the stream without a window got no body byte")
    quiet.wait(lambda: unlogged in quiet.resets, "RST_STREAM for the quiet listener's stalled stream", timeout=5)
    stalled.close()
    served.close()
    quiet.close()

    def logged():
        return {e["request_id"]: e for e in access_log_entries(proxyd.stderr_text())}
    wait_for("the five access-log lines",
             lambda: all(i in logged() for i in ("partly-open", "never-open", "served-whole", "reset-complete",
                                                 "reset-reading")), timeout=5)
    metrics = get(admin, "/metrics").body.decode()

    def duration(listener, what):
        found = re.search(r'^proxyd_request_duration_seconds_%s\{listener="%s"\} (\S+)$' % (what, listener),
                          metrics, re.M)
        return float(found.group(1)) if found else None
    # The two stalled streams lasted 1 s each, the three others far less; quiet's one stream 1 s.
    check_equal((duration("front", "count"), duration("quiet", "count")), (5.0, 1.0),
                "the histogram counts each request once, when its stream ended")
    check(duration("front", "sum") >= 1.8 and duration("quiet", "sum") >= 0.9,
          "the histogram's durations run to the streams' end, access log or not",
          "front %s, quiet %s" % (duration("front", "sum"), duration("quiet", "sum")))
    check_equal(proxyd.stop(), 0, "proxyd exit code")
    entries = access_log_entries(proxyd.stderr_text())
    for request_id, body_bytes in (("partly-open", "1000"), ("never-open", "0"), ("served-whole", str(FILE_BYTES)),
                                   ("reset-complete", "1000"), ("reset-reading", "1000")):
        mine = [(e["status"], e["bytes"]) for e in entries if e["request_id"] == request_id]
        check_equal(mine, [("200", body_bytes)],
                    "%s: one access-log line, 200 and the body bytes the client received" % request_id)
    # Their lines waited for the reset after send_timeout: the request lasted that long.
    rts = {e["request_id"]: float(e["rt"]) for e in entries}
    check(rts["partly-open"] >= 0.9 and rts["never-open"] >= 0.9,
          "a held line's rt runs to its stream's reset after send_timeout (1 s), not to the response made",
          repr(rts))


if __name__ == "__main__":
    run_test(main)
