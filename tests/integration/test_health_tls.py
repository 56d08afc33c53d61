#!/usr/bin/env python3
"""Active http health checks of https:// peers are made over TLS, with the group's TLS settings (the
backends are the harness's Backend over Python's ssl module, with self-signed certificates from the
openssl command; a group trusts one by naming its file as `ca`):
- healthy peers pass their checks, which reach each backend's /health as HTTP requests inside TLS
  connections (not a bare TCP connect), and both peers serve clients;
- a peer whose /health answers 500 over TLS is marked down after `fall` checks, its traffic goes
  to the other peer, and it comes back after `rise` checks once healthy;
- a group that does not trust the peer's certificate (verify on, another CA) marks it down, and the
  log line names the TLS reason as a proxied request's connect failure does;
- a tcp check of that same peer only connects (no handshake), so it stays up;
- a peer that accepts the connection and never answers the handshake fails by `timeout`, which
  covers the connect, the handshake and the answer.
Intervals are 200 ms; every process is stopped by PID."""

import os
import re
import ssl

from proxyd_harness import (HOST, Backend, Proxyd, check, check_equal, config_head, free_ports, get, listener,
                            make_certificate, note, run_test, toml_str, wait_for, wait_for_log, workdir,
                            write_file)
from health_helpers import SwitchableBackend, peer_status, recovers


def server_context(certificate):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certificate)
    return ctx


def silent_raw(conn, conn_id):
    """Reads what comes (a ClientHello) and never answers, until proxyd closes the connection."""
    while conn.recv(4096):
        pass


def tls_group(name, ports, ca, extra):
    peers = ", ".join(toml_str("https://%s:%d" % (HOST, p)) for p in ports)
    return "[upstreams.%s]\npeers = [%s]\ntls = { ca = %s }\n%s\n" % (name, peers, toml_str(ca), extra)


def main():
    folder = workdir("health_tls")
    backend_cert = make_certificate(folder, "backend", ["backend.test"], ips=("127.0.0.1",))
    stranger_cert = make_certificate(folder, "stranger", ["backend.test"], ips=("127.0.0.1",))
    a = SwitchableBackend("alpha", ssl_context=server_context(backend_cert))
    b = SwitchableBackend("beta", ssl_context=server_context(backend_cert))
    silent = Backend(handler=None, raw=silent_raw, tag="silent")
    front, untrusted_front, tcp_front, silent_front, admin = free_ports(5)
    checks = ('health_check = { path = "/health", interval = "200ms", timeout = "500ms", rise = 2, fall = 2, '
              'expect_body = "ok" }\nmax_fails = 0\n')
    config = (config_head(plugins=None)
              + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
              + tls_group("web", [a.port, b.port], backend_cert[0], checks)
              + tls_group("untrusted", [a.port], stranger_cert[0], checks)
              + tls_group("tcp", [a.port], stranger_cert[0],
                          'health_check = { type = "tcp", interval = "200ms", rise = 1, fall = 1 }\n')
              + tls_group("silent", [silent.port], backend_cert[0],
                          'health_check = { interval = "200ms", timeout = "300ms", rise = 1, fall = 2 }\n')
              + listener("front", front, "upstream", "web")
              + listener("untrusted-front", untrusted_front, "upstream", "untrusted")
              + listener("tcp-front", tcp_front, "upstream", "tcp")
              + listener("silent-front", silent_front, "upstream", "silent"))
    path = write_file(os.path.join(folder, "health_tls.toml"), config)
    proxyd = Proxyd(path, folder).start([front, admin])
    a_addr, b_addr = "https://%s:%d" % (HOST, a.port), "https://%s:%d" % (HOST, b.port)

    # (1) Healthy over TLS: the checks are HTTP requests inside TLS connections.
    wait_for("both https peers checked up", lambda: peer_status(admin, "web", a_addr)["check"] == "up"
             and peer_status(admin, "web", b_addr)["check"] == "up", timeout=5)
    check_equal(peer_status(admin, "web", b_addr)["last_check"], "pass", "a healthy https peer's last check")
    check(a.count()[1] > 0 and b.count()[1] > 0, "each backend answered /health requests",
          "alpha %s, beta %s" % (a.count(), b.count()))
    check(len(b.backend.tls_connections) >= b.count()[1], "each check made a TLS connection of its own",
          "%d TLS connections, %d checks" % (len(b.backend.tls_connections), b.count()[1]))
    check("speaks TLS" not in proxyd.stderr_text(), "no line saying TLS peers get a TCP check only",
          proxyd.stderr_tail())
    statuses = [get(front, "/").status for _ in range(10)]
    check_equal(set(statuses), {200}, "10 requests with both https peers up")
    check(a.count()[0] > 0 and b.count()[0] > 0, "both peers served some", "%s %s" % (a.count(), b.count()))

    # (2) Beta's /health answers 500 over TLS: down after fall = 2, its traffic goes to alpha.
    b.healthy = False
    wait_for_log(proxyd, r"upstream web peer %s: down: 2 health check\(s\) failed in a row \(last: status 500\)"
                 % re.escape(b_addr), timeout=5)
    b.sick = True
    served_before = b.count()[0]
    statuses = [get(front, "/").status for _ in range(20)]
    check_equal(set(statuses), {200}, "20 requests while beta is checked down")
    check_equal(b.count()[0] - served_before, 0, "client requests that reached the peer checked down")
    check_equal(peer_status(admin, "web", b_addr)["check"], "down", "the failing https peer's check state")

    # Healthy again: back after rise = 2 passes over TLS.
    recovers(proxyd, front, b, b_addr)

    # (3) A certificate the group does not trust: the check fails with OpenSSL's reason.
    wait_for_log(proxyd, r"upstream untrusted peer %s: down: 2 health check\(s\) failed in a row "
                 r"\(last: TLS handshake: certificate verify failed: self-signed certificate\)"
                 % re.escape(a_addr), timeout=5)
    check_equal(peer_status(admin, "untrusted", a_addr)["check"], "down", "the untrusted peer's check state")

    # A tcp check of the same peer only connects: no handshake, so the certificate does not matter.
    wait_for("the tcp-checked https peer up", lambda: peer_status(admin, "tcp", a_addr)["check"] == "up", timeout=5)
    check(re.search(r"upstream tcp peer .*: down:", proxyd.stderr_text()) is None,
          "the tcp-checked peer was never marked down", proxyd.stderr_tail())
    # A handshake that never progresses: the check's timeout ends it.
    wait_for_log(proxyd, r"upstream silent peer https://%s:%d: down: 2 health check\(s\) failed in a row "
                 r"\(last: timed out after 300 ms\)" % (re.escape(HOST), silent.port), timeout=5)
    note("alpha answered %d checks, beta %d" % (a.count()[1], b.count()[1]))
    proxyd.stop()


if __name__ == "__main__":
    run_test(main)
