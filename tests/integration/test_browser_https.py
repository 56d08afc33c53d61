#!/usr/bin/env python3
"""A real browser over HTTPS: headless Chromium opens the demo image page (www/images/) through an
HTTPS listener of proxyd with the default TLS settings, routed like conf.d/reverse.toml (/images/
and /pdf/ to two cleartext listeners of the same process serving www/). The self-signed test
certificate (ECDSA P-256, for 127.0.0.1) is trusted the clean way, by its public key:
--ignore-certificate-errors-spki-list with the base64 SHA-256 of its SubjectPublicKeyInfo, which
trusts that one key and nothing else.

What a user relies on: the picture decodes at its size, the page's script fetches
/pdf/report.pdf over the same HTTPS origin and finds it intact, the access log shows the
browser's three requests answered 200 on the HTTPS listener, and a screenshot (kept in the build
tree, its path printed) is not blank.

Chromium comes from Debian's `chromium` package (packaging/build-deps.sh --test); the test skips,
with the reason, when it is missing. Every process is stopped by its PID."""

import base64
import hashlib
import html
import json
import os
import re
import subprocess

from proxyd_harness import (BUILD_DIR, HOST, WWW_DIR, access_log_entries, check, check_equal, config_head,
                            find_chromium, free_ports, listener, make_certificate, note, Proxyd, run_chromium,
                            run_test, static_handler, TestSkip, toml_str, upstream, workdir, write_file)



def spki_hash(cert):
    """base64(SHA-256(SubjectPublicKeyInfo DER)), the form Chromium's SPKI list takes."""
    pem = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True, capture_output=True,
                         timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, check=True,
                         capture_output=True, timeout=30).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def main():
    chromium = find_chromium()
    if chromium is None:
        raise TestSkip("chromium not installed (packaging/build-deps.sh --test installs it)")
    folder = workdir("browser-https")
    cert, key = make_certificate(folder, "site", ["localhost"], ips=[HOST])
    front, images, pdf = free_ports(3)
    config = (config_head() +
              upstream("images", [images]) + upstream("pdf", [pdf]) +
              "[routers.reverse]\nplugin = \"prefix\"\nroutes = [\n"
              "  { prefix = \"/images/\", upstream = \"images\", strip_prefix = true },\n"
              "  { prefix = \"/pdf/\", upstream = \"pdf\", strip_prefix = true },\n]\n\n"
              "[[listeners]]\nname = \"reverse-https\"\nlisten = %s\nrouter = \"reverse\"\n"
              "tls = { certificate = %s, key = %s }\n\n" % (toml_str("%s:%d" % (HOST, front)), toml_str(cert),
                                                           toml_str(key)) +
              static_handler("image_site", os.path.join(WWW_DIR, "images")) +
              static_handler("pdf_site", os.path.join(WWW_DIR, "pdf")) +
              listener("image-site", images, "handler", "image_site") +
              listener("pdf-site", pdf, "handler", "pdf_site"))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder)
    proxyd.start([front, images, pdf])

    url = "https://%s:%d/images/" % (HOST, front)
    trust = ["--ignore-certificate-errors-spki-list=" + spki_hash(cert)]
    dom = run_chromium(chromium, url, trust + ["--dump-dom"], folder, "dump-dom", virtual_time_ms=10000)
    match = re.search(r"PROXYD-CHECK (\{.*?\})\s*</pre>", dom, re.S)
    check(match is not None, "the page's script wrote its PROXYD-CHECK line into the DOM (page loaded over HTTPS)",
          "dumped DOM (%d chars) starts: %r" % (len(dom), dom[:400]))
    result = json.loads(html.unescape(match.group(1)))
    note("page reports: %s" % json.dumps(result, sort_keys=True))
    check_equal((result.get("img_natural_width"), result.get("img_natural_height")), (320, 240),
                "the <img> decoded over HTTPS at photo.jpg's size")
    pdf_size = os.path.getsize(os.path.join(WWW_DIR, "pdf", "report.pdf"))
    check_equal(result.get("pdf_status"), 200, "fetch /pdf/report.pdf over HTTPS: status")
    check_equal(result.get("pdf_length"), pdf_size, "fetched PDF length equals www/pdf/report.pdf's size")
    check_equal(result.get("pdf_magic"), True, "fetched PDF starts with %PDF-")

    out_dir = os.path.join(BUILD_DIR or folder, "tests", "integration", "test_browser_https")
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "images-https.png")
    if os.path.exists(shot):
        os.remove(shot)
    run_chromium(chromium, url, trust + ["--screenshot=" + shot, "--window-size=800,600", "--hide-scrollbars"],
                 folder, "screenshot", virtual_time_ms=10000)
    check(os.path.exists(shot), "screenshot written")
    print("screenshot: %s" % shot)
    check(os.path.getsize(shot) > 20_000, "screenshot is not blank (%d bytes)" % os.path.getsize(shot))

    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    served = {(e["request"].split(" ")[1], e["status"]) for e in access_log_entries(proxyd.stderr_text())
              if e["listener"] == "reverse-https" and e["request"].count(" ") == 2}
    for path in ("/images/", "/images/photo.jpg", "/pdf/report.pdf"):
        check((path, "200") in served, "access log: the browser's GET %s over HTTPS got 200" % path)


run_test(main)
