#!/usr/bin/env python3
"""The rate_limit filter in the real proxyd: a burst passes, the next request gets 429 with
Retry-After, another key (a header) has its own bucket, and refused requests never reach the
backend. One worker, so the figures are exact (with workers = N each worker has its own buckets)."""

import os

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, run_test, upstream,
                            workdir, write_file)


def main():
    folder = workdir("filter_rate_limit")
    backend = Backend()
    front, keyed = free_ports(2)
    config = config_head(plugins=None, workers=1) + upstream("echo", [backend.port]) + """
[filters.per_client]
plugin = "rate_limit"
rate = "1r/m"
burst = 3

[filters.per_key]
plugin = "rate_limit"
rate = "1r/m"
burst = 1
key = "header:X-Api-Key"

[[listeners]]
name = "front"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["per_client"]

[[listeners]]
name = "keyed"
listen = "127.0.0.1:%d"
upstream = "echo"
filters = ["per_key"]
""" % (front, keyed)
    path = write_file(os.path.join(folder, "rate_limit.toml"), config)
    proxyd = Proxyd(path, folder).start([front, keyed])

    with Client(front) as client:
        statuses = [client.request("GET", "/n%d" % i).status for i in range(3)]
        check_equal(statuses, [200, 200, 200], "the burst of 3 passes")
        refused = client.request("GET", "/over")
        check_equal(refused.status, 429, "the fourth request is refused")
        retry = int(refused.header("Retry-After") or "0")
        check(55 <= retry <= 60, "Retry-After is the seconds until the next token (1r/m)", repr(retry))
        check_equal(client.request("GET", "/over").status, 429, "the connection stays usable, still limited")

    with Client(keyed) as client:
        check_equal(client.request("GET", "/k", [("X-Api-Key", "one")]).status, 200, "key one's first request")
        check_equal(client.request("GET", "/over", [("X-Api-Key", "one")]).status, 429, "key one is over")
        check_equal(client.request("GET", "/k", [("X-Api-Key", "two")]).status, 200, "key two has its own bucket")
        check_equal(client.request("GET", "/k").status, 200, "no header: keyed by the address, its own bucket")

    targets = [r.target for _, r in backend.requests]
    check("/over" not in targets, "refused requests never reach the backend", repr(targets))
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
