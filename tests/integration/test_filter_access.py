#!/usr/bin/env python3
"""The access filter in the real proxyd: the first matching rule decides by the client's address
(loopback clients bind 127.0.0.1 or 127.0.0.2), a refused client gets 403 on a connection that stays
usable, and its request never reaches the backend."""

import os
import socket

from proxyd_harness import (HOST, Backend, Proxyd, Reader, build_request, check, check_equal, config_head,
                            free_ports, run_test, upstream, workdir, write_file)


def request_from(source, port, target, count=1):
    """count GETs on one connection from source; returns the responses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.bind((source, 0))
        sock.connect((HOST, port))
        reader = Reader(sock)
        responses = []
        for _ in range(count):
            sock.sendall(build_request("GET", target))
            responses.append(reader.read_response())
        return responses
    finally:
        sock.close()


def main():
    folder = workdir("filter_access")
    backend = Backend()
    (front,) = free_ports(1)
    config = config_head(plugins=None) + upstream("echo", [backend.port]) + """
[filters.local_only]
plugin = "access"
rules = ["deny 127.0.0.2", "allow 127.0.0.0/8", "allow ::1"]
default = "deny"

[[listeners]]
name = "front"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["local_only"]
""" % front
    path = write_file(os.path.join(folder, "access.toml"), config)
    proxyd = Proxyd(path, folder).start([front])

    allowed = request_from("127.0.0.1", front, "/allowed", 2)
    check_equal([r.status for r in allowed], [200, 200], "127.0.0.1 is allowed (twice on one connection)")
    refused = request_from("127.0.0.2", front, "/refused", 2)
    check_equal([r.status for r in refused], [403, 403], "127.0.0.2 is refused, and its connection stays usable")
    check_equal(refused[0].body, b"Forbidden\n", "the 403's body")
    other = request_from("127.0.0.3", front, "/allowed")
    check_equal(other[0].status, 200, "127.0.0.3 falls under allow 127.0.0.0/8")
    targets = [r.target for _, r in backend.requests]
    check("/refused" not in targets, "a refused request never reaches the backend", repr(targets))
    check_equal(targets.count("/allowed"), 3, "allowed requests reached the backend")

    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
