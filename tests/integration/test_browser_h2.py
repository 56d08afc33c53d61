#!/usr/bin/env python3
"""A real browser over HTTP/2: headless Chromium opens a demo page through an HTTPS listener of
proxyd with HTTP/2 on (ALPN h2), routed like conf.d/reverse.toml (/ and /pdf/ to static listeners
of the same process). The test certificate is trusted by its public key
(--ignore-certificate-errors-spki-list), as in test_browser_https.py.

What a user relies on: the page's script reports performance.getEntries()[0].nextHopProtocol ==
"h2" (the navigation went over HTTP/2), fetches /pdf/report.pdf over the same connection and
finds it intact with nextHopProtocol "h2" too, then opens a WebSocket to /ws/echo (routed to an
HTTP/1.1 echo backend) that echoes its message; the access log shows those requests answered 200
as HTTP/2.0, the WebSocket with upstream_status 101: with `http2_websocket = true` Chromium opened
it as a stream of the same connection (RFC 8441), not as an HTTP/1.1 upgrade.

Chromium comes from Debian's `chromium` package (packaging/build-deps.sh --test); the test skips,
with the reason, when it is missing. One Chromium run: 8-21 s on the shared 2-core build
machine, most of it Chromium's start."""

import base64
import hashlib
import html
import json
import os
import re
import subprocess
import time

from h2_setup import h2_listener, require_http2
from proxyd_harness import (HOST, WWW_DIR, Backend, Proxyd, TestSkip, access_log_entries, check, check_equal, config_head,
                            find_chromium, free_ports, listener, make_certificate, note, run_chromium, run_test,
                            static_handler, upstream, workdir, write_file)
from test_websocket_tunnel import WebSocketBackend


def spki_hash(cert):
    """base64(SHA-256(SubjectPublicKeyInfo DER)), the form Chromium's SPKI list takes (as in
    test_browser_https.py, which runs its test when imported)."""
    pem = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], check=True, capture_output=True,
                         timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, check=True,
                         capture_output=True, timeout=30).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>proxyd over HTTP/2</title></head>
<body><h1>HTTP/2 check</h1><pre id="out">waiting</pre><pre id="ws">waiting</pre>
<script>
// A WebSocket opened while the page loads; the image after it holds the load event (and so the
// DOM dump) until the test's backend saw the WebSocket end, which the page does on the echo.
const ws = new WebSocket("wss://" + location.host + "/ws/echo");
const wsOut = document.getElementById("ws");
ws.onopen = () => ws.send("hello over h2");
ws.onmessage = event => { wsOut.textContent = "PROXYD-WS " + event.data; ws.close(); };
ws.onerror = () => { wsOut.textContent = "PROXYD-WS error"; };
</script>
<img src="/hold" alt="">
<script>
async function report() {
  const result = {};
  try {
    result.navigation = performance.getEntries()[0].nextHopProtocol;
    const response = await fetch("/pdf/report.pdf", {cache: "no-store"});
    const bytes = new Uint8Array(await response.arrayBuffer());
    result.pdf_status = response.status;
    result.pdf_length = bytes.length;
    result.pdf_magic = String.fromCharCode(...bytes.slice(0, 5)) === "%PDF-";
    const entries = performance.getEntriesByType("resource").filter(e => e.name.endsWith("/pdf/report.pdf"));
    result.pdf_protocol = entries.length ? entries[0].nextHopProtocol : null;
  } catch (error) {
    result.error = String(error);
  }
  document.getElementById("out").textContent = "PROXYD-H2 " + JSON.stringify(result);
}
report();
</script></body></html>
"""


def main():
    chromium = find_chromium()
    if chromium is None:
        raise TestSkip("chromium not installed (packaging/build-deps.sh --test installs it)")
    folder = workdir("browser-h2")
    site = os.path.join(folder, "site")
    write_file(os.path.join(site, "index.html"), PAGE)
    cert, key = make_certificate(folder, "site", ["localhost"], ips=[HOST])
    front, web, pdf = free_ports(3)
    ws = WebSocketBackend()

    def hold_until_upgraded(request, conn_id):
        # Answered once the page closed the WebSocket (it does on the echo), or after 5 s.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (ws.heads and not ws.backend.open):
            time.sleep(0.05)
        return [b"HTTP/1.1 204 No Content\r\n\r\n"], False
    hold = Backend(hold_until_upgraded, tag="hold")
    config = (config_head() + upstream("web", [web]) + upstream("pdf", [pdf]) + upstream("ws", [ws.port]) +
              upstream("hold", [hold.port]) +
              "[routers.reverse]\nplugin = \"prefix\"\nroutes = [\n"
              "  { prefix = \"/pdf/\", upstream = \"pdf\", strip_prefix = true },\n"
              "  { prefix = \"/ws/\", upstream = \"ws\", strip_prefix = true },\n"
              "  { prefix = \"/hold\", upstream = \"hold\" },\n"
              "  { prefix = \"/\", upstream = \"web\" },\n]\n\n" +
              h2_listener("reverse-h2", front, "router", "reverse", tls=(cert, key)).rstrip("\n") +
              "\nhttp2_websocket = true\n\n" +
              static_handler("h2_site", site) + static_handler("pdf_site", os.path.join(WWW_DIR, "pdf")) +
              listener("h2-site", web, "handler", "h2_site") + listener("pdf-site", pdf, "handler", "pdf_site"))
    path = write_file(os.path.join(folder, "proxyd.toml"), config)
    require_http2(path)
    proxyd = Proxyd(path, folder)
    proxyd.start([front, web, pdf])

    url = "https://%s:%d/" % (HOST, front)
    trust = ["--ignore-certificate-errors-spki-list=" + spki_hash(cert)]
    dom = run_chromium(chromium, url, trust + ["--dump-dom"], folder, "dump-dom", virtual_time_ms=3000)
    match = re.search(r"PROXYD-H2 (\{.*?\})\s*</pre>", dom, re.S)
    check(match is not None, "the page's script wrote its PROXYD-H2 line into the DOM",
          "dumped DOM (%d chars) starts: %r" % (len(dom), dom[:400]))
    result = json.loads(html.unescape(match.group(1)))
    note("page reports: %s" % json.dumps(result, sort_keys=True))
    check_equal(result.get("navigation"), "h2", "performance.getEntries()[0].nextHopProtocol")
    check_equal(result.get("pdf_status"), 200, "fetch /pdf/report.pdf over h2: status")
    check_equal(result.get("pdf_length"), os.path.getsize(os.path.join(WWW_DIR, "pdf", "report.pdf")),
                "fetched PDF length equals www/pdf/report.pdf's size")
    check_equal(result.get("pdf_magic"), True, "fetched PDF starts with %PDF-")
    check_equal(result.get("pdf_protocol"), "h2", "the PDF's resource entry nextHopProtocol")
    match = re.search(r"PROXYD-WS ([^<]*)</pre>", dom)
    check_equal(match and match.group(1), "hello over h2", "the WebSocket's message came back from the echo backend")

    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    served = {(e["request"], e["status"]) for e in access_log_entries(proxyd.stderr_text())
              if e["listener"] == "reverse-h2"}
    for request in ("GET / HTTP/2.0", "GET /pdf/report.pdf HTTP/2.0"):
        check((request, "200") in served, "access log: %r answered 200" % request, repr(sorted(served)[:6]))
    tunnels = [(e["request"], e["status"], e["upstream_status"]) for e in access_log_entries(proxyd.stderr_text())
               if e["request"].startswith("GET /ws/echo")]
    check_equal(tunnels, [("GET /ws/echo HTTP/2.0", "200", "101")],
                "access log: the WebSocket was a stream of the HTTP/2 connection (RFC 8441), its upstream switched")


run_test(main)
