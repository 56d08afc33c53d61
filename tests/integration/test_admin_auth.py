#!/usr/bin/env python3
"""Authentication on the admin listener ([admin] token_file): every admin request, whatever its
path, needs "Authorization: Bearer TOKEN" with the token in the file; without it the answer is 401
with WWW-Authenticate: Bearer realm="proxyd-admin" (and error="invalid_token" for a wrong one),
and names nothing the pages show. The right token opens /status.json, /metrics and a peer-state
POST. Refusals are counted in /metrics and /status.json (missing, invalid) and told in a warning at
once, then at most once a minute, so guessing does not flood the log. A reload (SIGHUP) reads the file again: the new token works and the old one no longer does;
a file the reload refuses (other users may read it) leaves the running token in force; a reload
without token_file turns authentication off."""

import json
import os
import re
import secrets

from proxyd_harness import (HOST, Client, Proxyd, check, check_equal, config_head, free_ports, listener, note,
                            run_test, toml_str, upstream, wait_for_log, workdir, write_file)

REALM = 'Bearer realm="proxyd-admin"'


def admin_request(port, method, path, authorization=None):
    headers = [("Connection", "close")]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    with Client(port) as c:
        return c.request(method, path, headers)


def write_token(path, token, mode=0o600):
    """Replaces the file at once, as an operator's rotation should, so a reload never reads half of it."""
    temporary = path + ".new"
    write_file(temporary, token + "\n")
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def check_refused(admin, method, path, authorization, challenge, what):
    response = admin_request(admin, method, path, authorization)
    check_equal((response.status, response.header("WWW-Authenticate")), (401, challenge), what)
    check(b"web" not in response.body and b"127.0.0.1" not in response.body,
          "the 401 to %s names no group or peer" % what, response.body[:200])


def refusals(admin, authorization=None):
    """The refusal counts as /metrics and /status.json give them."""
    metrics = admin_request(admin, "GET", "/metrics", authorization).body.decode()
    by_metrics = {reason: int(count) for reason, count in
                  re.findall(r'^proxyd_admin_auth_failures_total\{reason="(\w+)"\} (\d+)$', metrics, re.M)}
    by_json = json.loads(admin_request(admin, "GET", "/status.json", authorization).body)["admin_auth_failures"]
    check_equal(by_metrics, by_json, "/metrics and /status.json count the same refusals")
    return by_json


def refusal_warnings(proxyd):
    return [line for line in proxyd.stderr_text().splitlines()
            if "refused for a missing or wrong Bearer token" in line]


def main():
    folder = workdir("admin_auth")
    front, admin, dead = free_ports(3)
    token_path = os.path.join(folder, "admin.token")
    first, second = secrets.token_hex(16), secrets.token_urlsafe(24)
    write_token(token_path, first)

    def config(token_file):
        return (config_head(workers=1, plugins=None)
                + "[admin]\nlisten = %s\n" % toml_str("%s:%d" % (HOST, admin))
                + ("token_file = %s\n" % toml_str(token_file) if token_file else "") + "\n"
                + upstream("web", [dead]) + listener("front", front, "upstream", "web"))

    # Relative to the config file's folder.
    config_path = write_file(os.path.join(folder, "auth.toml"), config("admin.token"))
    proxyd = Proxyd(config_path, folder).start([front, admin])
    wait_for_log(proxyd, r"admin listener on .*Bearer token required")
    drain = "/upstreams/web/peers/%s:%d/drain" % (HOST, dead)

    for method, path in (("GET", "/status.json"), ("GET", "/metrics"), ("GET", "/nope"), ("POST", drain)):
        check_refused(admin, method, path, None, REALM, "%s %s without a token" % (method, path))
    wrong = REALM + ', error="invalid_token"'
    check_refused(admin, "GET", "/status.json", "Bearer " + first[:-1] + "x", wrong, "a wrong token")
    check_refused(admin, "GET", "/status.json", "Bearer " + first + "x", wrong, "the token and one byte more")
    check_refused(admin, "GET", "/status.json", "Basic " + first, wrong, "the token under another scheme")
    with Client(admin) as c:
        twice = c.request("GET", "/status.json", [("Connection", "close"), ("Authorization", "Bearer " + first),
                                                   ("Authorization", "Bearer " + first)])
    check_equal(twice.status, 400, "two Authorization fields")
    check_equal(refusals(admin, "Bearer " + first), {"missing": 4, "invalid": 4},
                "refusals counted: 4 without a token; 3 wrong tokens or schemes and the two fields")
    wait_for_log(proxyd, r"admin listener .*: 1 request refused for a missing or wrong Bearer token, "
                         r"the latest from 127\.0\.0\.1:\d+")
    check_equal(len(refusal_warnings(proxyd)), 1, "eight refusals in a few seconds: one warning, the first at once")

    status = admin_request(admin, "GET", "/status.json", "Bearer " + first)
    check_equal(status.status, 200, "GET /status.json with the token")
    check_equal(json.loads(status.body)["config"]["generation"], 1, "its generation")
    check_equal(admin_request(admin, "GET", "/metrics", "bearer " + first).status, 200,
                "GET /metrics with the token, the scheme in lower case")
    drained = admin_request(admin, "POST", drain, "Bearer " + first)
    check_equal(drained.status, 200, "POST drain with the token")
    note(drained.body.decode().strip())

    # A reload reads the file again.
    write_token(token_path, second)
    proxyd.send_signal(1)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    status = admin_request(admin, "GET", "/status.json", "Bearer " + second)
    check_equal(status.status, 200, "the new token after a reload")
    check_equal(json.loads(status.body)["config"]["generation"], 2, "the generation that read it")
    check_refused(admin, "GET", "/status.json", "Bearer " + first, wrong, "the old token after the reload")
    check_equal(refusals(admin, "Bearer " + second), {"missing": 4, "invalid": 5},
                "the count goes on across a reload (the admin listener stays)")

    # A file that other users may read is refused: the reload fails and the running token holds.
    os.chmod(token_path, 0o644)
    proxyd.send_signal(1)
    wait_for_log(proxyd, r"reload failed: configuration .* has 1 error")
    check(any(token_path in line and "admin.token_file" in line and "0644" in line
              for line in proxyd.stderr_text().splitlines()),
          "the reload error names the token file, the key and the mode")
    check_equal(admin_request(admin, "GET", "/status.json", "Bearer " + second).status, 200,
                "the running token after a refused reload")

    # Without token_file, a reload turns authentication off.
    write_file(config_path, config(None))
    proxyd.send_signal(1)
    wait_for_log(proxyd, r"reloaded configuration \(generation 3\)")
    check_equal(admin_request(admin, "GET", "/status.json").status, 200, "no token needed once token_file is gone")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
