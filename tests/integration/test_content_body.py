#!/usr/bin/env python3
"""Request bodies for content plugins (ABI 1.1 max_body): tests/loader/content_async.c sets max_body
to 65536 and echoes what request_body returns on /echo. The core reads the whole body (Content-Length
or chunked, after a 100 Continue when the client asked for one) before calling handle; a body over
max_body is answered 413 without reaching the plugin; a request without a body gets PROXYD_ENOENT;
the connection stays usable. ABI 1.0 content plugins keep answering at the head
(test_content_orphans.py)."""

import os

from proxyd_harness import (Client, Proxyd, TestFailure, build_request, check, check_equal, chunked, config_head,
                            free_ports, listener, run_test, toml_str, workdir, write_file)

PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_async.so")
MAX_BODY = 65536


def start(folder):
    port, strict = free_ports(2)
    config = (config_head(plugins=()).replace("[plugins]\n", "[plugins]\nasync = %s\n" % toml_str(PLUGIN))
              + '[handlers.async]\nplugin = "async"\n\n'
              + listener("front", port, "handler", "async")
              + listener("strict", strict, "handler", "async").rstrip("\n") + "\nlimits = { max_body_size = 1000 }\n\n")
    path = write_file(os.path.join(folder, "body.toml"), config)
    return Proxyd(path, folder, tag="body").start([port, strict]), port, strict


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("content-body")
    proxyd, port, strict = start(folder)
    body = bytes(range(256)) * 200  # 51200 bytes, binary
    with Client(port) as client:
        response = client.request("POST", "/echo", body=b"hello")
        check_equal(response.body, b"echo 5: hello", "a Content-Length body reaches the plugin")
        response = client.request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")],
                                  body=chunked(body, piece=7000))
        check_equal(response.status, 200, "a chunked body of %d bytes" % len(body))
        check(response.body == b"echo %d: " % len(body) + body, "reaches the plugin whole and decoded")
        response = client.request("GET", "/echo")
        check_equal(response.body, b"echo: no body", "a request without a body: request_body says ENOENT")
        response = client.request("POST", "/echo", body=b"x" * MAX_BODY)
        check_equal(response.body[:12], b"echo 65536: ", "a body of exactly max_body is read")

    with Client(port) as client:
        client.send(build_request("POST", "/echo", [("Expect", "100-continue"), ("Content-Length", "4")]))
        interim = client.read_response()
        check_equal(interim.status, 100, "Expect: 100-continue gets 100 Continue before the body")
        client.send(b"ping")
        check_equal(client.read_response().body, b"echo 4: ping", "then the body is echoed")

    with Client(port) as client:
        response = client.request("POST", "/echo", body=b"x" * (MAX_BODY + 1))
        check_equal(response.status, 413, "a Content-Length over max_body is refused at once")
        check("close" in response.connection_tokens(), "and the connection closes")
    with Client(port) as client:
        client.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked")]))
        client.send(chunked(b"y" * (MAX_BODY + 10), piece=8192))
        response = client.read_response()
        check_equal(response.status, 413, "a chunked body over max_body is refused")
    with Client(strict) as client:
        response = client.request("POST", "/echo", body=b"z" * 2000)
        check_equal(response.status, 413, "the listener's smaller max_body_bytes wins")
    with Client(port) as client:
        check_equal(client.request("GET", "/hello").body, b"hello /hello\n", "proxyd serves on")
    check("plugin async: cancelled" not in proxyd.stderr_text(), "no refused body reached the plugin")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
