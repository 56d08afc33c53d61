#!/usr/bin/env python3
"""A chunked request with trailers, all in one write: the trailers arrive while proxyd is still
connecting upstream. They must neither disturb the forwarded head (the request view points into the
head's buffer; trailers once grew that buffer and left it dangling, a use-after-free ASan caught) nor
be forwarded as headers. The body arrives intact, re-chunked."""

import json

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, listener,
                            run_test, upstream, workdir, write_file)


def main():
    folder = workdir("trailers")
    backend = Backend(tag="echo")
    (front,) = free_ports(1)
    config = config_head(plugins=("round_robin",)) + upstream("echo", [backend.port]) + listener(
        "front", front, "upstream", "echo")
    proxyd = Proxyd(write_file(folder + "/trailers.toml", config), folder).start([front])

    # Enough trailer bytes to force any buffer holding the head to grow several times.
    trailers = b"".join(b"X-Trailer-%d: %s\r\n" % (i, b"v" * 200) for i in range(60))
    body_chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n" + trailers + b"\r\n"
    for attempt in range(3):
        client = Client(front)
        client.send(b"POST /with-trailers HTTP/1.1\r\nHost: trailers.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + body_chunks)
        response = client.read_response()
        check_equal(response.status, 200, "chunked request with trailers, attempt %d: status" % attempt)
        seen = json.loads(response.body)
        check_equal(seen["target"], "/with-trailers", "the forwarded request line is intact")
        check_equal(seen["body_length"], 11, "the body arrives whole")
        names = [name.lower() for name, _ in seen["headers"]]
        check("host" in names and "x-forwarded-for" in names, "the forwarded head is intact", str(names))
        check(not any(n.startswith("x-trailer") for n in names), "trailers are not forwarded as headers")
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
