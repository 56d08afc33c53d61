#!/usr/bin/env python3
"""SIGHUP reloads a listener's certificate, and a broken one keeps the old.

What a user relies on:
- the certificate and key files are replaced and proxyd gets SIGHUP while clients keep making fresh
  TLS handshakes (each a new connection and a request): not one handshake or request fails, and the
  new certificate is served once the reload is done;
- a new certificate file that is garbage, or whose key is not its own, or a client_ca that names a
  folder, fails the reload: the error log names the file (or key) and says the reload failed, and
  the certificate loaded before keeps serving, again with no failed handshake.

Clients verify against both test certificates (so either may be served) and tell them apart by
their bytes. Sockets time out after 5 s; every process is stopped by PID."""

import os
import shutil
import signal
import socket
import ssl
import threading

from proxyd_harness import (HOST, check, check_equal, config_head, free_ports, make_certificate, note, Proxyd,
                            read_until_close, run_test, static_handler, toml_str, wait_for, wait_for_log, workdir,
                            write_file)


TIMEOUT = 5.0


class HandshakeLoop:
    """Fresh handshakes and one GET each, back to back, in a thread; counts failures and which
    certificate (by DER bytes) each handshake got."""

    def __init__(self, port, cafile):
        self.port = port
        self.context = ssl.create_default_context(cafile=cafile)
        self.served = []
        self.failures = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                raw = socket.create_connection((HOST, self.port), timeout=TIMEOUT)
                with self.context.wrap_socket(raw, server_hostname="site.test") as sock:
                    sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
                    data = read_until_close(sock)
                    if not data.startswith(b"HTTP/1.1 200 "):
                        raise RuntimeError("answer %r" % data[:40])
                    self.served.append(sock.getpeercert(binary_form=True))
            except Exception as e:  # every kind of failure counts
                self.failures.append(repr(e))

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=15)


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def install(pair, cert_path, key_path):
    """Replaces the files the config names (each by rename, as a deployment tool would)."""
    for source, target in zip(pair, (cert_path, key_path)):
        shutil.copyfile(source, target + ".new")
        os.replace(target + ".new", target)


def main():
    folder = workdir("tls-reload")
    first = make_certificate(folder, "first", ["site.test"], days=30)
    second = make_certificate(folder, "second", ["site.test"], days=30)
    third = make_certificate(folder, "third", ["site.test"], days=30)
    cafile = write_file(os.path.join(folder, "ca.pem"), open(first[0]).read() + open(second[0]).read())
    cert_path, key_path = os.path.join(folder, "live.crt"), os.path.join(folder, "live.key")
    install(first, cert_path, key_path)
    www = os.path.join(folder, "www")
    write_file(os.path.join(www, "index.html"), "hello\n")
    port = free_ports(1)[0]
    config = (config_head(access="off", workers=2) + static_handler("site", www) +
              "[[listeners]]\nlisten = \"%s:%d\"\nhandler = \"site\"\ntls = { certificate = %s, key = %s }\n"
              % (HOST, port, toml_str(cert_path), toml_str(key_path)))
    proxyd_toml = write_file(os.path.join(folder, "proxyd.toml"), config)
    proxyd = Proxyd(proxyd_toml, folder)
    proxyd.start([port])

    loop = HandshakeLoop(port, cafile)
    wait_for("handshakes with the first certificate", lambda: len(loop.served) >= 20)
    install(second, cert_path, key_path)
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    new_der = der(second[0])
    wait_for("a handshake with the new certificate", lambda: new_der in loop.served or loop.failures)
    wait_for_log(proxyd, r"generation 1 finished")
    seen = len(loop.served)
    wait_for("more handshakes after the old generation finished", lambda: len(loop.served) >= seen + 20)
    loop.stop()
    note("%d handshakes across the reload" % len(loop.served))
    check_equal(loop.failures[:3], [], "failed handshakes or requests across the certificate reload")
    check(der(first[0]) in loop.served, "the first certificate was served before the reload")
    last = loop.served[seen:]
    check(last and all(d == new_der for d in last), "only the new certificate once the old generation finished")

    # Broken replacements: garbage PEM, then a certificate with another's key. Each fails the
    # reload, naming the file, and the second certificate keeps serving.
    broken = [("garbage", lambda: write_file(cert_path, "-----BEGIN CERTIFICATE-----\nnot base64\n"
                                                        "-----END CERTIFICATE-----\n"), cert_path),
              ("mismatched key", lambda: install((third[0], second[1]), cert_path, key_path), key_path),
              # An empty client_ca names the config's folder, whose read once threw and ended proxyd.
              ("client_ca naming a folder", lambda: write_file(proxyd_toml, config.replace(
                  "key = %s }" % toml_str(key_path), "key = %s, client_ca = \"\" }" % toml_str(key_path))),
               "tls.client_ca")]
    for what, damage, named in broken:
        loop = HandshakeLoop(port, cafile)
        wait_for("handshakes before the broken reload", lambda: len(loop.served) >= 10)
        failed_before = proxyd.stderr_text().count("reload failed")
        damage()
        proxyd.send_signal(signal.SIGHUP)
        wait_for("the reload with a %s to fail" % what,
                 lambda: proxyd.stderr_text().count("reload failed") > failed_before)
        seen = len(loop.served)
        wait_for("handshakes after the failed reload", lambda: len(loop.served) >= seen + 10)
        loop.stop()
        errors = [l for l in proxyd.stderr_text().splitlines() if "reload: " in l and named in l]
        check(errors, "the failed reload (%s) logs an error naming %s" % (what, named), proxyd.stderr_tail())
        check_equal(loop.failures[:3], [], "failed handshakes around the failed reload (%s)" % what)
        check(all(d == new_der for d in loop.served), "the certificate loaded before keeps serving (%s)" % what)
    check(proxyd.alive(), "proxyd still running")


run_test(main)
