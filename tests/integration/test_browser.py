#!/usr/bin/env python3
"""The check of the original report, with a real browser: headless Chromium opens
http://127.0.0.1:18000/images/ of `proxyd -c conf.d/reverse.toml`; the picture decodes and the page's
script fetches /pdf/report.pdf through the proxy and finds it intact. A screenshot is kept.

Chromium comes from Debian's `chromium` package. If it is missing the test installs it; it skips
(exit 0, with the reason) only when that install is impossible."""

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib

from proxyd_harness import (BUILD_DIR, CONF_DIR, SOURCE_DIR, WWW_DIR, Proxyd, TestSkip, access_log_entries, check,
                            check_equal, find_chromium, note, read_file, run_chromium, require_ports_free, run_test, workdir)

FRONT = 18000
URL = "http://127.0.0.1:%d/images/" % FRONT




def install_chromium():
    if os.geteuid() != 0:
        raise TestSkip("chromium not installed: not root, cannot run apt-get install chromium")
    if shutil.which("apt-get") is None:
        raise TestSkip("chromium not installed: no apt-get on this machine")
    note("chromium missing: apt-get install -y --no-install-recommends chromium")
    try:
        done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                              capture_output=True, timeout=900, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except subprocess.TimeoutExpired:
        raise TestSkip("chromium not installed: apt-get install did not finish in 900 s")
    if done.returncode != 0 or find_chromium() is None:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise TestSkip("chromium not installed: apt-get install chromium failed (exit %d): %s"
                       % (done.returncode, " | ".join(tail)))
    return find_chromium()




def png_facts(path):
    """(width, height, distinct byte values in the decompressed image data) of a PNG file."""
    data = read_file(path)
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    idat, at = bytearray(), 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            idat += data[at + 8:at + 8 + length]
        at += 12 + length
    return width, height, len(set(zlib.decompress(bytes(idat))))


def main():
    chromium = find_chromium() or install_chromium()
    version = subprocess.run([chromium, "--version"], capture_output=True, timeout=30).stdout.decode().strip()
    note("using %s (%s)" % (chromium, version))

    require_ports_free([FRONT, 18001, 8888, 8889, 8890])
    folder = workdir("browser")
    proxyd = Proxyd(os.path.join(CONF_DIR, "reverse.toml"), folder, cwd=SOURCE_DIR)
    proxyd.start([FRONT, 8888, 8889, 8890])

    dom = run_chromium(chromium, URL, ["--dump-dom"], folder, "dump-dom", virtual_time_ms=10000)
    match = re.search(r"PROXYD-CHECK (\{.*?\})\s*</pre>", dom, re.S)
    check(match is not None, "the page's script wrote its PROXYD-CHECK line into the DOM",
          "dumped DOM (%d chars) starts: %r" % (len(dom), dom[:400]))
    result = json.loads(html.unescape(match.group(1)))
    note("page reports: %s" % json.dumps(result, sort_keys=True))
    pdf_size = os.path.getsize(os.path.join(WWW_DIR, "pdf", "report.pdf"))
    check(result.get("img_natural_width", 0) > 0, "the <img> decoded: naturalWidth > 0",
          "naturalWidth %r" % result.get("img_natural_width"))
    check_equal((result.get("img_natural_width"), result.get("img_natural_height")), (320, 240),
                "the <img> decoded at photo.jpg's size")
    check_equal(result.get("pdf_status"), 200, "fetch /pdf/report.pdf through the proxy: status")
    check_equal((result.get("pdf_content_type") or "").split(";")[0].strip(), "application/pdf",
                "fetched PDF Content-Type")
    check_equal(result.get("pdf_length"), pdf_size, "fetched PDF length equals www/pdf/report.pdf's size")
    check_equal(result.get("pdf_content_length"), str(pdf_size), "fetched PDF Content-Length header")
    check_equal(result.get("pdf_magic"), True, "fetched PDF starts with %PDF-")

    out_dir = os.path.join(BUILD_DIR or folder, "tests", "integration", "test_browser")
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "images.png")
    if os.path.exists(shot):
        os.remove(shot)
    run_chromium(chromium, URL, ["--screenshot=" + shot, "--window-size=800,600", "--hide-scrollbars"], folder,
                 "screenshot", virtual_time_ms=10000)
    check(os.path.exists(shot), "screenshot written to %s" % shot)
    size = os.path.getsize(shot)
    width, height, distinct = png_facts(shot)
    check_equal((width, height), (800, 600), "screenshot size")
    check(size > 20_000 and distinct > 64, "screenshot is not blank (%d bytes, %d distinct byte values)"
          % (size, distinct))

    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    served = {(e["request"].split(" ")[1], e["status"]) for e in access_log_entries(proxyd.stderr_text())
              if e["listener"] == "reverse" and e["request"].count(" ") == 2}
    for path in ("/images/", "/images/photo.jpg", "/pdf/report.pdf"):
        check((path, "200") in served, "access log: the browser's GET %s through the proxy got 200" % path)


if __name__ == "__main__":
    run_test(main)
