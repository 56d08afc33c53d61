#!/usr/bin/env python3
"""Backends that fail, and a proxy that keeps serving: a refused peer is skipped for the next one, a
group with only dead peers answers 502, a silent backend 504 after read_timeout, a backend that
answers garbage or hangs up 502, a truncated response is not passed off as whole (to an HTTP/1.0
client, whose body ends with the connection, the cut is a reset, not a FIN that would make it look
complete), and afterwards everything else still works."""

import os
import socket
import threading
import time

from proxyd_harness import (Backend, Client, ConnectionClosed, Proxyd, check, check_equal, config_head, free_ports,
                            get, listener, note, run_test, static_handler, upstream, workdir, write_file)

OK_BODY = b"the live backend answered\n"


def garbage(request, conn_id):
    return [b"this is not HTTP at all\r\n\r\n"], True


def hang_up(request, conn_id):
    raise ConnectionClosed("closing without an answer")


def truncated(request, conn_id):
    return [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n", b"only a little"], True


def chunked_cut(request, conn_id):
    return [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"d\r\nonly the head\r\n"], True


def cut_reaches_http10_client(port):
    """An HTTP/1.0 client reads the body until the close: a cut must end in a reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        try:
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        except ConnectionResetError:
            return "reset after %d bytes" % len(data), True
    return "a clean close after %r" % data[:200], False


def main():
    folder = workdir("failure")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "ok.txt"), OK_BODY)
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>live</title>\n")

    silent_release = threading.Event()

    def silent(request, conn_id):
        silent_release.wait(20)  # never answers while the test looks
        raise ConnectionClosed("silent backend gives up")

    backends = {name: Backend(fn, tag=name) for name, fn in
                (("silent", silent), ("garbage", garbage), ("hangup", hang_up), ("truncated", truncated),
                                                       ("chunked_cut", chunked_cut))}
    live, dead1, dead2, f_mixed, f_dead, f_silent, f_garbage, f_hangup, f_trunc, f_cut = free_ports(10)
    config = (config_head(plugins=("static", "round_robin"))
              + static_handler("live", root)
              + upstream("mixed", [dead1, live], 'connect_timeout = "2s"')
              + upstream("dead", [dead1, dead2], 'connect_timeout = "2s"')
              + upstream("silent", [backends["silent"].port], 'read_timeout = "1s"')
              + upstream("garbage", [backends["garbage"].port])
              + upstream("hangup", [backends["hangup"].port])
              + upstream("truncated", [backends["truncated"].port])
              + upstream("chunked_cut", [backends["chunked_cut"].port])
              + listener("live", live, "handler", "live")
              + listener("front-mixed", f_mixed, "upstream", "mixed")
              + listener("front-dead", f_dead, "upstream", "dead")
              + listener("front-silent", f_silent, "upstream", "silent")
              + listener("front-garbage", f_garbage, "upstream", "garbage")
              + listener("front-hangup", f_hangup, "upstream", "hangup")
              + listener("front-truncated", f_trunc, "upstream", "truncated")
              + listener("front-cut", f_cut, "upstream", "chunked_cut"))
    path = write_file(os.path.join(folder, "failure.toml"), config)
    proxyd = Proxyd(path, folder).start([live, f_mixed, f_dead, f_silent, f_garbage, f_hangup, f_trunc, f_cut])
    note("nothing listens on peer ports %d and %d" % (dead1, dead2))

    def mixed_round(tag):
        statuses = []
        for n in range(10):
            response = get(f_mixed, "/ok.txt")
            statuses.append(response.status)
            if response.status != 200 or response.body != OK_BODY:
                check(False, "%s: GET %d through a group with one refused peer" % (tag, n),
                      "got %s, body %r" % (response.start_line, response.body[:80]))
        with Client(f_mixed) as client:
            for n in range(10):
                response = client.request("GET", "/ok.txt")
                statuses.append(response.status)
        check_equal(set(statuses), {200}, "%s: 20 requests (10 on new connections, 10 on one keep-alive "
                                          "connection) through [refused peer, live peer]: statuses" % tag)

    mixed_round("before failures")

    started = time.monotonic()
    response = get(f_dead, "/")
    elapsed = time.monotonic() - started
    check_equal(response.status, 502, "group whose peers all refuse: status")
    check(elapsed < 5, "502 comes promptly (%.2f s)" % elapsed)
    # While its peers stay down each request still tries them (all down: nginx's rule too), and
    # marks them down again without a warning line each time.
    for _ in range(5):
        check_equal(get(f_dead, "/").status, 502, "the dead group keeps answering 502")
    for port in (dead1, dead2):
        marks = proxyd.stderr_text().count("upstream dead 127.0.0.1:%d: marked down" % port)
        check_equal(marks, 1, "peer %d: one 'marked down' line over 6 failed requests" % port)

    started = time.monotonic()
    response = get(f_silent, "/", timeout=15)
    elapsed = time.monotonic() - started
    check_equal(response.status, 504, "backend that accepts and never answers: status")
    check(0.8 <= elapsed <= 6, "504 after about read_timeout = 1s (took %.2f s)" % elapsed)
    silent_release.set()

    check_equal(get(f_garbage, "/").status, 502, "backend that answers garbage: status")
    # One error-log line says why, with the parser's reason (it was written twice, once bare).
    garbage_lines = [line for line in proxyd.stderr_text().splitlines()
                     if "127.0.0.1:%d: invalid response" % backends["garbage"].port in line]
    check(len(garbage_lines) == 1 and "invalid response (" in garbage_lines[0],
          "the garbage answer is logged once, with its reason", "\n".join(garbage_lines))
    check_equal(get(f_hangup, "/").status, 502, "backend that closes without answering: status")

    with Client(f_trunc, timeout=10) as client:
        client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            response = client.read_response()
            outcome = "%s with a complete %d-byte body" % (response.start_line, len(response.body))
            ok = response.status == 502
        except ConnectionClosed:
            outcome, ok = "connection closed before the announced length", True
        check(ok, "backend response cut short is not passed off as whole (%s)" % outcome, outcome)

    outcome, ok = cut_reaches_http10_client(f_cut)
    check(ok, "a chunked response cut short reaches an HTTP/1.0 client as a reset (%s)" % outcome, outcome)
    with Client(f_cut, timeout=10) as client:
        client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            response = client.read_response()
            outcome, ok = "%s with a complete %d-byte body" % (response.start_line, len(response.body)), False
        except ConnectionClosed:
            outcome, ok = "connection closed before the last chunk", True
        check(ok, "a chunked response cut short is no complete one to an HTTP/1.1 client (%s)" % outcome, outcome)

    check(proxyd.alive(), "proxyd still running after the failures")
    mixed_round("after failures")
    response = get(live, "/ok.txt")
    check(response.status == 200 and response.body == OK_BODY, "static listener still serves directly")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
