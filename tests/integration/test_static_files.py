#!/usr/bin/env python3
"""The static plugin as a client sees it, against the real binary: validators and conditional requests
(304 with no body, 412, Last-Modified never after Date, impossible dates ignored, weak validators for a
file written under two seconds old), byte ranges byte-exact (single, suffix, open, 416, If-Range; several as
multipart/byteranges over keep-alive and HTTP/2, too many or too much as 200), HEAD mirroring GET, precompressed siblings, MIME types, directories (index, 301 with the query, listing),
paths that try to leave the root, symlink policies, dotfiles, Cache-Control, and a 1 GiB sparse file
sent with flat memory."""

import email.utils
import gzip
import os
import random
import subprocess
import time

import static_tree
from proxyd_harness import (Client, Proxyd, check, check_equal, config_head, curl, free_ports, header_of,
                            listener, note, proc_status_kib, run_test, static_handler, upstream, workdir,
                            write_file)

GIB = 1 << 30


def start(folder, www):
    site, listing, strict, proxy, h2c = free_ports(5)
    config = config_head(access="off", plugins=("static", "round_robin"))
    config += upstream("site_peer", [site])
    config += listener("proxy", proxy, "upstream", "site_peer")
    config += static_handler("site", www, 'precompressed = true\ncache_control = "no-cache"\n'
                             'default_type = "application/x-unknown"\n'
                             'cache_control_by_extension = { css = "max-age=86400", js = "public, max-age=600" }\n')
    config += static_handler("listing", www, "autoindex = true\nindex = [\"missing.html\"]\n")
    config += static_handler("strict", www, 'symlinks = "never"\nallow_dotfiles = true\netag = "content-hash"\n')
    config += listener("site", site, "handler", "site")
    config += listener("listing", listing, "handler", "listing")
    config += listener("strict", strict, "handler", "strict")
    config += listener("h2c", h2c, "handler", "site").rstrip("\n") + "\nhttp2 = true\n\n"
    path = write_file(os.path.join(folder, "static.toml"), config)
    proxyd = Proxyd(path, folder).start([site, listing, strict, proxy, h2c])
    return proxyd, site, listing, strict, proxy, h2c


def ask(port, target, headers=(), method="GET"):
    """One request on a keep-alive connection, then a second plain one on the same connection: it
    proves that the first response carried exactly the body its head announced (no stray bytes)."""
    with Client(port) as client:
        response = client.request(method, target, headers)
        follow = client.request("GET", "/digits.txt")
        check(follow.status == 200 and follow.body == b"0123456789",
              "%s %s %s: the connection stays in sync" % (method, target, list(headers)), repr(follow.start_line))
    return response


def validators(port):
    first = ask(port, "/digits.txt")
    etag, modified = first.header("ETag"), first.header("Last-Modified")
    check(etag and etag.startswith('"') and not etag.startswith("W/"), "strong ETag on a file: %s" % etag)
    check_equal(first.header("Accept-Ranges"), "bytes", "Accept-Ranges on a file")
    check(modified and modified.endswith(" GMT"), "Last-Modified on a file: %s" % modified)

    for headers, status, what in [
        ([("If-None-Match", etag)], 304, "If-None-Match with the current tag"),
        ([("If-None-Match", '"x", ' + etag)], 304, "If-None-Match list containing the tag"),
        ([("If-None-Match", '"x"'), ("If-None-Match", etag)], 304, "If-None-Match list over two field lines"),
        ([("If-None-Match", "W/" + etag)], 304, "If-None-Match weak comparison"),
        ([("If-None-Match", "*")], 304, "If-None-Match: *"),
        ([("If-None-Match", '"other"')], 200, "If-None-Match with another tag"),
        ([("If-Modified-Since", modified)], 304, "If-Modified-Since = Last-Modified"),
        ([("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")], 200, "If-Modified-Since before"),
        ([("If-Modified-Since", "not a date")], 200, "If-Modified-Since not a date: ignored"),
        ([("If-None-Match", '"other"'), ("If-Modified-Since", modified)], 200,
         "If-None-Match wins over If-Modified-Since (no match: 200)"),
        ([("If-None-Match", etag), ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")], 304,
         "If-None-Match wins over If-Modified-Since (match: 304)"),
        ([("If-Match", etag)], 200, "If-Match with the current tag"),
        ([("If-Match", '"other"')], 412, "If-Match with another tag"),
        ([("If-Match", "*")], 200, "If-Match: *"),
        ([("If-Unmodified-Since", modified)], 200, "If-Unmodified-Since = Last-Modified"),
        ([("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")], 412, "If-Unmodified-Since before"),
    ]:
        response = ask(port, "/digits.txt", headers)
        check_equal(response.status, status, what)
        if status == 304:
            check(not response.has("Content-Length") and response.header("ETag") == etag and
                  not response.has("Content-Type"), "%s: 304 has the ETag, no length, no type" % what,
                  repr(response.headers))
    head = ask(port, "/digits.txt", [("If-None-Match", etag)], method="HEAD")
    check_equal(head.status, 304, "HEAD with If-None-Match")


def dates(port, h2c, www):
    """Last-Modified is never later than Date (RFC 9110 §8.8.2.1), over HTTP/1.1 and HTTP/2, even
    for a file dated in the future; an HTTP-date that names no calendar day (31 February) makes its
    header ignored rather than read as a day in March."""
    future = os.path.join(www, "future.txt")
    write_file(future, "from a clock set ahead\n")
    os.utime(future, (4102444800, 4102444800))  # 2100-01-01
    as_seconds = lambda date: email.utils.parsedate_to_datetime(date).timestamp()
    h1 = ask(port, "/future.txt")
    status, headers, _ = curl("http://127.0.0.1:%d/future.txt" % h2c, FOLDER, "--http2-prior-knowledge")
    for what, code, modified, date in (("HTTP/1.1", h1.status, h1.header("Last-Modified"), h1.header("Date")),
                                       ("HTTP/2", status, header_of(headers, "last-modified"),
                                        header_of(headers, "date"))):
        check(code == 200 and modified and date and as_seconds(modified) <= as_seconds(date),
              "%s: a file dated 2100 has a Last-Modified not later than Date" % what,
              "%s Last-Modified %s, Date %s" % (code, modified, date))
    os.remove(future)

    # Written just now: a rewrite within the same second at the same size would keep an
    # "<mtime>-<size>" tag, so it is weak, and If-Range with it or with the date sends the whole
    # file (a range of another version must never be spliced onto the client's bytes).
    # Each answer is judged only if it came within a second of the write: proxyd then read a
    # clock at most one second past the file's, which keeps the file young (a loaded machine
    # that takes longer makes the file strong, rightly, and the check is noted as not made).
    young = os.path.join(www, "young.txt")
    written = time.time()
    write_file(young, "version one\n")
    stamp = os.stat(young).st_mtime_ns

    def judge(condition, what, detail=""):
        if time.time() - written < 1.0:
            check(condition, what, detail)
        else:
            note("not judged, the answer came more than a second after the write: " + what)

    first = ask(port, "/young.txt")
    etag, modified = first.header("ETag") or "", first.header("Last-Modified")
    judge(etag.startswith('W/"'), "a file written just now has a weak ETag", etag)
    write_file(young, "version two\n")  # the same size, and (as a fast writer gets) the same time
    os.utime(young, ns=(stamp, stamp))
    for if_range in (etag, modified):
        response = ask(port, "/young.txt", [("Range", "bytes=8-"), ("If-Range", if_range)])
        judge(response.status == 200 and response.body == b"version two\n",
              "If-Range %s on a file rewritten within its second: 200 with the whole new file" % if_range,
              "%s %r" % (response.start_line, response.body))
    status = ask(port, "/young.txt", [("If-Match", etag)]).status
    judge(status == 412, "If-Match with a weak ETag: 412", str(status))
    status = ask(port, "/young.txt", [("If-None-Match", etag)]).status
    judge(status == 304, "If-None-Match with a weak ETag: 304 (weak comparison)", str(status))
    os.utime(young, (time.time() - 60, time.time() - 60))
    settled = ask(port, "/young.txt")
    check((settled.header("ETag") or "").startswith('"'), "the same file a minute old: a strong ETag",
          settled.header("ETag"))
    os.remove(young)

    # Read as 3 March 2099 the first would be a 304, read as 1 May 1994 the second a 412.
    check_equal(ask(port, "/blob.bin", [("If-Modified-Since", "Sat, 31 Feb 2099 00:00:00 GMT")]).status, 200,
                "If-Modified-Since 31 Feb: not a date, ignored")
    check_equal(ask(port, "/blob.bin", [("If-Unmodified-Since", "Sun, 31 Apr 1994 00:00:00 GMT")]).status, 200,
                "If-Unmodified-Since 31 Apr: not a date, ignored")


def ranges(port, files):
    blob = files["blob.bin"]
    size = len(blob)
    etag = ask(port, "/blob.bin").header("ETag")
    rng = random.Random(7)
    cases = [("bytes=0-0", 0, 0), ("bytes=0-99", 0, 99), ("bytes=%d-" % (size - 10), size - 10, size - 1),
             ("bytes=-500", size - 500, size - 1), ("bytes=-%d" % (size * 2), 0, size - 1),
             ("bytes=100-%d" % (size * 5), 100, size - 1)]
    for _ in range(6):
        a = rng.randrange(size)
        b = rng.randrange(a, size)
        cases.append(("bytes=%d-%d" % (a, b), a, b))
    for header, first, last in cases:
        response = ask(port, "/blob.bin", [("Range", header)])
        ok = (response.status == 206 and response.body == blob[first:last + 1] and
              response.header("Content-Range") == "bytes %d-%d/%d" % (first, last, size) and
              response.header("Content-Length") == str(last - first + 1))
        check(ok, "Range %s: 206, Content-Range bytes %d-%d/%d, byte-exact" % (header, first, last, size),
              "%s %r" % (response.start_line, response.headers))

    for header in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 5, size + 9), "bytes=-0"):
        response = ask(port, "/blob.bin", [("Range", header)])
        check(response.status == 416 and response.header("Content-Range") == "bytes */%d" % size,
              "Range %s: 416 with Content-Range bytes */%d" % (header, size), repr(response.headers))
    for header in ("bytes=5-1", "bytes=abc"):
        check_equal(ask(port, "/blob.bin", [("Range", header)]).status, 416, "Range %s is rejected: 416" % header)
    check_equal(ask(port, "/blob.bin", [("Range", "pages=1-2")]).status, 200, "an unknown range unit is ignored")

    modified = ask(port, "/blob.bin").header("Last-Modified")
    for if_range, status in [(etag, 206), (modified, 206), ('"stale"', 200), ("W/" + etag, 200),
                             ("Sun, 06 Nov 1994 08:49:37 GMT", 200)]:
        response = ask(port, "/blob.bin", [("Range", "bytes=10-19"), ("If-Range", if_range)])
        expected = blob[10:20] if status == 206 else blob
        check(response.status == status and response.body == expected,
              "If-Range %s: %d" % (if_range, status), response.start_line)

    # curl as a second client.
    status, headers, body = curl("http://127.0.0.1:%d/blob.bin" % port, FOLDER, "-r", "1000-1999")
    check(status == 206 and body == blob[1000:2000], "curl -r 1000-1999: 206 byte-exact")


def multipart_parts(response, what):
    """The (Content-Type, Content-Range, bytes) of each part of a multipart/byteranges response,
    checking the framing: the boundary of the head, CRLFs, the close-delimiter and nothing after."""
    media = response.header("Content-Type") or ""
    prefix = "multipart/byteranges; boundary="
    check(media.startswith(prefix), "%s: Content-Type multipart/byteranges" % what, media)
    boundary = media[len(prefix):].encode()
    body = response.body
    check_equal(response.header("Content-Length"), str(len(body)), "%s: Content-Length is the body's" % what)
    closing = b"\r\n--" + boundary + b"--\r\n"
    check(body.startswith(b"--" + boundary + b"\r\n") and body.endswith(closing),
          "%s: the body opens with the boundary and ends with the close-delimiter" % what, repr(body[:80]))
    parts = []
    for chunk in body[:-len(closing)].split(b"\r\n--" + boundary + b"\r\n"):
        if chunk.startswith(b"--" + boundary + b"\r\n"):
            chunk = chunk[len(boundary) + 4:]
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        parts.append((fields.get("Content-Type"), fields.get("Content-Range"), data))
    return parts


def several_ranges(port, h2c, files):
    blob = files["blob.bin"]
    size = len(blob)
    # Suffix, open and plain ranges, out of order and overlapping, two on one keep-alive connection.
    asked = [("bytes=-100,0-9,5000-5999,%d-" % (size - 30), [(size - 100, size - 1), (0, 9), (5000, 5999),
                                                            (size - 30, size - 1)]),
             ("bytes=200-299, 250-349 ,%d-" % (size * 2), [(200, 299), (250, 349)]),
             # Two halves, swapped: each larger than a socket buffer takes at once.
             ("bytes=%d-,0-%d" % (size // 2, size // 2 - 1), [(size // 2, size - 1), (0, size // 2 - 1)])]
    with Client(port) as client:
        for header, expected in asked:
            response = client.request("GET", "/blob.bin", [("Range", header)])
            check_equal(response.status, 206, "Range %s: 206" % header)
            check(not response.has("Content-Range") and response.header("ETag"),
                  "Range %s: no Content-Range of its own, the ETag" % header, repr(response.headers))
            parts = multipart_parts(response, "Range %s" % header)
            check_equal([(t, r) for t, r, _ in parts],
                        [("application/x-unknown", "bytes %d-%d/%d" % (a, b, size)) for a, b in expected],
                        "Range %s: each part's type and Content-Range, in the order asked" % header)
            check([d for _, _, d in parts] == [blob[a:b + 1] for a, b in expected],
                  "Range %s: every part byte-exact" % header)
    # A client that reads late through a small window: the server's socket fills inside a part and
    # between parts, and sending resumes where it stopped, the bytes between ranges in order.
    sixteen = [(i * (size // 16), (i + 1) * (size // 16) - 1) for i in (15, 3, 0, 7, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13,
                                                                          14)]
    with Client(port, rcvbuf=4096) as client:
        client.send(b"GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%s\r\n\r\n" %
                    ",".join("%d-%d" % r for r in sixteen).encode())
        time.sleep(0.2)  # not a sync: only lets the server's send buffer fill before anything is read
        response = client.read_response()
        parts = multipart_parts(response, "16 ranges read late")
        check([d for _, _, d in parts] == [blob[a:b + 1] for a, b in sixteen], "16 ranges read late: byte-exact")
        follow = client.request("GET", "/digits.txt")
        check(follow.status == 200 and follow.body == b"0123456789", "16 ranges read late: the connection stays in sync")
    check_equal(ask(port, "/blob.bin", [("Range", "bytes=%d-,%d-%d,-0" % (size, size + 5, size + 9))]).status, 416,
                "several ranges, none satisfiable: 416")
    response = ask(port, "/blob.bin", [("Range", "bytes=%d-,10-19" % size)])
    check(response.status == 206 and response.header("Content-Range") == "bytes 10-19/%d" % size and
          response.body == blob[10:20], "one satisfiable range among several: a plain 206")
    seventeen = ",".join("%d-%d" % (i * 10, i * 10) for i in range(17))
    for header, what in [("bytes=" + seventeen, "17 ranges (max_ranges 16)"),
                         ("bytes=0-,0-", "ranges adding up to more than the file")]:
        response = ask(port, "/blob.bin", [("Range", header)])
        check(response.status == 200 and response.body == blob, "%s: 200 with the whole file" % what)
    head = ask(port, "/blob.bin", [("Range", "bytes=0-9,20-29")], method="HEAD")
    check(head.status == 200 and head.header("Content-Length") == str(size) and head.body == b"",
          "HEAD with several ranges: the 200 head of the whole file")
    etag = ask(port, "/blob.bin").header("ETag")
    check_equal(ask(port, "/blob.bin", [("Range", "bytes=0-9,20-29"), ("If-Range", '"stale"')]).status, 200,
                "several ranges with a stale If-Range: 200")
    check_equal(ask(port, "/blob.bin", [("Range", "bytes=0-9,20-29"), ("If-Range", etag)]).status, 206,
                "several ranges with the current If-Range: 206")

    # HTTP/2: the same body in DATA frames, with its content-length.
    # The last part outgrows the stream's first flow-control window (64 KiB).
    status, headers, body = curl("http://127.0.0.1:%d/blob.bin" % h2c, FOLDER, "--http2-prior-knowledge",
                                 "-r", "0-9,100-199,%d-" % (size // 2))
    check_equal(status, 206, "curl --http2-prior-knowledge -r 0-9,100-199,%d-: 206" % (size // 2))
    response = Reply(headers, body)
    parts = multipart_parts(response, "HTTP/2 multipart")
    check([d for _, _, d in parts] == [blob[0:10], blob[100:200], blob[size // 2:]],
          "HTTP/2: every part byte-exact")


class Reply:
    """curl's answer in the shape multipart_parts reads."""

    def __init__(self, headers, body):
        self.headers, self.body = headers, body

    def header(self, name):
        return header_of(self.headers, name)


def head_mirrors_get(port):
    for target in ("/digits.txt", "/", "/style.css", "/nope", "/docs", "/app.js"):
        get = ask(port, target, [("Accept-Encoding", "gzip")])
        head = ask(port, target, [("Accept-Encoding", "gzip")], method="HEAD")
        strip = lambda m: sorted((n.lower(), v) for n, v in m.headers if n.lower() != "date")
        check(head.status == get.status and strip(head) == strip(get) and head.body == b"",
              "HEAD %s: same status and headers as GET, no body" % target,
              "GET %r\nHEAD %r" % (strip(get), strip(head)))
    head = ask(port, "/blob.bin", [("Range", "bytes=0-9")], method="HEAD")
    check(head.status == 200 and head.header("Content-Length") == str(256 * 1024),
          "HEAD with Range: 200 with the full length (Range is defined for GET only)")


def precompressed(port, files):
    plain = ask(port, "/app.js")
    check(plain.header("Content-Encoding") is None and plain.body == files["app.js"],
          "no Accept-Encoding: the original")
    check_equal(plain.header("Vary"), "Accept-Encoding", "Vary on the original too")
    gz = ask(port, "/app.js", [("Accept-Encoding", "gzip, deflate")])
    check(gz.header("Content-Encoding") == "gzip" and gzip.decompress(gz.body) == files["app.js"],
          "Accept-Encoding gzip: app.js.gz with Content-Encoding: gzip", repr(gz.headers))
    check(gz.header("Content-Type") == "text/javascript; charset=utf-8", "the original's Content-Type")
    check(gz.header("ETag") != plain.header("ETag"), "the variant has its own ETag")
    br = ask(port, "/app.js", [("Accept-Encoding", "gzip, br")])
    check_equal(br.header("Content-Encoding"), "br", "br preferred when both are accepted")
    check_equal(ask(port, "/app.js", [("Accept-Encoding", "br;q=0, gzip")]).header("Content-Encoding"), "gzip",
                "q=0 refuses a coding")
    check_equal(ask(port, "/digits.txt", [("Accept-Encoding", "gzip")]).header("Content-Encoding"), None,
                "no sibling: identity")
    # app.js.br holds no real brotli, so curl is offered gzip only.
    status, headers, body = curl("http://127.0.0.1:%d/app.js" % port, FOLDER, "--compressed", "-H",
                                 "Accept-Encoding: gzip")
    check(status == 200 and header_of(headers, "Content-Encoding") == "gzip" and body == files["app.js"],
          "curl --compressed gets gzip and decodes it to the original")


def mime(port):
    expected = {
        "/index.html": "text/html; charset=utf-8", "/style.css": "text/css; charset=utf-8",
        "/app.js": "text/javascript; charset=utf-8", "/mod.mjs": "text/javascript; charset=utf-8",
        "/data.json": "application/json; charset=utf-8", "/digits.txt": "text/plain; charset=utf-8",
        "/page.xml": "application/xml; charset=utf-8", "/img.svg": "image/svg+xml; charset=utf-8",
        "/photo.webp": "image/webp", "/pic.avif": "image/avif", "/font.woff2": "font/woff2",
        "/clip.mp4": "video/mp4", "/clip.webm": "video/webm", "/bundle.zip": "application/zip",
        "/mod.wasm": "application/wasm", "/noext": "application/x-unknown",
    }
    got = {target: ask(port, target).header("Content-Type") for target in expected}
    check(got == expected, "Content-Type from conf.d/mime.toml, default_type otherwise",
          repr({k: v for k, v in got.items() if v != expected[k]}))


def directories(site, listing):
    moved = ask(site, "/docs?lang=en&x=%20")
    check(moved.status == 301 and moved.header("Location") == "/docs/?lang=en&x=%20",
          "/docs?query: 301 to /docs/ with the query", repr(moved.headers))
    check_equal(ask(site, "/docs/").body, b"<h1>docs</h1>\n", "/docs/ serves its index")
    check_equal(ask(site, "/list/").status, 403, "no index and no listing: 403")
    page = ask(listing, "/list/")
    body = page.body.decode("utf-8")
    check(page.status == 200 and page.header("Content-Type") == "text/html; charset=utf-8", "listing: 200 HTML")
    names = ['a &lt;&amp;&gt; &quot;q&quot;.txt', "b.txt", "empty dir/", "sub/"]
    positions = [body.find(">%s</a>" % n) for n in names]
    check(all(p >= 0 for p in positions) and positions == sorted(positions),
          "listing: names HTML-escaped, sorted, folders with '/'", body)
    check("<&>" not in body and 'href="./a%20%3C%26%3E%20%22q%22.txt"' in body, "listing: links percent-encoded")
    root = ask(listing, "/").body.decode("utf-8")
    check(".env" not in root and ".git" not in root and "escape.txt" in root, "listing hides dotfiles")
    check(">escape_dir</a>" in root, "a symlink is listed by name, not followed out of the root to see a folder")


def safety(site, strict):
    attempts = ["/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/%2E%2E%2Foutside%2Fsecret.txt",
                "/docs/..%2f..%2foutside/secret.txt", "/..%5c..%5coutside%5csecret.txt",
                "/%252e%252e/outside/secret.txt", "/digits.txt%00.html", "/%00", "/escape.txt",
                "/escape_dir/secret.txt", "/.env", "/.git/config", "/%2egit/config", "/docs/../.env"]
    for target in attempts:
        try:
            response = ask(site, target)
        except Exception as error:  # the core may refuse the target and close: also safe
            response = None
            note("%s: connection refused the request (%s)" % (target, error))
        check(response is None or (response.status in (400, 403, 404) and static_tree.SECRET not in response.body
                                   and b"SECRET=1" not in response.body),
              "%s: refused (%s)" % (target, response.status if response else "closed"))
    statuses = {t: ask(site, t).status for t in ("/digits.txt%00.html", "/escape.txt", "/escape_dir/secret.txt",
                                                  "/.env", "/.git/config", "/%252e%252e/outside/secret.txt")}
    check(statuses == {"/digits.txt%00.html": 400, "/escape.txt": 403, "/escape_dir/secret.txt": 403,
                       "/.env": 404, "/.git/config": 404, "/%252e%252e/outside/secret.txt": 404},
          "status per attack: 400 for NUL, 403 for links out, 404 for dotfiles and double encoding",
          repr(statuses))
    # A path above the root never reaches the plugin: the core refuses it (400, and the
    # connection closes, as after any head it refuses), whatever dots it is spelled with.
    for target in ("/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/docs/../../outside/secret.txt"):
        with Client(site) as client:
            response = client.request("GET", target)
            check(response.status == 400 and response.header("Connection") == "close",
                  "%s: 400 from the core, the connection closed" % target, repr(response.start_line))
    raw = ask(site, "/..\\..\\outside\\secret.txt")
    check(raw.status in (400, 404) and static_tree.SECRET not in raw.body, "raw backslashes: %d" % raw.status)
    check_equal(ask(site, "/alias.txt").body, b"0123456789", "a symlink inside the root is followed (default)")
    check_equal(ask(strict, "/alias.txt").status, 403, "symlinks = never: a link inside the root is refused too")
    check_equal(ask(strict, "/escape.txt").status, 403, "symlinks = never: a link out is refused")
    check_equal(ask(strict, "/.env").body, b"SECRET=1", "allow_dotfiles = true serves dotfiles")


def content_hash(strict):
    tag = ask(strict, "/digits.txt").header("ETag")
    check(tag.startswith('"h-') and len(tag) == 20, "etag = content-hash: a hash tag (%s)" % tag)
    check_equal(ask(strict, "/digits.txt").header("ETag"), tag, "the hash tag is stable")
    check_equal(ask(strict, "/digits.txt", [("If-None-Match", tag)]).status, 304, "the hash tag validates: 304")


def cache_control(port):
    got = {t: ask(port, t).header("Cache-Control") for t in ("/style.css", "/app.js", "/digits.txt", "/nope")}
    check(got == {"/style.css": "max-age=86400", "/app.js": "public, max-age=600", "/digits.txt": "no-cache",
                  "/nope": None}, "Cache-Control per extension, the handler's default, none on errors", repr(got))


def through_proxy(proxy, files):
    """A proxy listener in front of the static one: ranges and validators pass through unchanged."""
    etag = ask(proxy, "/blob.bin").header("ETag")
    part = ask(proxy, "/blob.bin", [("Range", "bytes=100-199"), ("If-Range", etag)])
    check(part.status == 206 and part.body == files["blob.bin"][100:200] and
          part.header("Content-Range") == "bytes 100-199/%d" % len(files["blob.bin"]),
          "through the proxy: 206 with Content-Range, byte-exact", repr(part.headers))
    same = ask(proxy, "/blob.bin", [("If-None-Match", etag)])
    check(same.status == 304 and not same.body, "through the proxy: 304 with no body")
    check_equal(ask(proxy, "/blob.bin", [("Range", "bytes=%d-" % (1 << 20))]).status, 416, "through the proxy: 416")
    gz = ask(proxy, "/app.js", [("Accept-Encoding", "gzip")])
    check(gz.header("Content-Encoding") == "gzip" and gz.header("Vary") == "Accept-Encoding" and
          gzip.decompress(gz.body) == files["app.js"], "through the proxy: the gzip sibling with Vary")




def one_gib(proxyd, port, www):
    path = os.path.join(www, "huge.bin")
    with open(path, "wb") as f:
        f.truncate(GIB)  # sparse: no disk space, reads as zeros
        f.seek(GIB - 8)
        f.write(b"THE-END!")
    before = proc_status_kib(proxyd.proc.pid, "VmHWM")
    done = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "120", "-o", "/dev/null", "-w",
                           "%{http_code} %{size_download}", "http://127.0.0.1:%d/huge.bin" % port],
                          capture_output=True, timeout=150)
    after = proc_status_kib(proxyd.proc.pid, "VmHWM")
    check_equal(done.stdout.decode().strip(), "200 %d" % GIB, "1 GiB sparse file: 200 and every byte")
    tail = ask(port, "/huge.bin", [("Range", "bytes=-8")])
    check_equal(tail.body, b"THE-END!", "1 GiB file: the last 8 bytes by suffix range")
    note("1 GiB download: proxyd VmHWM %d KiB before, %d KiB after" % (before, after))
    check(after - before < 32 * 1024, "1 GiB download grows peak RSS by less than 32 MiB (got %d KiB)"
          % (after - before))
    os.remove(path)


FOLDER = None


def main():
    global FOLDER
    FOLDER = workdir("static")
    www, files = static_tree.build(FOLDER)
    proxyd, site, listing, strict, proxy, h2c = start(FOLDER, www)
    validators(site)
    dates(site, h2c, www)
    ranges(site, files)
    several_ranges(site, h2c, files)
    head_mirrors_get(site)
    precompressed(site, files)
    mime(site)
    directories(site, listing)
    safety(site, strict)
    cache_control(site)
    content_hash(strict)
    through_proxy(proxy, files)
    one_gib(proxyd, site, www)
    check_equal(proxyd.stop(), 0, "proxyd exits 0 on SIGTERM")


run_test(main)
