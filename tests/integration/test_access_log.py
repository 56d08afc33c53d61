#!/usr/bin/env python3
"""The access log: with log.access_format = "json" every line is one JSON object (json.loads parses
it) carrying the request, the status and the upstream, with quotes, backslashes and bytes that are
not UTF-8 escaped safely. SIGUSR1 reopens the log: after `mv access.log access.log.1` (what
logrotate does), lines go to the old file until the signal and to a new access.log after it. A
reload (SIGHUP) switches to the file and format the new configuration names."""

import json
import os
import re
import signal

from proxyd_harness import (Client, Proxyd, access_log_entries, check, check_equal, config_head, free_ports, get, listener, note,
                            read_file, run_test, upstream, Backend, wait_for, workdir, write_file)


def lines_of(path):
    return read_file(path).decode("utf-8").splitlines() if os.path.exists(path) else []


def main():
    folder = workdir("access-log")
    backend = Backend()
    (front,) = free_ports(1)
    log_path = os.path.join(folder, "access.log")
    config = (config_head(access=log_path, plugins=("round_robin",)).replace("[log]\n", '[log]\naccess_format = "json"\n')
              + upstream("app", [backend.port]) + listener("front", front, "upstream", "app"))
    config_path = write_file(os.path.join(folder, "json.toml"), config)
    proxyd = Proxyd(config_path, folder, tag="json").start([front])

    agent = b'caf\xe9 "quoted" back\\slash \xc3\xa9 \xed\xa0\x80'  # Latin-1 byte, UTF-8, a surrogate
    with Client(front) as client:
        response = client.request("GET", "/json/first?q=%22x%22", headers=[("User-Agent", agent.decode("latin-1")),
                                                                           ("Referer", "http://example.test/"),
                                                                           ("X-Request-ID", "trace-1.a:b_c")])
        check_equal(response.status, 200, "the request with odd header bytes is proxied")
    check_equal(get(front, "/json/second").status, 200, "a plain request is proxied")
    wait_for("two access-log lines were written", lambda: len(lines_of(log_path)) >= 2)

    entries = [json.loads(line) for line in lines_of(log_path)]  # raises (fails the test) on a bad line
    note("a JSON access-log line: %s" % lines_of(log_path)[0])
    first, second = entries[0], entries[1]
    check_equal(first["target"], "/json/first?q=%22x%22", "json: target")
    check_equal(first["method"], "GET", "json: method")
    check_equal(first["protocol"], "HTTP/1.1", "json: protocol")
    check_equal(first["status"], 200, "json: status")
    check_equal(first["upstream"], "127.0.0.1:%d" % backend.port, "json: upstream")
    check_equal(first["upstream_status"], 200, "json: upstream_status")
    check_equal(first["listener"], "front", "json: listener")
    check_equal(first["client"], "127.0.0.1", "json: client")
    check_equal(first["referer"], "http://example.test/", "json: referer")
    check_equal(first["user_agent"], 'caf\u00e9 "quoted" back\\slash \u00e9 \u00ed\u00a0\u0080',
                "json: user_agent (invalid UTF-8 bytes escaped one by one, valid UTF-8 kept)")
    check(first["bytes"] > 0 and isinstance(first["request_time"], float), "json: bytes and request_time")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["time"]), "json: time is ISO 8601 UTC")
    check(second["referer"] is None and second["user_agent"] is None, "json: absent headers are null")
    # The request id: the client's valid X-Request-ID is kept, else proxyd makes one; the backend
    # gets the same id once.
    check_equal(first["request_id"], "trace-1.a:b_c", "json: request_id is the client's X-Request-ID")
    check(re.fullmatch(r"[0-9a-f]{16}", second["request_id"]), "json: a request without one gets 16 hex digits")
    sent = [r.all("X-Request-ID") for _, r in backend.requests]
    check_equal(sent[:2], [["trace-1.a:b_c"], [second["request_id"]]], "the backend gets the request id once")

    # logrotate: move the file, one more request still goes to it, then SIGUSR1 starts a new one.
    rotated = log_path + ".1"
    os.rename(log_path, rotated)
    check_equal(get(front, "/before-reopen").status, 200, "request after the rename")
    wait_for("the request after the rename is logged in the renamed file",
             lambda: any("/before-reopen" in line for line in lines_of(rotated)))
    proxyd.send_signal(signal.SIGUSR1)
    wait_for("proxyd logs the reopen", lambda: "log files reopened" in proxyd.stderr_text())
    check_equal(get(front, "/after-reopen").status, 200, "request after SIGUSR1")
    wait_for("SIGUSR1 made a new access.log with the next request", lambda: any(
        "/after-reopen" in line for line in lines_of(log_path)))
    check(not any("/after-reopen" in line for line in lines_of(rotated)), "the renamed file gets no new lines")

    # A reload opens the files the new configuration names, in its format.
    combined_path = os.path.join(folder, "combined.log")
    write_file(config_path, config.replace(log_path, combined_path).replace('access_format = "json"',
                                                                             'access_format = "combined"'))
    proxyd.send_signal(signal.SIGHUP)
    wait_for("proxyd reloads", lambda: "reloaded configuration (generation 2)" in proxyd.stderr_text())
    check_equal(get(front, "/after-reload").status, 200, "request after the reload")
    wait_for("the reloaded configuration logs to its own file, in combined format", lambda: any(
        e["request"] == "GET /after-reload HTTP/1.1" and e["status"] == "200" and len(e["request_id"]) == 16
        for e in access_log_entries(read_file(combined_path).decode() if os.path.exists(combined_path) else "")))
    check(not any("/after-reload" in line for line in lines_of(log_path)), "the old generation's file gets no new lines")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
