#!/usr/bin/env python3
"""TLS under hostile input: an HTTPS listener (handshake_timeout 2 s, header_timeout 6 s) facing
clients that never make a proper handshake. What a user relies on:
- garbage bytes, a record header followed by garbage, an SSLv2-style hello (the old 2-byte
  record header), a ClientHello whose length claims 16 MB (128 KB of records sent), a ClientHello
  offering only TLS 1.0/1.1, one offering only weak TLS 1.2 ciphers: each is refused (the
  connection closes) or cut by handshake_timeout, never left open;
- a half handshake (a real ClientHello, then silence) and a real ClientHello swollen to ~100 KB
  by a padding extension are cut by handshake_timeout, not by the later header_timeout; a
  completed handshake followed by silence is not cut by handshake_timeout but by header_timeout,
  which starts when the handshake completes;
- 200 clients trickling their ClientHello a byte at a time are all cut by handshake_timeout,
  while a normal HTTPS client making request after request meanwhile is served every time (zero
  failures); proxyd's resident memory grows by less than 256 KB per trickling connection;
- after every case a normal client is served; each refusal and cut is logged at info, and
  nothing at warn (no log storm at warn level);
- TLS 1.2 client-initiated renegotiation (`openssl s_client -tls1_2`, then "R") is refused;
- 0-RTT: the session tickets proxyd issues allow no early data, a resumed client sends none, and
  early data sent on a ticket from another server is rejected and never served as a request.

Client sockets time out after 5 s; every process started (proxyd, openssl) is stopped by its PID."""

import os
import select
import socket
import ssl
import struct
import subprocess
import threading
import time

from proxyd_harness import (HOST, check, check_equal, config_head, free_ports, make_certificate, note, Proxyd,
                            proc_status_kib, read_until_close, run_test, static_handler, toml_str, workdir,
                            write_file)

HANDSHAKE_TIMEOUT = 2.0
HEADER_TIMEOUT = 6.0
TIMEOUT = 5.0
TRICKLERS = 200
CUT_SLACK = 2.5  # seconds beyond handshake_timeout a cut may take on a loaded machine



def client_hello(minimum=ssl.TLSVersion.TLSv1_2, maximum=ssl.TLSVersion.TLSv1_3, ciphers=None):
    """The bytes of a real ClientHello (made by Python's OpenSSL) for site.test."""
    ctx = ssl._create_unverified_context()
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    if ciphers:
        ctx.set_ciphers(ciphers)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="site.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def padded_client_hello(padding_bytes, extra_suites):
    """A real ClientHello swollen by a padding extension (RFC 7685) of padding_bytes zero bytes and
    extra_suites GREASE cipher suites (RFC 8701: values a server must ignore) in front of the real
    ones, split into records of at most 16 KB as a client must."""
    record = client_hello()
    assert record[0] == 0x16 and record[5] == 0x01
    body = bytearray(record[9:])  # the ClientHello message's body
    at = 2 + 32                   # legacy_version, random
    at += 1 + body[at]            # session id
    suites_length = struct.unpack(">H", body[at:at + 2])[0]
    grease = b"".join(bytes([0x0a + 16 * (i % 16)] * 2) for i in range(extra_suites))
    body[at:at + 2 + suites_length] = (struct.pack(">H", suites_length + len(grease)) + grease +
                                       body[at + 2:at + 2 + suites_length])
    at += 2 + suites_length + len(grease)
    at += 1 + body[at]            # compression methods
    # OpenSSL pads a hello of 256..511 bytes itself: that padding goes (an extension may appear once).
    extensions, rest = b"", bytes(body[at + 2:])
    while rest:
        kind, length = struct.unpack(">HH", rest[:4])
        if kind != 21:
            extensions += rest[:4 + length]
        rest = rest[4 + length:]
    # RFC 8446 wants pre_shared_key last; Python's hello carries none.
    extensions += struct.pack(">HH", 21, padding_bytes) + b"\0" * padding_bytes
    body[at:] = struct.pack(">H", len(extensions)) + extensions
    message = bytes([1]) + struct.pack(">I", len(body))[1:] + bytes(body)
    out = b""
    for i in range(0, len(message), 16384):
        piece = message[i:i + 16384]
        out += b"\x16\x03\x01" + struct.pack(">H", len(piece)) + piece
    return out


def sslv2_hello():
    """An SSLv2-format CLIENT-HELLO (2-byte record header with the high bit set) asking for TLS 1.2,
    as very old clients sent to find a server's version."""
    specs = bytes.fromhex("00002f" "000035" "00000a" "010080" "0700c0")  # three TLS, two SSLv2 suites
    challenge = os.urandom(16)
    body = bytes([1]) + b"\x03\x03" + struct.pack(">HHH", len(specs), 0, len(challenge)) + specs + challenge
    return struct.pack(">H", 0x8000 | len(body)) + body


def oversized_claim():
    """A handshake record whose ClientHello claims 16 MB, followed by 128 KB of records."""
    first = b"\x01\xff\xff\xff" + b"\0" * 16380
    out = b"\x16\x03\x01" + struct.pack(">H", len(first)) + first
    for _ in range(7):
        out += b"\x16\x03\x01\x40\x00" + b"\0" * 16384
    return out


def closed_after(sock, limit):
    """Seconds until the peer closed the connection (EOF or reset; what it sends is discarded),
    or None if it was still open after limit seconds."""
    started = time.monotonic()
    while True:
        left = limit - (time.monotonic() - started)
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started
        except socket.timeout:
            return None


def send_raw(port, data):
    """Sends data on a fresh connection (the server may close it midway); returns the socket."""
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return sock


def served(port, cafile):
    """One normal HTTPS request on its own connection: True when it got the page."""
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection((HOST, port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="site.test") as sock:
                sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
                data = read_until_close(sock)
        return data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"<h1>safe</h1>\n")
    except (OSError, ssl.SSLError) as error:
        note("normal client failed: %r" % error)
        return False




def refused_by_handshake(port, ctx):
    """True when the TLS handshake with ctx fails (the server refused it)."""
    try:
        with socket.create_connection((HOST, port), timeout=TIMEOUT) as raw:
            ctx.wrap_socket(raw, server_hostname="site.test").close()
        return False
    except (ssl.SSLError, ConnectionResetError):
        return True


def trickle_handshakes(port, hello, cafile):
    """TRICKLERS connections each sending hello one byte per round while a normal client makes
    requests. Returns (seconds from its connect to its cut, by trickler; normal attempts; normal
    failures; bytes of hello each trickler sent)."""
    socks, opened = [], []
    for _ in range(TRICKLERS):
        s = socket.create_connection((HOST, port), timeout=TIMEOUT)
        s.setblocking(False)
        socks.append(s)
        opened.append(time.monotonic())
    stop = threading.Event()
    normal = {"attempts": 0, "failures": 0}

    def normal_client():
        while not stop.is_set():
            normal["attempts"] += 1
            if not served(port, cafile):
                normal["failures"] += 1
            time.sleep(0.05)

    worker = threading.Thread(target=normal_client)
    worker.start()
    cut_after = {}
    sent = 0
    deadline = opened[-1] + HANDSHAKE_TIMEOUT + CUT_SLACK + 3
    try:
        while len(cut_after) < len(socks) and time.monotonic() < deadline:
            for i, s in enumerate(socks):
                if i in cut_after or sent >= len(hello):
                    continue
                try:
                    s.send(hello[sent:sent + 1])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    cut_after[i] = time.monotonic() - opened[i]
            sent += 1
            readable, _, _ = select.select([s for i, s in enumerate(socks) if i not in cut_after], [], [], 0.02)
            for s in readable:
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    i = socks.index(s)
                    cut_after[i] = time.monotonic() - opened[i]
    finally:
        stop.set()
        worker.join(timeout=30)
        for s in socks:
            s.close()
    return cut_after, normal["attempts"], normal["failures"], sent


def main():
    folder = workdir("tls-hostile")
    cert, key = make_certificate(folder, "site", ["site.test"])
    www = os.path.join(folder, "www")
    write_file(os.path.join(www, "index.html"), "<h1>safe</h1>\n")
    port, foreign_port = free_ports(2)
    config = (config_head(level="info") + static_handler("site", www) +
              "[[listeners]]\nname = \"https\"\nlisten = %s\nhandler = \"site\"\n"
              "tls = { certificate = %s, key = %s }\n"
              "limits = { handshake_timeout = \"%ds\", header_timeout = \"%ds\" }\n"
              % (toml_str("%s:%d" % (HOST, port)), toml_str(cert), toml_str(key), HANDSHAKE_TIMEOUT,
                 HEADER_TIMEOUT))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder)
    proxyd.start([port])
    check(served(port, cert), "a normal client is served before the hostile ones")
    failures = 0

    # Refused at once or cut by handshake_timeout, whichever the input earns; a well-formed start
    # (cut True) is answered and then cut by handshake_timeout, not by the later header_timeout.
    cases = [
        ("garbage bytes", os.urandom(3000), False),
        ("a handshake record header then garbage", b"\x16\x03\x01\x01\x00" + os.urandom(256), False),
        ("an SSLv2-style hello", sslv2_hello(), False),
        ("a ClientHello claiming 16 MB (128 KB sent)", oversized_claim(), False),
        ("a half handshake (ClientHello, then silence)", client_hello(), True),
        ("a ClientHello of ~100 KB (padding, GREASE suites), then silence", padded_client_hello(60000, 20000),
         True),
    ]
    for name, data, cut in cases:
        sock = send_raw(port, data)
        waited = closed_after(sock, HANDSHAKE_TIMEOUT + CUT_SLACK)
        sock.close()
        note("%s: closed after %s s" % (name, "%.2f" % waited if waited is not None else "never"))
        check(waited is not None, "%s: refused or cut within handshake_timeout (%.0f s) plus %.1f s"
              % (name, HANDSHAKE_TIMEOUT, CUT_SLACK))
        if cut:
            check(waited >= HANDSHAKE_TIMEOUT - 0.3, "%s: cut by handshake_timeout" % name)
        if not served(port, cert):
            failures += 1

    old = ssl._create_unverified_context()
    old.minimum_version, old.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    check(refused_by_handshake(port, old), "a ClientHello offering only TLS 1.0 and 1.1 is refused")
    weak = ssl._create_unverified_context()
    weak.minimum_version = weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA:DES-CBC3-SHA:RC4-SHA:@SECLEVEL=0")
    check(refused_by_handshake(port, weak), "a ClientHello offering only weak TLS 1.2 ciphers (RSA key "
          "exchange, CBC, 3DES, RC4) is refused")
    for _ in range(2):
        if not served(port, cert):
            failures += 1

    # A completed handshake hands over to header_timeout: not cut at handshake_timeout.
    ctx = ssl.create_default_context(cafile=cert)
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    quiet = ctx.wrap_socket(raw, server_hostname="site.test")
    handshake_done = time.monotonic()
    check(closed_after(quiet, HANDSHAKE_TIMEOUT + 1.5) is None,
          "a client silent after its handshake is still connected after handshake_timeout")
    more = closed_after(quiet, HEADER_TIMEOUT + CUT_SLACK)
    total = time.monotonic() - handshake_done
    quiet.close()
    check(more is not None and HEADER_TIMEOUT - 0.5 <= total,
          "it is closed by header_timeout (%.0f s) counted from the handshake (closed after %.2f s)"
          % (HEADER_TIMEOUT, total))

    # Many slow handshakes at once; a normal client is served all along.
    rss_before = proc_status_kib(proxyd.proc.pid, "VmRSS")
    peak = {"rss": rss_before}
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak["rss"] = max(peak["rss"], proc_status_kib(proxyd.proc.pid, "VmRSS"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        cut_after, attempts, normal_failures, sent = trickle_handshakes(port, client_hello(), cert)
    finally:
        sampling.set()
        sampler.join(timeout=10)
    note("%d trickling handshakes: %d cut (after %.2f..%.2f s, %d bytes each sent); normal client: %d "
         "requests, %d failed; RSS %d KB before, peak %d KB"
         % (TRICKLERS, len(cut_after), min(cut_after.values(), default=0), max(cut_after.values(), default=0),
            sent, attempts, normal_failures, rss_before, peak["rss"]))
    check_equal(len(cut_after), TRICKLERS, "trickling handshakes cut by handshake_timeout")
    check(min(cut_after.values()) >= HANDSHAKE_TIMEOUT - 0.5, "no trickling handshake was cut before its time")
    check(attempts >= 5, "the normal client made requests while the handshakes trickled (%d)" % attempts)
    failures += normal_failures
    growth = peak["rss"] - rss_before
    check(growth < TRICKLERS * 256, "memory bounded: RSS grew %d KB for %d slow handshakes" % (growth, TRICKLERS))

    # Renegotiation initiated by a TLS 1.2 client is refused.
    session = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-connect", "%s:%d" % (HOST, port),
                                "-servername", "site.test"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        session.stdin.write(b"R\n")
        session.stdin.flush()
        time.sleep(1.0)
        session.stdin.write(b"GET /index.html HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
        session.stdin.flush()
        out = session.communicate(timeout=15)[0].decode("utf-8", "replace")
    except (BrokenPipeError, subprocess.TimeoutExpired):
        session.kill()
        out = session.communicate(timeout=10)[0].decode("utf-8", "replace")
    check("RENEGOTIATING" in out, "s_client asked to renegotiate", out[-400:])
    check("no renegotiation" in out and "<h1>safe</h1>" not in out,
          "the renegotiation is refused (no_renegotiation) and nothing is served after it", out[-600:])

    # 0-RTT: proxyd's tickets allow none; early data on another server's ticket is rejected.
    early = write_file(os.path.join(folder, "early.txt"), b"GET /early HTTP/1.1\r\nHost: site.test\r\n\r\n")

    def s_client(target_port, *extra):
        proc = subprocess.Popen(["openssl", "s_client", "-tls1_3", "-connect", "%s:%d" % (HOST, target_port),
                                 "-servername", "site.test"] + list(extra),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            time.sleep(1.5)  # the tickets arrive after the handshake
            return proc.communicate(b"", timeout=15)[0].decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.communicate(timeout=10)[0].decode("utf-8", "replace")

    own = os.path.join(folder, "own.sess")
    out = s_client(port, "-sess_out", own)
    check("Max Early Data: 0" in out and "Max Early Data: 1" not in out,
          "proxyd's session tickets allow no early data", out[-800:])
    out = s_client(port, "-sess_in", own, "-early_data", early)
    check("Reused" in out and "Early data was not sent" in out, "a resumed client sends no early data",
          out[-800:])
    server = subprocess.Popen(["openssl", "s_server", "-accept", "%s:%d" % (HOST, foreign_port), "-cert", cert,
                               "-key", key, "-early_data", "-quiet"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    foreign = os.path.join(folder, "foreign.sess")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, foreign_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        out = s_client(foreign_port, "-sess_out", foreign)
    finally:
        server.kill()
        server.wait(timeout=10)
    check("Max Early Data: 16384" in out, "a ticket allowing early data came from openssl s_server", out[-600:])
    out = s_client(port, "-sess_in", foreign, "-early_data", early)
    check("Early data was rejected" in out, "early data sent to proxyd is rejected", out[-800:])

    check_equal(failures, 0, "normal clients that failed between the hostile cases")
    check(served(port, cert), "a normal client is served after everything")
    check(proxyd.alive(), "proxyd still running")
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")
    log = proxyd.stderr_text()
    check(" /early " not in log, "the early data was never served as a request")
    timeouts = log.count("TLS handshake not completed within handshake_timeout")
    refusals = log.count(": TLS: the TLS handshake failed")
    note("log: %d handshake timeouts, %d refused handshakes at info" % (timeouts, refusals))
    check(timeouts >= TRICKLERS + 2, "each cut handshake is logged at info (%d)" % timeouts)
    check(refusals >= 4, "refused handshakes are logged at info (%d)" % refusals)
    warnings = [line for line in log.splitlines() if "[warn]" in line or "[error]" in line]
    check_equal(warnings, [], "lines at warn or error")


run_test(main)
