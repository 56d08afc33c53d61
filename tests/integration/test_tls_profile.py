#!/usr/bin/env python3
"""The TLS profile as a user meets it: `bash packaging/make-demo-cert.sh`, then
`proxyd -c conf.d/tls.toml`, then curl --cacert against https://127.0.0.1:18443 (the reverse
profile's routes over HTTPS) and http://127.0.0.1:18080 (a 308 to the HTTPS URL).

Also: the script makes an ECDSA P-256 certificate for localhost and 127.0.0.1 with a key only its
owner can read, in a folder git ignores, and keeps it when run again."""

import os
import shutil
import subprocess

from proxyd_harness import (CONF_DIR, HOST, SOURCE_DIR, WWW_DIR, Proxyd, check, check_equal, curl, header_of,
                            read_file, require_ports_free, run_test, workdir)

HTTPS, HTTP = 18443, 18080
BACKENDS = (8888, 8889, 8890)
SCRIPT = os.path.join(SOURCE_DIR, "packaging", "make-demo-cert.sh")
CERT = os.path.join(CONF_DIR, "demo-tls", "demo.crt")
KEY = os.path.join(CONF_DIR, "demo-tls", "demo.key")


def main():
    require_ports_free((HTTPS, HTTP) + BACKENDS)
    folder = workdir("tls-profile")
    made = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=60)
    check_equal(made.returncode, 0, "make-demo-cert.sh succeeds (%s)" % made.stderr.strip())
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", CERT], capture_output=True, text=True,
                          check=True).stdout
    check("prime256v1" in text or "P-256" in text, "the demo certificate is ECDSA P-256")
    check("DNS:localhost" in text and "IP Address:127.0.0.1" in text, "its names are localhost and 127.0.0.1")
    check_equal(os.stat(KEY).st_mode & 0o077, 0, "the demo key is readable by its owner only")
    again = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=60)
    check(again.returncode == 0 and "keeping it" in again.stdout, "a second run keeps the certificate",
          again.stdout + again.stderr)
    if shutil.which("git") and os.path.exists(os.path.join(SOURCE_DIR, ".git")):
        ignored = subprocess.run(["git", "-C", SOURCE_DIR, "check-ignore", "-q", KEY], capture_output=True)
        check_equal(ignored.returncode, 0, "git ignores the demo key (git check-ignore's exit)")

    proxyd = Proxyd(os.path.join(CONF_DIR, "tls.toml"), folder, cwd=SOURCE_DIR)
    proxyd.start((HTTPS, HTTP) + BACKENDS)
    for host in (HOST, "localhost"):
        for path, file in (("/", "default/index.html"), ("/images/", "images/index.html"),
                           ("/pdf/report.pdf", "pdf/report.pdf")):
            status, headers, body = curl("https://%s:%d%s" % (host, HTTPS, path), folder, "--cacert", CERT)
            check_equal(status, 200, "curl --cacert https://%s:%d%s" % (host, HTTPS, path))
            check(body == read_file(os.path.join(WWW_DIR, file)), "https://%s:%d%s is byte-exact" % (host, HTTPS, path))
    status, headers, body = curl("http://%s:%d/pdf/?x=1" % (HOST, HTTP), folder)
    check_equal(status, 308, "the cleartext port redirects")
    check_equal(header_of(headers, "Location"), "https://%s:%d/pdf/?x=1" % (HOST, HTTPS), "to the HTTPS URL")
    status, headers, body = curl("http://localhost:%d/images/" % HTTP, folder, "-L", "--cacert", CERT)
    check_equal(status, 200, "curl -L follows the redirect to the HTTPS page")
    check(body == read_file(os.path.join(WWW_DIR, "images/index.html")), "and gets the image site's page")
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exits 0 on SIGTERM")


run_test(main)
