#!/usr/bin/env python3
"""Connections beyond what a worker takes, and beyond what the process may open.

limits.max_connections = 4: four clients are served and held open; two more connect and are not
served while the four stay (the listener stops accepting); each time one of the four closes, one
waiting client is accepted and served. Out of file descriptors (RLIMIT_NOFILE lowered on the
running proxyd with prlimit): connections over the limit are dropped, proxyd logs the accept
error and goes on; once connections close it serves new ones normally."""

import os
import resource
import socket

from proxyd_harness import (Client, ConnectionClosed, Proxyd, check, check_equal, config_head, free_ports, listener,
                            note, run_test, static_handler, workdir, write_file)

BODY = b"served\n"


def served(client, what):
    response = client.request("GET", "/ok.txt")
    check_equal((response.status, response.body), (200, BODY), what)


def waits_unanswered(client, seconds):
    """True when the client's request gets no answer (and no close) within seconds."""
    client.sock.settimeout(seconds)
    try:
        client.sock.recv(1)  # an answer's first byte, or EOF
        return False
    except socket.timeout:
        return True
    except OSError:
        return False


def main():
    folder = workdir("connlimits")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "ok.txt"), BODY)
    limited, open_files = free_ports(2)

    config = (config_head(access="off", plugins=("static",)) + "[limits]\nmax_connections = 4\n\n"
              + static_handler("files", root) + listener("limited", limited, "handler", "files"))
    proxyd = Proxyd(write_file(os.path.join(folder, "limited.toml"), config), folder, tag="limited").start([limited])
    first = [Client(limited, timeout=10) for _ in range(4)]
    for n, client in enumerate(first):
        served(client, "max_connections = 4: client %d of 4 is served" % (n + 1))
    extra = [Client(limited, timeout=10) for _ in range(2)]
    for client in extra:
        client.send(b"GET /ok.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    check(all(waits_unanswered(c, 1.0) for c in extra),
          "clients 5 and 6 are not served while 4 connections are open")
    first[0].close()
    extra[0].sock.settimeout(10)
    response = extra[0].read_response()
    check_equal((response.status, response.body), (200, BODY), "once one of the four closes, client 5 is served")
    check(waits_unanswered(extra[1], 1.0), "client 6 still waits (4 connections open again)")
    first[1].close()
    extra[1].sock.settimeout(10)
    response = extra[1].read_response()
    check_equal(response.status, 200, "once another closes, client 6 is served too")
    for client in first[2:] + extra:
        client.close()
    with Client(limited, timeout=10) as client:
        served(client, "after all closed, a new client is served")
    check("max_connections" in proxyd.stderr_text(), "the pause is logged, naming limits.max_connections")
    proxyd.stop()

    config = (config_head(access="off", plugins=("static",))
              + static_handler("files", root) + listener("fds", open_files, "handler", "files"))
    proxyd = Proxyd(write_file(os.path.join(folder, "fds.toml"), config), folder, tag="fds").start([open_files])
    in_use = len(os.listdir("/proc/%d/fd" % proxyd.proc.pid))
    limit = in_use + 8
    resource.prlimit(proxyd.proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
    note("proxyd has %d fds open; RLIMIT_NOFILE lowered to %d" % (in_use, limit))
    clients, dropped, answered = [], 0, 0
    for _ in range(30):
        client = Client(open_files, timeout=5)
        clients.append(client)
        try:
            client.request("GET", "/ok.txt")
            answered += 1
        except (ConnectionClosed, OSError):
            dropped += 1
    note("30 connections held open: %d answered, %d dropped" % (answered, dropped))
    check(answered >= 1 and dropped >= 1, "with fds exhausted, some connections are served and the rest dropped",
          "%d answered, %d dropped" % (answered, dropped))
    check("too many open files" in proxyd.stderr_text().lower(), "the accept error is logged")
    check(proxyd.alive(), "proxyd survives running out of file descriptors")
    for client in clients:
        client.close()
    ok = 0
    for n in range(5):
        with Client(open_files, timeout=10) as client:
            response = client.request("GET", "/ok.txt")
            ok += response.status == 200
    check_equal(ok, 5, "after the connections close, new ones are served again")


if __name__ == "__main__":
    run_test(main)
