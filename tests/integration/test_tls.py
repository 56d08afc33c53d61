#!/usr/bin/env python3
"""HTTPS listeners: proxyd terminates TLS itself (OpenSSL 3 over memory BIOs).

Certificates are made for the test with the openssl command (ECDSA P-256, self-signed): one for
site.test (the listener's default) and one for *.wild.test. What a client relies on:
- a static file over HTTPS, twice on one kept-alive connection, TLS 1.3, ALPN http/1.1 when the
  client offers h2 and http/1.1 (and http/1.0 to a client that offers only it, as nginx); a 3 MB file arrives intact (sendfile cannot encrypt, so the
  file goes through the TLS write path), also pipelined before a small file and a HEAD and read
  late, each response whole and in order;
- a proxied request reaches the backend over cleartext with X-Forwarded-Proto: https and a
  Forwarded proto=https;
- SNI: a.wild.test gets the wildcard certificate, site.test and an unknown name the default one;
- curl, a real client, verifies the chain and gets HTTP/1.1 200;
- TLS 1.3 suites in the server's order, Mozilla intermediate's by default (AES-128-GCM before
  AES-256-GCM, what browsers offer first), except ChaCha20 for a client that puts it first; a
  listener's `ciphersuites` replaces the order;
- refused and safe: a TLS 1.1 client, plaintext HTTP sent to the HTTPS port (closed, no crash,
  the next HTTPS client served), a client that connects and never starts the handshake (closed
  after handshake_timeout);
- `proxyd -t` refuses a key that does not match its certificate, naming the key file.

Client sockets time out after 5 s; every process is stopped by PID."""

import hashlib
import os
import random
import socket
import ssl
import subprocess
import time

from proxyd_harness import (HOST, PROXYD_BIN, Backend, check, check_equal, config_head, free_ports, make_certificate,
                            Proxyd, run_test, static_handler, TestFailure, toml_str, upgrade_raw, upstream, workdir,
                            read_until_close, write_file)

TIMEOUT = 5.0


def tls_listener(name, port, target_kind, target, certificates, extra="", tls_keys=""):
    certs = ", ".join("{ certificate = %s, key = %s }" % (toml_str(c), toml_str(k)) for c, k in certificates)
    return ("[[listeners]]\nname = %s\nlisten = %s\n%s = %s\ntls = { certificates = [%s]%s }\n%s\n" %
            (toml_str(name), toml_str("%s:%d" % (HOST, port)), target_kind, toml_str(target), certs, tls_keys,
             extra))


def client_context(cafile=None, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def connect(port, ctx, server_name):
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    return ctx.wrap_socket(raw, server_hostname=server_name)


def negotiated_suite(port, offered):
    """The TLS 1.3 cipher suite `openssl s_client` gets when it offers `offered`, in its order."""
    out = subprocess.run(["openssl", "s_client", "-tls1_3", "-ciphersuites", offered, "-connect",
                          "%s:%d" % (HOST, port), "-servername", "site.test"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=15).stdout
    for line in out.splitlines():
        if ", Cipher is " in line:
            return line.split(", Cipher is ")[1].strip()
    return "no handshake: " + out[-300:]


def read_response(sock):
    """Reads one Content-Length response; returns (status, headers dict, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise TestFailure("connection closed before a response head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise TestFailure("connection closed %d bytes into a %d-byte body" % (len(body), length))
        body += chunk
    return status, headers, body


class PipelinedReader:
    """Responses read one after another from one connection (Content-Length framing)."""

    def __init__(self, sock):
        self.sock, self.data = sock, b""

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise TestFailure("connection closed mid-response")
        self.data += chunk

    def response(self, head_only=False):
        """(status, body) of the next response; head_only for the answer to a HEAD."""
        while b"\r\n\r\n" not in self.data:
            self._fill()
        head, self.data = self.data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, value = line.split(":", 1)
            if name.strip().lower() == "content-length":
                length = int(value)
        length = 0 if head_only else length
        while len(self.data) < length:
            self._fill()
        body, self.data = self.data[:length], self.data[length:]
        status = int(lines[0].split(" ")[1])
        return status, body


def get(sock, path, host="site.test"):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    return read_response(sock)


def closed_within(sock, seconds):
    """True when the peer closes (EOF or reset) within seconds; reading discards what comes."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False
    return False


def main():
    folder = workdir("tls")
    site = make_certificate(folder, "site", ["site.test"])
    wild = make_certificate(folder, "wild", ["*.wild.test"])
    www = os.path.join(folder, "www")
    write_file(os.path.join(www, "index.html"), "<h1>over TLS</h1>\n")
    big = os.urandom(3 * 1024 * 1024)
    write_file(os.path.join(www, "big.bin"), big)
    backend = Backend()
    upgrading = Backend(raw=upgrade_raw)
    static_port, proxy_port, upgrade_port = free_ports(3)
    config = (config_head() + static_handler("site", www) + upstream("app", [backend.port]) +
              tls_listener("https-static", static_port, "handler", "site", [site, wild],
                           "[listeners.limits]\nhandshake_timeout = \"1s\"\n") +
              tls_listener("https-proxy", proxy_port, "upstream", "app", [site],
                           tls_keys=", ciphersuites = \"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256\"") +
              upstream("upgrading", [upgrading.port]) +
              tls_listener("https-upgrade", upgrade_port, "upstream", "upgrading", [site]))
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    proxyd = Proxyd(config_path, folder)
    proxyd.start([static_port, proxy_port, upgrade_port])

    # A static file twice on one connection, TLS 1.3, ALPN.
    sock = connect(static_port, client_context(site[0], alpn=("h2", "http/1.1")), "site.test")
    check_equal(sock.version(), "TLSv1.3", "protocol version")
    check_equal(sock.selected_alpn_protocol(), "http/1.1", "ALPN choice when h2 and http/1.1 are offered")
    # A client that offers only http/1.0 (curl --http1.0) is served, as nginx serves it, not
    # refused with no_application_protocol.
    old = connect(static_port, client_context(site[0], alpn=("http/1.0",)), "site.test")
    check_equal(old.selected_alpn_protocol(), "http/1.0", "ALPN http/1.0 when only it is offered")
    old.sendall(b"GET /index.html HTTP/1.0\r\nHost: site.test\r\n\r\n")
    answer = read_until_close(old)
    check(answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"<h1>over TLS</h1>\n"),
          "an HTTP/1.0 request over ALPN http/1.0 is answered", answer[:80])
    old.close()
    for attempt in (1, 2):
        status, headers, body = get(sock, "/index.html")
        check_equal(status, 200, "static file over HTTPS, request %d" % attempt)
        check_equal(body, b"<h1>over TLS</h1>\n", "static body, request %d" % attempt)
    status, headers, body = get(sock, "/big.bin")
    check_equal(status, 200, "3 MB file over HTTPS")
    check_equal(hashlib.sha256(body).hexdigest(), hashlib.sha256(big).hexdigest(), "3 MB file's bytes")
    sock.close()

    # Pipelined and read late: the big file fills the socket, so the small file's response waits
    # in proxyd behind it; each arrives whole, in order (a file's head and first bytes share
    # records, which the client must decode as two messages).
    sock = connect(static_port, client_context(site[0]), "site.test")
    sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: site.test\r\n\r\n"
                 b"GET /index.html HTTP/1.1\r\nHost: site.test\r\n\r\n"
                 b"HEAD /index.html HTTP/1.1\r\nHost: site.test\r\n\r\n")
    time.sleep(0.5)
    stream = PipelinedReader(sock)
    status, body = stream.response()
    check_equal((status, hashlib.sha256(body).hexdigest()), (200, hashlib.sha256(big).hexdigest()),
                "pipelined 3 MB file read late: status and bytes")
    check_equal(stream.response(), (200, b"<h1>over TLS</h1>\n"), "the small file after it")
    check_equal(stream.response(head_only=True), (200, b""), "then HEAD: a head and no body")
    sock.close()

    # Proxied: the backend hears it came over HTTPS.
    sock = connect(proxy_port, client_context(site[0]), "site.test")
    status, headers, body = get(sock, "/api?x=1")
    check_equal(status, 200, "proxied request over HTTPS")
    seen = backend.requests[-1][1]
    check_equal(seen.header("x-forwarded-proto"), "https", "X-Forwarded-Proto at the backend")
    check("proto=https" in (seen.header("forwarded") or ""), "Forwarded proto=https at the backend",
          seen.header("forwarded"))
    sock.close()

    # A WebSocket-style upgrade over HTTPS: the tunnel carries bytes both ways through TLS, a large
    # message too (more than the tunnel's write marks, so backpressure runs on the TLS side).
    # The message is made before the upgrade, and in C (translate): built byte by byte in Python it
    # took 27 s on a loaded machine, long enough for the backend's 30 s socket timeout to close the
    # idle tunnel before the first byte went through.
    letters = bytes(b"abcdefghij"[i % 10] for i in range(256))
    message = random.Random(7).randbytes(2 * 1024 * 1024).translate(letters)
    sock = connect(upgrade_port, client_context(site[0]), "site.test")
    sock.sendall(b"GET /chat HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        check(chunk != b"", "the upgrade's answer arrives")
        head += chunk
    check(head.startswith(b"HTTP/1.1 101 "), "101 Switching Protocols over HTTPS", head)
    echoed = b""

    def take_echo(wait):
        nonlocal echoed
        sock.settimeout(wait)
        try:
            while len(echoed) < len(message):
                chunk = sock.recv(65536)
                if not chunk:
                    return
                echoed += chunk
        except (socket.timeout, ssl.SSLWantReadError):
            pass

    # One thread: an SSL socket must not be read and written from two at once.
    for offset in range(0, len(message), 16384):
        sock.settimeout(TIMEOUT)
        sock.sendall(message[offset:offset + 16384])
        take_echo(0.001)
    take_echo(TIMEOUT)
    check_equal(hashlib.sha256(echoed).hexdigest(), hashlib.sha256(message.upper()).hexdigest(),
                "2 MB through the upgraded tunnel over TLS, both ways")
    sock.close()

    # SNI picks the certificate; verification against the expected one proves which was served.
    for name, cert in (("a.wild.test", wild), ("site.test", site)):
        sock = connect(static_port, client_context(cert[0]), name)
        check_equal(get(sock, "/index.html", name)[0], 200, "SNI %s verified against its certificate" % name)
        sock.close()
    with open(site[0]) as f:
        site_der = ssl.PEM_cert_to_DER_cert(f.read())
    sock = connect(static_port, client_context(), "unknown.test")
    check(sock.getpeercert(binary_form=True) == site_der, "an unknown SNI name gets the default certificate")
    sock.close()

    # curl, a real client, with verification.
    curl = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", site[0], "-o", "/dev/null", "-w",
                           "%{http_code} %{http_version}", "--resolve", "site.test:%d:%s" % (static_port, HOST),
                           "https://site.test:%d/index.html" % static_port], capture_output=True, text=True)
    check_equal(curl.stdout.strip(), "200 1.1", "curl over HTTPS (%s)" % curl.stderr.strip())

    # TLS 1.1 is not offered.
    old = client_context()
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        connect(static_port, old, "site.test").close()
        raise TestFailure("a TLS 1.1 handshake succeeded")
    except ssl.SSLError:
        pass

    # TLS 1.3 suites: the server's order (Mozilla intermediate: AES-128 first) decides, except that
    # a client putting ChaCha20 first gets it (a phone without AES instructions).
    for offered, expected in (("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
                              ("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
                               "TLS_CHACHA20_POLY1305_SHA256"),
                              ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384")):
        check_equal(negotiated_suite(static_port, offered), expected,
                    "TLS 1.3 suite for a client offering %s" % offered)
    check_equal(negotiated_suite(proxy_port, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"),
                "TLS_AES_256_GCM_SHA384", "a configured tls.ciphersuites is the server's order")

    # Plaintext HTTP on the HTTPS port: closed, and the next client is served.
    raw = socket.create_connection((HOST, static_port), timeout=TIMEOUT)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: site.test\r\n\r\n")
    check(closed_within(raw, 3.0), "plaintext HTTP on the HTTPS port is closed")
    raw.close()
    # A client that never starts the handshake is closed after handshake_timeout (1 s).
    raw = socket.create_connection((HOST, static_port), timeout=TIMEOUT)
    started = time.monotonic()
    check(closed_within(raw, 4.0), "a silent client is closed")
    check(time.monotonic() - started < 3.5, "closed within handshake_timeout plus slack")
    raw.close()
    sock = connect(static_port, client_context(site[0]), "site.test")
    check_equal(get(sock, "/index.html")[0], 200, "served after the bad clients")
    sock.close()
    check(proxyd.alive(), "proxyd still running")

    # A key that does not match its certificate fails the config check, naming the key file.
    bad = (config_head() + static_handler("site", www) +
           tls_listener("bad", static_port, "handler", "site", [(site[0], wild[1])]))
    bad_path = write_file(os.path.join(folder, "bad.toml"), bad)
    result = subprocess.run([PROXYD_BIN, "-t", "-c", bad_path], capture_output=True, text=True, timeout=20)
    check(result.returncode != 0, "proxyd -t refuses a mismatched key")
    check(wild[1] in result.stderr and "does not match" in result.stderr, "the error names the key file",
          result.stderr)


if __name__ == "__main__":
    run_test(main)
