#!/usr/bin/env python3
"""HTTP/2 and Expect: 100-continue (RFC 9110 §10.1.1, RFC 9113 §8.1): a client that sends its
request HEADERS with expect: 100-continue and without END_STREAM gets a HEADERS frame with
:status 100 (not ending the stream) before it sends its DATA, then the final response:
- proxied: the upstream's 100 is relayed; the backend got the whole body;
- a content plugin that reads the body (tests/loader/content_async.c, /echo): proxyd sends the
  100 itself; a Content-Length over the plugin's max_body is answered 413 with no 100 before it;
- an upstream's 100 that the client did not ask for, and a 102, go on as HEADERS before the
  final head (RFC 9110 §15.2: a proxy forwards 1xx it did not ask for);
- curl --http2-prior-knowledge -H 'Expect: 100-continue' uploads through proxyd and its headers
  show the HTTP/2 100 (so it did not wait out its own expect timeout)."""

import json
import os

from h2_frames import END_STREAM, HEADERS, H2Client, Target, h2
from h2_setup import h2_listener, require_http2
from proxyd_harness import (Backend, Proxyd, Reader, TestFailure, TestSkip, check, check_equal, config_head,
                            curl, free_ports, read_file, run_test, toml_str, upstream, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_async.so")
WAIT = 2.0  # how long a client waits for the 100 here (curl waits 1 s, then sends anyway)


def continue_backend(conn, conn_id):
    """Answers 100 to Expect: 100-continue (and to /unasked even without it; 102 to /processing),
    then echoes."""
    reader = Reader(conn)
    while True:
        start, headers = reader.read_head()
        names = {n.lower(): v for n, v in headers}
        target = start.split(" ")[1]
        if names.get("expect", "").lower() == "100-continue" or target == "/unasked":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if target == "/processing":
            conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        body = reader.read_exact(int(names.get("content-length", "0")))
        answer = json.dumps({"target": target, "bytes": len(body), "body": body[:64].decode("latin-1"),
                             "expect": names.get("expect")}).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % len(answer) + answer)


def post(client, path, body, expect=True, length=None):
    """HEADERS without END_STREAM; with expect, the body waits for the 100 (WAIT at most)."""
    extra = [("content-length", str(len(body) if length is None else length))]
    if expect:
        extra.append(("expect", "100-continue"))
    stream_id = client.request(path=path, method="POST", extra=extra, end_stream=False)
    if expect:
        client.wait(lambda: client.status(stream_id) is not None or client.response_done(stream_id),
                    "a head for %s before its body" % path, timeout=WAIT)
    if client.status(stream_id) in (None, 100) and not client.response_done(stream_id):
        client.h2.send_data(stream_id, body, end_stream=True)
        client.flush()
    client.wait(lambda: client.response_done(stream_id), "the final response to %s" % path)
    return stream_id


def statuses(client, stream_id):
    return [dict(head).get(":status") for head in client.heads.get(stream_id, [])]


def first_headers_ended(client, stream_id):
    first = next(f for f in client.frames if f.kind == HEADERS and f.stream_id == stream_id)
    return bool(first.flags & END_STREAM)


def main():
    if h2 is None:
        raise TestSkip("python3-h2 is not installed (packaging/build-deps.sh --test)")
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("h2-continue")
    backend = Backend(raw=continue_backend, tag="continue")
    proxied_port, content_port = free_ports(2)
    config = (config_head(access="off", plugins=("round_robin",))
              .replace("[plugins]\n", "[plugins]\nasync = %s\n" % toml_str(PLUGIN))
              + '[handlers.async]\nplugin = "async"\n\n'
              + upstream("app", [backend.port])
              + h2_listener("proxied", proxied_port, "upstream", "app")
              + h2_listener("content", content_port, "handler", "async"))
    config_path = write_file(os.path.join(folder, "continue.toml"), config)
    require_http2(config_path)
    proxyd = Proxyd(config_path, folder, tag="continue").start([proxied_port, content_port])

    c = H2Client(Target("127.0.0.1", proxied_port))
    upload = post(c, "/upload", b"hello world")
    check_equal(statuses(c, upload), ["100", "200"], "proxied: the upstream's 100 comes as HEADERS, then the 200")
    check(not first_headers_ended(c, upload), "proxied: the 100's HEADERS does not end the stream")
    seen = json.loads(c.data.get(upload, b"{}"))
    check_equal((seen.get("body"), seen.get("expect")), ("hello world", "100-continue"),
                "proxied: the backend got the Expect and the whole body sent after the 100")
    unasked = post(c, "/unasked", b"no expectation", expect=False)
    check_equal(statuses(c, unasked), ["100", "200"], "proxied: a 100 the client did not ask for goes on too")
    processing = post(c, "/processing", b"slow work", expect=False)
    check_equal(statuses(c, processing), ["102", "200"], "proxied: a 102 goes on before the final head")
    c.close()

    c = H2Client(Target("127.0.0.1", content_port))
    echo = post(c, "/echo", b"ping")
    check_equal(statuses(c, echo), ["100", "200"], "content: proxyd's own 100 before the body, then the 200")
    check(not first_headers_ended(c, echo), "content: the 100's HEADERS does not end the stream")
    check_equal(c.data.get(echo), b"echo 4: ping", "content: the plugin read the body sent after the 100")
    big = post(c, "/echo", b"", length=70000)
    check_equal(statuses(c, big), ["413"], "content: a length over max_body gets 413 first, never a 100")
    c.close()

    body_path = write_file(os.path.join(folder, "upload.bin"), b"u" * 20000)
    status, _, body = curl("http://127.0.0.1:%d/curl-upload" % proxied_port, folder, "--http2-prior-knowledge",
                           "-H", "Expect: 100-continue", "--data-binary", "@" + body_path)
    check_equal(status, 200, "curl --http2: the upload completes")
    check_equal(json.loads(body)["bytes"], 20000, "curl --http2: the backend got the whole body")
    heads = read_file(os.path.join(folder, "curl.head")).decode("latin-1")
    check(heads.startswith("HTTP/2 100"), "curl --http2: the 100 came before the final head", heads[:200])
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
