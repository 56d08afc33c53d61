#!/usr/bin/env python3
"""An answer given before the request's body has been read (proxyd's 404, a static handler's 405
at the head, a filter's 401): the rest of the body is read and dropped after it and the
connection serves the next request, as nginx does, when the body is within the discard limit
(the listener's max_body_size, else 1 MiB). Over it, the answer says `Connection: close` and
proxyd closes the connection after it, so a client never sends its next request into a
connection being closed; and whatever an answer says, proxyd does: a keep-alive answer's
connection serves the next request, a closing one ends cleanly (EOF, no reset). The limit holds
while the answer is still going out too (a large file the client reads slowly): past it proxyd
stops reading, the answer still arrives whole, and the connection closes after it; the same for
a proxied answer whose origin closed its connection after it, the rest of the body going nowhere.
What proxyd read is counted by its own received-bytes counter (/status.json): what the client's
sends took also fills the kernel's socket buffers, which the kernel sizes (up to tcp_rmem's
maximum, 32 MiB on some machines), not proxyd. Raw sockets."""

import fcntl
import json
import os
import socket
import struct
import termios
import time

from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, read_head,
                            run_test, toml_str, upstream, wait_for, workdir, write_file)

BODY_LENGTH = 100000
OVER_LIMIT = 2 << 20  # past the 1 MiB proxyd reads and drops
LARGE_FILE = 8 << 20  # an answer that lasts while the client pushes its body
PUSHED = 64 << 20     # what a client tries to push into it
PROXIED_ANSWER = 4 << 20  # an origin's, which proxyd's socket buffers take whole before it closes
DISCARD_LIMIT = 1 << 20  # proxyd's, without max_body_size
READ_SLACK = 256 << 10   # past the limit: the read that crossed it, and the write queue's high water


def kernel_limit(name):
    """The largest buffer TCP autotuning may give a socket, from /proc/sys/net/ipv4/<name>."""
    with open("/proc/sys/net/ipv4/" + name) as f:
        return int(f.read().split()[2])


def early_origin(conn, conn_id):
    """Answers at the head with PROXIED_ANSWER bytes and closes, reading no more of the body."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # what it holds unread stays small
    if read_head(conn) is None:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % PROXIED_ANSWER
                 + b"L" * PROXIED_ANSWER)
    # The close waits until proxyd's kernel has the whole answer (nothing unacknowledged), so
    # that the reset it may cause loses none of it; proxyd's next write to it then fails.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and struct.unpack("i", fcntl.ioctl(conn, termios.TIOCOUTQ, b"\0" * 4))[0]:
        time.sleep(0.01)


def start(folder):
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "files", "index.html"), "<!DOCTYPE html><title>files</title>\n")
    with open(os.path.join(root, "files", "large.bin"), "wb") as large:
        large.write(b"L" * LARGE_FILE)
    port, admin = free_ports(2)
    origin = Backend(raw=early_origin, tag="early-origin")
    config = (config_head(plugins=None)
              + upstream("early", [origin.port])
              + "[handlers.files]\nplugin = \"static\"\nroot = %s\n\n" % toml_str(root)
              + "[filters.gate]\nplugin = \"auth\"\ntokens = [\"token-of-the-early-answer-test\"]\n\n"
              + "[handlers.guarded]\nplugin = \"static\"\nroot = %s\nfilters = [\"gate\"]\n\n" % toml_str(root)
              + "[routers.site]\nplugin = \"prefix\"\nroutes = [{ prefix = \"/files/\", handler = \"files\" },"
                " { prefix = \"/guarded/\", handler = \"guarded\" }, { prefix = \"/proxied/\", upstream = \"early\" }]\n\n"
              + "[[listeners]]\nname = \"front\"\nlisten = \"127.0.0.1:%d\"\nrouter = \"site\"\n\n" % port
              + "[admin]\nlisten = \"127.0.0.1:%d\"\n" % admin)
    path = write_file(os.path.join(folder, "early.toml"), config)
    return Proxyd(path, folder, tag="early").start([port, admin]), port, admin


def front_listener(admin):
    """The listener "front" in proxyd's /status.json."""
    with Client(admin, timeout=5) as client:
        response = client.request("GET", "/status.json", [("Connection", "close")])
    check_equal(response.status, 200, "GET /status.json")
    (front,) = [listener for listener in json.loads(response.body)["listeners"] if listener["name"] == "front"]
    return front


def bytes_read(admin):
    """What proxyd read from the clients of the listener "front", from its own counter."""
    return front_listener(admin)["bytes"]["received"]


def bytes_read_when_still(admin):
    """The counter once it stopped moving (proxyd may still be reading what the sends left in
    its socket buffer when they stalled)."""
    last, deadline = bytes_read(admin), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = bytes_read(admin)
        if now == last:
            break
        last = now
    return last


def bytes_read_when_idle(admin):
    """The same once no connection of "front" is open: a closed connection's linger goes on
    reading (and dropping) what its client had sent, and must not count against the next one."""
    wait_for("the earlier connections closed within 10 s", lambda: front_listener(admin)["connections"]["open"] == 0,
             timeout=10, poll=0.05)
    return bytes_read(admin)


def post_head(target, length, headers=b""):
    return b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" % (target.encode(), headers, length)


def ends_cleanly(client, within=3.0):
    """The connection ends with an EOF (a reset would lose what was sent before it)."""
    client.sock.settimeout(within)
    try:
        while client.sock.recv(65536):
            pass
        return "eof"
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "reset"


def answered_before_body(port, target, status, what, headers=b""):
    """The body's rest, sent after the answer, is read and dropped; the next request is served."""
    with Client(port, timeout=5) as client:
        client.send(post_head(target, BODY_LENGTH, headers) + b"x" * 1000)
        response = client.read_response()
        check_equal(response.status, status, "%s: answered at the head" % what)
        check("close" not in response.connection_tokens(),
              "%s: the answer keeps the connection (the body is to be dropped)" % what, str(response.headers))
        client.send(b"y" * (BODY_LENGTH - 1000))
        following = client.request("GET", "/files/index.html")
        check_equal(following.status, 200, "%s: the rest of the body dropped, the next request served" % what)


def answered_before_large_body(port, target, status, what, headers=b""):
    with Client(port, timeout=5) as client:
        client.send(post_head(target, OVER_LIMIT, headers) + b"x" * 1000)
        response = client.read_response()
        check_equal(response.status, status, "%s: answered at the head" % what)
        check("close" in response.connection_tokens(),
              "%s: the answer says Connection: close (the body is unread)" % what, str(response.headers))
        check_equal(ends_cleanly(client), "eof", "%s: then the connection ends with an EOF" % what)


def keeps_its_word(port, head_and_body, what):
    """Whatever the answer says about the connection, proxyd does it."""
    with Client(port, timeout=5) as client:
        client.send(head_and_body)
        response = client.read_response()
        if "close" in response.connection_tokens():
            check_equal(ends_cleanly(client), "eof", "%s: said close, and closed (EOF)" % what)
            return
        following = client.request("GET", "/files/index.html")
        check_equal(following.status, 200, "%s: said keep-alive, and served the next request" % what)


def whole_body_keeps_alive(port, target, status, what):
    """A body that arrives with its head (one segment) is read to its end after the answer: the
    connection stays open, as it did before answers began to say close, and serves the next
    request."""
    with Client(port, timeout=5) as client:
        client.send(post_head(target, 10) + b"0123456789")
        response = client.read_response()
        check_equal(response.status, status, "%s: answered" % what)
        check("close" not in response.connection_tokens(),
              "%s: the answer keeps the connection (the body came whole)" % what, str(response.headers))
        following = client.request("GET", "/files/index.html")
        check_equal(following.status, 200, "%s: and the connection serves the next request" % what)


def push(sock, data, seconds, stalled=1.5):
    """Sends as much of data as the connection takes within seconds, giving up once it took
    nothing for `stalled` seconds: the bytes taken. (A stall is proxyd no longer reading, or a
    loaded machine not running it: long enough not to take the second for the first.)"""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    sent, deadline = 0, time.monotonic() + seconds
    progress = time.monotonic()
    while sent < len(data) and time.monotonic() < deadline and time.monotonic() - progress < stalled:
        try:
            sent += sock.send(data[sent:sent + 65536])
            progress = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
    sock.settimeout(timeout)
    return sent


def body_during_long_answer(port, admin, chunked, target="/files/large.bin", size=LARGE_FILE):
    """A static file answered at the head of a GET whose body then keeps coming, the client not
    reading the answer: proxyd reads and drops at most the discard limit, then stops reading (the
    client's sends block), the file still arrives whole, and the connection ends. Chunked (the
    answer meant to keep the connection) or with a Content-Length over the limit (the answer
    closes it). Proxied, what proxyd forwarded before the origin's close is read too: at most the
    socket buffers towards the origin (the kernel's tcp_wmem maximum and the origin's receive
    buffer) and proxyd's write queue."""
    what = ("chunked" if chunked else "Content-Length") + (" (proxied)" if "proxied" in target else "")
    bound = DISCARD_LIMIT + READ_SLACK
    if "proxied" in target:
        bound += kernel_limit("tcp_wmem") + 2 * 65536 + READ_SLACK
    read_before = bytes_read_when_idle(admin)
    with Client(port, timeout=10, rcvbuf=16384) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % PUSHED
        head = b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n" % (target.encode(), framing)
        client.send(head)
        piece = b"z" * 65536
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        taken = push(client.sock, chunk * (PUSHED // len(chunk)), 3.0)
        read = bytes_read_when_still(admin) - read_before - len(head)
        print("     a client pushing a %s body into an %d MiB answer: %.1f MiB taken, %.1f MiB of it read by"
              " proxyd (at most %.1f), the rest in socket buffers" % (what, size >> 20, taken / 2**20, read / 2**20,
                                                                     bound / 2**20))
        # Over the limit: proxyd stops at the read that crossed it (and the counter counts).
        check(DISCARD_LIMIT < read <= bound, "%s: proxyd stops reading a body it drops past the 1 MiB limit" % what,
              "%d bytes read, %d taken" % (read, taken))
        response = client.read_response()
        check_equal(response.status, 200, "%s: the file's answer" % what)
        check_equal(len(response.body), size, "%s: the whole answer arrived" % what)
        # The close's linger then reads and drops what the socket buffers held, so that the
        # client's unread bytes do not turn the close into a reset.
        check_equal(ends_cleanly(client, within=5.0), "eof", "%s: then the connection ends with an EOF" % what)


def body_ends_during_long_answer(port):
    """The body's rest, within the limit, arrives while the file still goes out: the next request
    waits for the answer's end and is served on the same connection."""
    with Client(port, timeout=10, rcvbuf=16384) as client:
        client.send(b"GET /files/large.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        client.receive_some()  # the answer began
        client.send(b"b" * 1000)
        time.sleep(0.2)  # the body's end is parsed while the file is still on its way
        response = client.read_response()
        check_equal(response.status, 200, "the file's answer")
        check_equal(len(response.body), LARGE_FILE, "the whole file arrived")
        check_equal(client.request("GET", "/files/index.html").status, 200,
                    "the connection serves the next request after the answer")


def main():
    folder = workdir("early-answer-close")
    proxyd, port, admin = start(folder)
    answered_before_body(port, "/missing", 404, "a 404 to a POST with 100000 body bytes to come")
    answered_before_body(port, "/files/index.html", 405, "a static handler's 405 to such a POST")
    answered_before_body(port, "/guarded/x", 401, "a filter's 401 to such a POST")
    answered_before_large_body(port, "/missing", 404, "a 404 to a POST with 2 MiB to come")
    answered_before_large_body(port, "/files/index.html", 405, "a static handler's 405 to such a POST")
    answered_before_large_body(port, "/guarded/x", 401, "a filter's 401 to such a POST")
    answered_before_large_body(port, "/missing", 404, "a 404 to a POST waiting for 100 Continue",
                               headers=b"Expect: 100-continue\r\n")
    whole_body_keeps_alive(port, "/missing", 404, "a 404 to a POST with its whole body")
    whole_body_keeps_alive(port, "/files/index.html", 405, "a static handler's 405 to a POST with its whole body")
    whole_body_keeps_alive(port, "/guarded/x", 401, "a filter's 401 to a POST with its whole body")
    keeps_its_word(port, b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", "a 404 to a GET")
    body_during_long_answer(port, admin, chunked=True)
    body_during_long_answer(port, admin, chunked=False)
    # An origin that answered at the head and closed: the body proxyd can no longer forward is
    # dropped under the same limit while the answer still goes out.
    body_during_long_answer(port, admin, chunked=True, target="/proxied/large", size=PROXIED_ANSWER)
    body_ends_during_long_answer(port)
    with Client(port, timeout=5) as client:
        first = client.request("GET", "/missing")
        check("close" not in first.connection_tokens(), "a bodiless request's 404 keeps the connection")
        check_equal(client.request("GET", "/files/index.html").status, 200, "which serves the next request")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
