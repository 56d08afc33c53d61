#!/usr/bin/env python3
"""The static plugin side by side with nginx (Debian's package) serving the same folder: the same
validator and range requests go to both, and the status codes, Content-Range values and ETag
behaviour must agree, except for the differences written down in docs/static-files.md (asserted
here too, so a change on either side shows up). ETag values are not compared: each server is asked
with its own tags. Prints the comparison table in Markdown.

nginx is started by this test on a free loopback port, in a temporary prefix with its own config,
and stopped by its PID. When nginx is missing the test installs it from apt (as packaging/
build-deps.sh --test does) and skips, saying why, only when that is impossible."""

import os
import shutil
import subprocess
import time

import static_tree
from proxyd_harness import (Client, Proxyd, TestFailure, TestSkip, check, config_head, die_with_parent, free_ports,
                            listener, note, on_exit, port_accepts, run_test, static_handler, workdir, write_file)

NGINX_CONFIG = """daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ text/plain txt; application/octet-stream bin; text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        # RFC 9110's rule (the date is a lower bound); nginx's default is "exact".
        if_modified_since before;
    }}
}}
"""

OLD_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"


def find_nginx():
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def install_nginx():
    """apt-get install nginx without letting Debian start the system service; None or why not."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "nginx is not installed and this test cannot install it (needs root and apt-get)"
    note("nginx missing: installing it from apt (packaging/build-deps.sh --test lists it)")
    policy = "/usr/sbin/policy-rc.d"
    made_policy = not os.path.exists(policy)
    try:
        if made_policy:
            write_file(policy, "#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx"]):
            done = subprocess.run(cmd, capture_output=True, timeout=600, env=env)
            if done.returncode != 0 and cmd[1] == "install":
                return "apt-get install nginx failed: %s" % done.stderr.decode("utf-8", "replace")[-500:]
    except (OSError, subprocess.SubprocessError) as error:
        return "installing nginx failed: %s" % error
    finally:
        if made_policy and os.path.exists(policy):
            os.remove(policy)
    return None if find_nginx() else "nginx still missing after apt-get install"


def start_nginx(binary, folder, root, port):
    prefix = os.path.join(folder, "nginx")
    os.makedirs(prefix, exist_ok=True)
    config = write_file(os.path.join(prefix, "nginx.conf"), NGINX_CONFIG.format(prefix=prefix, port=port, root=root))
    err = open(os.path.join(prefix, "stderr"), "wb")
    proc = subprocess.Popen([binary, "-p", prefix, "-e", os.path.join(prefix, "error.log"), "-c", config],
                            stdin=subprocess.DEVNULL, stdout=err, stderr=err, preexec_fn=die_with_parent)
    note("started nginx pid %d on 127.0.0.1:%d (prefix %s)" % (proc.pid, port, prefix))

    def stop():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        err.close()
    on_exit(stop)
    deadline = time.monotonic() + 10
    while not port_accepts(port, timeout=0.3):
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(os.path.join(prefix, "stderr"), "rb") as f:
                raise TestFailure("nginx did not start: %s" % f.read().decode("utf-8", "replace")[-800:])
        time.sleep(0.05)
    return stop


def fetch(port, method, target, headers):
    with Client(port) as client:
        response = client.request(method, target, headers)
    return response


# (what, method, target, headers built from this server's own validators)
def cases(size):
    return [
        ("plain GET", "GET", "/digits.txt", lambda v: []),
        ("If-None-Match: own ETag", "GET", "/digits.txt", lambda v: [("If-None-Match", v["etag"])]),
        ("If-None-Match: other tag", "GET", "/digits.txt", lambda v: [("If-None-Match", '"other"')]),
        ("If-None-Match: *", "GET", "/digits.txt", lambda v: [("If-None-Match", "*")]),
        ("If-None-Match: W/own ETag", "GET", "/digits.txt", lambda v: [("If-None-Match", "W/" + v["etag"])]),
        ("If-Modified-Since: Last-Modified", "GET", "/digits.txt", lambda v: [("If-Modified-Since", v["date"])]),
        ("If-Modified-Since: 1994", "GET", "/digits.txt", lambda v: [("If-Modified-Since", OLD_DATE)]),
        ("If-Modified-Since: 2100", "GET", "/digits.txt",
         lambda v: [("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")]),
        ("If-None-Match other + If-Modified-Since: Last-Modified", "GET", "/digits.txt",
         lambda v: [("If-None-Match", '"other"'), ("If-Modified-Since", v["date"])]),
        ("If-None-Match own + If-Modified-Since: 1994", "GET", "/digits.txt",
         lambda v: [("If-None-Match", v["etag"]), ("If-Modified-Since", OLD_DATE)]),
        ("HEAD, If-None-Match: own ETag", "HEAD", "/digits.txt", lambda v: [("If-None-Match", v["etag"])]),
        ("If-Match: own ETag", "GET", "/digits.txt", lambda v: [("If-Match", v["etag"])]),
        ("If-Match: other tag", "GET", "/digits.txt", lambda v: [("If-Match", '"other"')]),
        ("If-Match: *", "GET", "/digits.txt", lambda v: [("If-Match", "*")]),
        ("If-Unmodified-Since: Last-Modified", "GET", "/digits.txt",
         lambda v: [("If-Unmodified-Since", v["date"])]),
        ("If-Unmodified-Since: 1994", "GET", "/digits.txt", lambda v: [("If-Unmodified-Since", OLD_DATE)]),
        ("Range: bytes=0-99", "GET", "/blob.bin", lambda v: [("Range", "bytes=0-99")]),
        ("Range: bytes=-500 (suffix)", "GET", "/blob.bin", lambda v: [("Range", "bytes=-500")]),
        ("Range: bytes=1000- (open)", "GET", "/blob.bin", lambda v: [("Range", "bytes=1000-")]),
        ("Range: past the end", "GET", "/blob.bin", lambda v: [("Range", "bytes=%d-" % size)]),
        ("Range: last-pos past the end", "GET", "/blob.bin", lambda v: [("Range", "bytes=10-%d" % (size * 2))]),
        ("Range: bytes=-0", "GET", "/blob.bin", lambda v: [("Range", "bytes=-0")]),
        ("Range: two ranges", "GET", "/blob.bin", lambda v: [("Range", "bytes=0-9,20-29")]),
        ("Range: suffix, open and out of order", "GET", "/blob.bin",
         lambda v: [("Range", "bytes=-10,100-109,%d-" % (size - 5))]),
        ("Range: one of two satisfiable", "GET", "/blob.bin", lambda v: [("Range", "bytes=%d-,0-9" % size)]),
        ("Range: two, none satisfiable", "GET", "/blob.bin", lambda v: [("Range", "bytes=%d-,-0" % size)]),
        ("Range: overlaps larger than the file", "GET", "/blob.bin", lambda v: [("Range", "bytes=0-,0-")]),
        ("Range: 17 ranges", "GET", "/blob.bin",
         lambda v: [("Range", "bytes=" + ",".join("%d-%d" % (i * 10, i * 10) for i in range(17)))]),
        ("Range: bytes=5-1 (invalid)", "GET", "/blob.bin", lambda v: [("Range", "bytes=5-1")]),
        ("Range: items=0-1 (other unit)", "GET", "/blob.bin", lambda v: [("Range", "items=0-1")]),
        ("Range + If-Range: own ETag", "GET", "/blob.bin",
         lambda v: [("Range", "bytes=0-9"), ("If-Range", v["blob_etag"])]),
        ("Range + If-Range: other tag", "GET", "/blob.bin",
         lambda v: [("Range", "bytes=0-9"), ("If-Range", '"other"')]),
        ("Range + If-Range: Last-Modified", "GET", "/blob.bin",
         lambda v: [("Range", "bytes=0-9"), ("If-Range", v["blob_date"])]),
        ("Range + If-Range: 1994", "GET", "/blob.bin", lambda v: [("Range", "bytes=0-9"), ("If-Range", OLD_DATE)]),
        ("Range + If-None-Match: own ETag", "GET", "/blob.bin",
         lambda v: [("Range", "bytes=0-9"), ("If-None-Match", v["blob_etag"])]),
        ("HEAD with Range", "HEAD", "/blob.bin", lambda v: [("Range", "bytes=0-9")]),
        ("Range on an empty file", "GET", "/empty.txt", lambda v: [("Range", "bytes=0-")]),
        ("missing file", "GET", "/nope.txt", lambda v: []),
        ("folder without slash, query", "GET", "/docs?x=1", lambda v: []),
    ]


# Where proxyd deliberately answers otherwise; (proxyd, nginx) statuses. See docs/static-files.md.
DIFFERENCES = {
    "If-None-Match own + If-Modified-Since: 1994": (304, 200),  # RFC 9110 §13.2.2: If-None-Match wins
    "Range: 17 ranges": (200, 206),  # proxyd: max_ranges 16 by default; nginx: unlimited
    "HEAD with Range": (200, 206),  # RFC 9110 §14.2: Range is defined for GET only
}


def validators(port):
    small = fetch(port, "GET", "/digits.txt", [])
    blob = fetch(port, "GET", "/blob.bin", [])
    return {"etag": small.header("ETag"), "date": small.header("Last-Modified"),
            "blob_etag": blob.header("ETag"), "blob_date": blob.header("Last-Modified")}


def comparable_body(response):
    """The body with a multipart/byteranges boundary replaced by a fixed word (each server picks its
    own) and nginx's leading CRLF (an empty preamble, which proxyd leaves out) dropped."""
    media = response.header("Content-Type") or ""
    prefix = "multipart/byteranges; boundary="
    if not media.startswith(prefix):
        return response.body
    body = response.body.replace(b"--" + media[len(prefix):].encode(), b"--BOUNDARY")
    return body[2:] if body.startswith(b"\r\n") else body


def summary(response):
    parts = [str(response.status)]
    if response.has("Content-Range"):
        parts.append("`%s`" % response.header("Content-Range"))
    if (response.header("Content-Type") or "").startswith("multipart/byteranges"):
        parts.append("(multipart/byteranges)")
    if response.status == 301:
        parts.append("`%s`" % response.header("Location"))
    return " ".join(parts)


def main():
    binary = find_nginx()
    if binary is None:
        reason = install_nginx()
        if reason:
            raise TestSkip(reason)
        binary = find_nginx()
    folder = workdir("vs-nginx")
    www, files = static_tree.build(folder)
    proxyd_port, nginx_port = free_ports(2)
    config = config_head(access="off", plugins=("static",)) + static_handler("site", www) + listener(
        "site", proxyd_port, "handler", "site")
    Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([proxyd_port])
    start_nginx(binary, folder, www, nginx_port)
    version = subprocess.run([binary, "-v"], capture_output=True).stderr.decode().strip()

    own = {"proxyd": validators(proxyd_port), "nginx": validators(nginx_port)}
    note("ETag of digits.txt: proxyd %s, nginx %s" % (own["proxyd"]["etag"], own["nginx"]["etag"]))
    for server, v in own.items():
        check(v["etag"] and v["etag"].startswith('"'), "%s: strong ETag %s" % (server, v["etag"]))
    rows = []
    for what, method, target, make in cases(len(files["blob.bin"])):
        answers = {}
        for server, port in (("proxyd", proxyd_port), ("nginx", nginx_port)):
            answers[server] = fetch(port, method, target, make(own[server]))
        p, n = answers["proxyd"], answers["nginx"]
        rows.append((what, summary(p), summary(n)))
        if what in DIFFERENCES:
            check((p.status, n.status) == DIFFERENCES[what],
                  "%s: the documented difference, proxyd %d, nginx %d" % ((what,) + DIFFERENCES[what]),
                  "got proxyd %d, nginx %d" % (p.status, n.status))
            continue
        check(p.status == n.status, "%s: both %d" % (what, p.status), "proxyd %d, nginx %d" % (p.status, n.status))
        check(p.header("Content-Range") == n.header("Content-Range"),
              "%s: same Content-Range (%s)" % (what, p.header("Content-Range")),
              "proxyd %r, nginx %r" % (p.header("Content-Range"), n.header("Content-Range")))
        if method == "GET" and p.status in (200, 206):
            check(comparable_body(p) == comparable_body(n), "%s: same body bytes (%d)" % (what, len(p.body)),
                  "proxyd %r\nnginx %r" % (comparable_body(p)[:300], comparable_body(n)[:300]))
        key = {"/digits.txt": "etag", "/blob.bin": "blob_etag"}.get(target)
        if p.status in (200, 206, 304) and key:
            # ETag semantics: 200, 206 and 304 all carry the tag of the representation, unchanged.
            check(p.header("ETag") == own["proxyd"][key] and n.header("ETag") == own["nginx"][key],
                  "%s: each server sends its own current ETag" % what)
        if p.status == 301:
            # nginx writes an absolute URL, proxyd a path: the same place.
            check(n.header("Location").endswith(p.header("Location")), "%s: same Location" % what)
    print("\n| request | proxyd | nginx |\n| --- | --- | --- |")
    for row in rows:
        print("| %s | %s | %s |" % row)
    print("\n(%s, compared on %s)\n" % (version, time.strftime("%Y-%m-%d")))


run_test(main)
