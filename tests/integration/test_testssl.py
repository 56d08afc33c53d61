#!/usr/bin/env python3
"""testssl.sh grades an HTTPS listener with the DEFAULT TLS settings (only a certificate and its
key: an ECDSA P-256 self-signed one made here) on a loopback port. The one line added is the opt-in
`hsts` header, as a site at the edge would set it: without it testssl rates the missing header LOW
(nginx gets the same finding).

testssl (Debian's testssl.sh) runs with --fast and the checks that matter for a TLS terminator:
protocols (-p), cipher categories (-s), forward secrecy (-f), server preference (-P), server
defaults (-S), HTTP headers (-h) and vulnerabilities (-U); client simulation is left out, as it
is the slowest part and grades no configuration of its own. Its JSON is parsed: every finding
rated LOW, MEDIUM, HIGH or CRITICAL fails the test, except those listed in ACCEPTED, each caused by
the self-signed test certificate or by what this listener is not configured to do, with the reason.
A FATAL result (testssl could not test) fails too. Every finding above INFO is printed.

testssl is stopped by its PID if it runs longer than TESTSSL_LIMIT; proxyd is stopped by its PID."""

import json
import os
import shutil
import signal
import subprocess
import time

from proxyd_harness import (HOST, check, check_equal, config_head, free_ports, make_certificate, note, Proxyd,
                            run_test, static_handler, TestSkip, toml_str, workdir, write_file)

TESTSSL_LIMIT = 600  # seconds; it took 279 s on 2 cores shared with four other builds (load 10)

ACCEPTED = {
    "cert_chain_of_trust": "the test certificate is self-signed: no CA chain leads to it",
    "cert_revocation": "a self-signed test certificate names no CRL or OCSP responder",
    "DNS_CAArecord": "site.test has no DNS, so no CAA record",
    "security_headers": "X-Frame-Options, X-Content-Type-Options, Content-Security-Policy and the like are "
                        "the application's: proxyd passes its backend's headers and adds none, and this "
                        "test serves a bare static file",
}
FAILING = ("LOW", "MEDIUM", "HIGH", "CRITICAL", "FATAL")



def run_testssl(testssl, port, folder):
    """Runs testssl against the port; returns its JSON findings."""
    report = os.path.join(folder, "testssl.json")
    cmd = [testssl, "--fast", "--quiet", "--color", "0", "--warnings", "off", "--openssl-timeout", "10",
           "--connect-timeout", "10", "--jsonfile", report, "--ip", HOST, "-p", "-s", "-f", "-P", "-S", "-h",
           "-U", "https://site.test:%d/" % port]
    note("running: " + " ".join(cmd))
    started = time.monotonic()
    with open(os.path.join(folder, "testssl.txt"), "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder,
                                start_new_session=True)
        try:
            proc.wait(timeout=TESTSSL_LIMIT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own process group: testssl and its openssl children
            proc.wait(timeout=10)
            check(False, "testssl finished within %d s" % TESTSSL_LIMIT)
    note("testssl took %.0f s (exit %d); its report: %s" % (time.monotonic() - started, proc.returncode,
                                                            os.path.join(folder, "testssl.txt")))
    with open(report) as f:
        return json.load(f)


def main():
    testssl = shutil.which("testssl")
    if testssl is None:
        raise TestSkip("testssl not installed (Debian's testssl.sh; packaging/build-deps.sh --test installs it)")
    folder = workdir("testssl")
    cert, key = make_certificate(folder, "site", ["site.test"], days=365)
    www = os.path.join(folder, "www")
    write_file(os.path.join(www, "index.html"), "<h1>graded</h1>\n")
    port, = free_ports(1)
    config = (config_head(level="warn") + static_handler("site", www) +
              "[[listeners]]\nname = \"https\"\nlisten = %s\nhandler = \"site\"\n"
              "tls = { certificate = %s, key = %s, hsts = \"max-age=31536000\" }\n" %
              (toml_str("%s:%d" % (HOST, port)), toml_str(cert), toml_str(key)))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder)
    proxyd.start([port])

    findings = run_testssl(testssl, port, folder)
    check(len(findings) > 50, "testssl reported its findings (%d)" % len(findings))
    ids = {f["id"] for f in findings}
    for expected in ("SSLv3", "TLS1_3", "cipher_order", "heartbleed", "ROBOT", "secure_client_renego",
                     "HTTP_status_code"):
        check(expected in ids, "testssl checked %s" % expected)
    unexpected = []
    for f in findings:
        if f["severity"] in ("OK", "INFO", "DEBUG"):
            continue
        accepted = ACCEPTED.get(f["id"]) if f["severity"] != "FATAL" else None
        note("%-8s %-28s %s%s" % (f["severity"], f["id"], f["finding"],
                                   "  [accepted: %s]" % accepted if accepted else ""))
        if f["severity"] in FAILING and not accepted:
            unexpected.append("%s %s: %s" % (f["severity"], f["id"], f["finding"]))
    check_equal(unexpected, [], "findings rated LOW or worse, besides the accepted ones")
    check(proxyd.alive(), "proxyd still running after the scan")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


run_test(main)
