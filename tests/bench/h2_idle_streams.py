#!/usr/bin/env python3
"""Memory cost of open HTTP/2 streams whose responses wait for their upstream (server-sent
events, long polls): proxyd's RSS per such stream, optionally beside another build of it.

    python3 tests/bench/h2_idle_streams.py --proxyd build/proxyd [--baseline OTHER] [--conns 10]

A backend in this process answers every request with a chunked text/event-stream head and one
event, and a second event 0.3 s later (read in the body phase, into the stream's own queue),
then stays silent with the connection open. In the `split` case the second event's chunk
comes in two writes 50 ms apart, its closing CRLF alone in the second, so proxyd's last read
holds no body byte. In the `large` case the second event is 40,000 bytes: its last read (after
one of 16 KiB) holds more than a frame, so its frames leave from inside that read's send. proxyd (one worker, h2c listener, an upstream without keep-alive so each
stream has its own upstream connection) gets --conns h2c client connections of 100 streams
each; once every stream got both events and proxyd's RSS is steady, the RSS delta from before
the clients, divided by the streams, is printed. Loopback only; proxyd is stopped by its PID
(the integration harness's Proxyd), its work folder removed; the clients and backend end with
this script.
"""
import argparse
import os
import shutil
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import proxyd_harness  # noqa: E402
from h2_frames import H2Client, Target, h2  # noqa: E402
from h2_setup import h2_listener  # noqa: E402
from idle_conns import rss_kib  # noqa: E402

STREAMS_PER_CONN = 100
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
FIRST, SECOND = b"data: hello\n\n", b"data: again\n\n"
LARGE_SECOND = b"data: " + b"x" * 39992 + b"\n\n"


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def serve_events(conn, case):
    buf = b""
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                conn.sendall(HEAD + chunk(FIRST))
                time.sleep(0.3)
                second = chunk(LARGE_SECOND if case == "large" else SECOND)
                if case == "split":
                    conn.sendall(second[:-2])
                    time.sleep(0.05)
                    second = second[-2:]
                conn.sendall(second)
    except OSError:
        pass


def accept_forever(listener, case):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=serve_events, args=(conn, case), daemon=True).start()


def steady_rss(pid, timeout=10.0):
    """proxyd's RSS once two readings 0.25 s apart agree (or after timeout)."""
    last = rss_kib([pid])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = rss_kib([pid])
        if now == last:
            return now
        last = now
    return last


def measure(binary, backend_port, conns, second):
    proxyd_harness.PROXYD_BIN = os.path.abspath(binary)
    folder = proxyd_harness.workdir("h2-idle-streams")
    (port,) = proxyd_harness.free_ports(1)
    config = (proxyd_harness.config_head() + proxyd_harness.upstream("events", [backend_port], "keepalive = 0\n")
              + h2_listener("front", port, "upstream", "events"))
    path = proxyd_harness.write_file(os.path.join(folder, "idle-streams.toml"), config)
    proxyd = proxyd_harness.Proxyd(path, folder, tag="idle-streams").start([port])
    clients = []
    try:
        before = steady_rss(proxyd.proc.pid)
        want = len(FIRST) + len(second)
        for _ in range(conns):
            client = H2Client(Target("127.0.0.1", port, path="/events"), timeout=20)
            clients.append(client)
            streams = [client.request() for _ in range(STREAMS_PER_CONN)]
            client.wait(lambda: all(len(client.data.get(s, b"")) >= want for s in streams), "both events")
        after = steady_rss(proxyd.proc.pid)
    finally:
        for client in clients:
            client.close()
        proxyd.stop()
        shutil.rmtree(folder, ignore_errors=True)
    streams = conns * STREAMS_PER_CONN
    return before, after, (after - before) / streams


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxyd", required=True)
    ap.add_argument("--baseline", help="another proxyd binary, measured after --proxyd in the same run")
    ap.add_argument("--conns", type=int, default=10, help="h2c connections of 100 streams each")
    a = ap.parse_args()
    if h2 is None:
        raise SystemExit("h2_idle_streams: python3-h2 is not installed (packaging/build-deps.sh --test)")
    for case in ("whole", "split", "large"):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        threading.Thread(target=accept_forever, args=(listener, case), daemon=True).start()
        for name, binary in (("proxyd", a.proxyd), ("baseline", a.baseline)):
            if not binary:
                continue
            second = LARGE_SECOND if case == "large" else SECOND
            before, after, per_stream = measure(binary, listener.getsockname()[1], a.conns, second)
            print("%-5s %-8s %s: %d streams, RSS %d -> %d KiB, %.1f KiB per stream"
                  % (case, name, binary, a.conns * STREAMS_PER_CONN, before, after, per_stream))
        listener.close()  # its accept thread, a daemon, ends with the script


if __name__ == "__main__":
    main()
