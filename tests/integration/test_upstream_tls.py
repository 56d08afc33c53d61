#!/usr/bin/env python3
"""TLS to backends: peers written https://host:port, a group's `tls` table (verify, ca, server_name,
a client certificate), pooled TLS connections and resumed sessions.

The backends are the harness's Backend over Python's ssl module; the certificates come from the
openssl command: a test CA, a backend certificate it signed for backend.test and 127.0.0.1, a
self-signed one, and a client certificate the CA signed. What a user relies on:
- a request through an https:// peer verified with `ca` (the IP address checked against the
  certificate's IP SANs) answers 200, and three requests in a row reach the backend on one TLS
  connection (keep-alive over TLS); proxyd offers TLS 1.3's AES-128-GCM first, so a backend that
  lets the client choose (nginx's default) does not encrypt with AES-256;
- once the backend closed that connection, the next one resumes the TLS session (TLS 1.3, and 1.2
  in a group limited to it); a pooled idle connection the backend closes is noticed and replaced;
- server_name is sent as SNI and checked: the right name answers 200, a wrong one 502;
- a self-signed backend is refused: 502 and one error-log line naming the peer and the reason;
  with verify = false it answers 200;
- a backend that requires a client certificate gets the configured one (200), and refuses a group
  without one (502);
- a 2 MB chunked POST body streams over upstream TLS intact;
- a WebSocket-style upgrade (101) tunnels bytes both ways over upstream TLS;
- a backend that accepts TCP and never answers the handshake costs that request a 504 after
  connect_timeout, while other clients are served meanwhile;
- `proxyd -t` refuses an unreadable CA file and a client key that does not match its certificate,
  naming file:line:col, the key and the file.

Sockets time out after 10 s; every process is stopped by PID."""

import hashlib
import json
import os
import socket
import ssl
import subprocess
import threading
import time

from proxyd_harness import (HOST, PROXYD_BIN, Backend, Client, Proxyd, check, check_equal, chunked,
                            config_head, free_ports, get, run_test, toml_str, upgrade_raw, workdir, write_file)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def new_key_request(folder, stem, subject):
    key, csr = os.path.join(folder, stem + ".key"), os.path.join(folder, stem + ".csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", csr, "-subj", subject)
    return key, csr


def make_ca(folder):
    cert, key = os.path.join(folder, "ca.crt"), os.path.join(folder, "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", "/CN=proxyd test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    return cert, key


def signed_certificate(folder, ca, stem, subject, extensions):
    """A certificate for subject signed by ca, with extensions (openssl x509 -extfile lines)."""
    key, csr = new_key_request(folder, stem, subject)
    cert, ext = os.path.join(folder, stem + ".crt"), os.path.join(folder, stem + ".ext")
    write_file(ext, "\n".join(extensions) + "\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-days", "2",
            "-out", cert, "-extfile", ext)
    return cert, key


def self_signed(folder, stem, name):
    cert, key = os.path.join(folder, stem + ".crt"), os.path.join(folder, stem + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", "/CN=" + name,
            "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % name)
    return cert, key


def server_context(certificate, client_ca=None, names=None, client_order=False):
    """A backend's context; with client_ca it requires a client certificate; names collects SNI;
    client_order lets the client's order of cipher suites decide, as nginx does by default."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certificate)
    if client_order:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    if names is not None:
        ctx.sni_callback = lambda sock, name, _ctx: names.append(name)
    return ctx


def closing_echo(request, conn_id):
    """The echo backend; /close ends the connection after answering (Connection: close); /then-close
    answers as if to keep the connection, and closes it 0.3 s later, while proxyd holds it idle."""
    body = json.dumps({"connection": conn_id, "body_length": len(request.body),
                       "body_sha256": hashlib.sha256(request.body).hexdigest()}).encode()
    close = request.target == "/close"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if close:
        headers.append(("Connection", "close"))
    head = "HTTP/1.1 200 OK\r\n" + "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    if request.target == "/then-close":
        return [head.encode() + body, 0.3], True
    return [head.encode() + body], close



def stalled_raw(conn, conn_id):
    """Accepts TCP and never answers: a handshake that does not progress."""
    time.sleep(5)


def tls_upstream(name, peers, tls=None, extra=""):
    text = "[upstreams.%s]\npeers = [%s]\n" % (name, ", ".join(toml_str(p) for p in peers))
    if tls is not None:
        text += "tls = { %s }\n" % ", ".join("%s = %s" % (k, v) for k, v in tls.items())
    return text + extra + "\n"


def listener(name, port, target):
    return "[[listeners]]\nname = %s\nlisten = %s\nupstream = %s\n\n" % (
        toml_str(name), toml_str("%s:%d" % (HOST, port)), toml_str(target))


def body_json(response):
    return json.loads(response.body.decode())


def verify_line_count(proxyd, peer, reason):
    return sum(1 for line in proxyd.stderr_text().splitlines() if peer in line and reason in line)


def main():
    folder = workdir("upstream_tls")
    ca = make_ca(folder)
    backend_cert = signed_certificate(folder, ca, "backend", "/CN=backend.test",
                                      ["subjectAltName=DNS:backend.test,IP:127.0.0.1",
                                       "extendedKeyUsage=serverAuth"])
    client_cert = signed_certificate(folder, ca, "client", "/CN=proxyd-client", ["extendedKeyUsage=clientAuth"])
    lone = self_signed(folder, "lone", "lone.test")

    sni_names = []
    good = Backend(closing_echo, tag="tls-good",
                   ssl_context=server_context(backend_cert, names=sni_names, client_order=True))
    selfsigned = Backend(closing_echo, tag="tls-self-signed", ssl_context=server_context(lone))
    mtls = Backend(closing_echo, tag="tls-mtls", ssl_context=server_context(backend_cert, client_ca=ca[0]))
    upgrading = Backend(handler=None, raw=upgrade_raw, tag="tls-upgrade",
                        ssl_context=server_context(backend_cert))
    stalled = Backend(handler=None, raw=stalled_raw, tag="tls-stalled")

    ca_value = toml_str(ca[0])
    good_peer = "https://127.0.0.1:%d" % good.port
    self_peer = "https://127.0.0.1:%d" % selfsigned.port
    names = ["verified", "tls12", "named", "wrong_name", "self_signed", "no_verify", "mtls", "mtls_missing", "upgrade",
             "stalled"]
    ports = dict(zip(names, free_ports(len(names))))
    config = (config_head(plugins=None) +
              tls_upstream("verified", [good_peer], {"ca": ca_value}) +
              tls_upstream("tls12", [good_peer], {"ca": ca_value, "protocols": '["TLSv1.2"]'}) +
              tls_upstream("named", ["127.0.0.1:%d" % good.port],
                           {"ca": ca_value, "server_name": toml_str("backend.test")}) +
              tls_upstream("wrong_name", [good_peer], {"ca": ca_value, "server_name": toml_str("other.test")}) +
              tls_upstream("self_signed", [self_peer], {"ca": ca_value}) +
              tls_upstream("no_verify", [self_peer], {"verify": "false"}) +
              tls_upstream("mtls", ["https://127.0.0.1:%d" % mtls.port],
                           {"ca": ca_value, "certificate": toml_str(client_cert[0]),
                            "key": toml_str(client_cert[1])}) +
              tls_upstream("mtls_missing", ["https://127.0.0.1:%d" % mtls.port], {"ca": ca_value}) +
              tls_upstream("upgrade", ["https://127.0.0.1:%d" % upgrading.port], {"ca": ca_value}) +
              tls_upstream("stalled", ["https://127.0.0.1:%d" % stalled.port], {"ca": ca_value},
                           'connect_timeout = "1s"') +
              "".join(listener(n, ports[n], n) for n in names))
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    check_equal(subprocess.run([PROXYD_BIN, "-t", "-c", config_path], capture_output=True, text=True,
                               timeout=20).returncode, 0, "proxyd -t accepts the config")
    proxyd = Proxyd(config_path, folder)
    proxyd.start(list(ports.values()))

    # Verified with `ca`, the peer's IP address checked; keep-alive over TLS: one connection.
    with Client(ports["verified"]) as client:
        seen = []
        for i in range(3):
            response = client.request("GET", "/item/%d" % i)
            check_equal(response.status, 200, "request %d through a verified https:// peer" % i)
            seen.append(body_json(response)["connection"])
    check_equal(len(set(seen)), 1, "three requests reach the backend on one pooled TLS connection (%s)" % seen)
    check_equal(len(good.tls_connections), 1, "one TLS handshake for the three requests")
    check_equal(good.tls_connections[0][1], False, "the first handshake is a full one")
    check_equal(good.tls_ciphers[0], "TLS_AES_128_GCM_SHA256",
                "proxyd offers AES-128-GCM first: a peer that lets the client choose serves it")

    # The backend closes the connection; the next one resumes the session.
    check_equal(get(ports["verified"], "/close").status, 200, "a response that closes the TLS connection")
    response = get(ports["verified"], "/after-close")
    check_equal(response.status, 200, "a request on a new TLS connection")
    check(body_json(response)["connection"] != seen[0], "the request came on a new connection")
    check_equal(len(good.tls_connections), 2, "a second TLS handshake")
    check_equal(good.tls_connections[1][1], True, "the second connection resumed the first one's session")

    # The backend closes a pooled idle TLS connection: proxyd notices, and the next request goes on a
    # new connection instead of failing on the dead one (a POST with a body would not be retried).
    first = body_json(get(ports["verified"], "/then-close"))["connection"]
    time.sleep(0.8)
    with Client(ports["verified"]) as client:
        response = client.request("POST", "/after-idle-close", body=b"form=1")
    check_equal(response.status, 200, "the request after the backend closed the idle TLS connection")
    check(body_json(response)["connection"] != first, "it came on a new connection")
    check_equal(len(good.tls_connections), 3, "a third TLS handshake")

    # TLS 1.2 sessions are resumed too.
    check_equal(get(ports["tls12"], "/close").status, 200, "a request over TLS 1.2 that closes the connection")
    check_equal(get(ports["tls12"], "/").status, 200, "a second request over TLS 1.2")
    check_equal([reused for _, reused, _ in good.tls_connections[3:]], [False, True],
                "the second TLS 1.2 connection resumed the first one's session")

    # server_name: sent as SNI and checked.
    check_equal(get(ports["named"], "/").status, 200, "server_name = backend.test answers")
    check("backend.test" in sni_names, "the backend saw SNI backend.test", str(sni_names))
    check(None in sni_names, "an IP address peer sends no SNI", str(sni_names))
    check_equal(get(ports["wrong_name"], "/").status, 502, "a certificate for another name: 502")
    check(verify_line_count(proxyd, good_peer, "certificate verify failed: hostname mismatch") == 1,
          "one log line names the peer and the hostname mismatch", proxyd.stderr_tail())

    # A self-signed backend: refused with one log line; accepted with verify = false.
    check_equal(get(ports["self_signed"], "/").status, 502, "a self-signed backend certificate: 502")
    check_equal(verify_line_count(proxyd, self_peer, "certificate verify failed: self-signed certificate"), 1,
                "log lines naming the peer and the reason")
    check_equal(get(ports["no_verify"], "/").status, 200, "verify = false accepts the self-signed backend")

    # A backend that requires a client certificate.
    check_equal(get(ports["mtls"], "/").status, 200, "the configured client certificate is accepted")
    subjects = [dict(x[0] for x in cert.get("subject", ())) for _, _, cert in mtls.tls_connections if cert]
    check(any(s.get("commonName") == "proxyd-client" for s in subjects), "the backend saw proxyd's certificate",
          str(mtls.tls_connections))
    check_equal(get(ports["mtls_missing"], "/").status, 502, "no client certificate for a backend that needs one")

    # A 2 MB chunked request body, streamed over upstream TLS.
    body = os.urandom(2 * 1024 * 1024)
    with Client(ports["verified"], timeout=30) as client:
        response = client.request("POST", "/upload", [("Transfer-Encoding", "chunked")], chunked(body, 65536))
    check_equal(response.status, 200, "a chunked POST over upstream TLS")
    result = body_json(response)
    check_equal(result["body_length"], len(body), "the body's length at the backend")
    check_equal(result["body_sha256"], hashlib.sha256(body).hexdigest(), "the body arrives intact")

    # An upgrade tunnels over the TLS connection both ways.
    with Client(ports["upgrade"]) as client:
        client.send(b"GET /shout HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n")
        head = client.reader.read_until(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 101"), "101 through an upstream TLS connection", repr(head))
        client.send(b"hello over tls")
        check_equal(client.reader.read_exact(len(b"hello over tls")), b"HELLO OVER TLS", "tunnelled bytes")

    # A handshake that never progresses: that request gets 504 after connect_timeout, and others are
    # served meanwhile.
    stalled_result = {}

    def stalled_request():
        started = time.monotonic()
        stalled_result["status"] = get(ports["stalled"], "/", timeout=15).status
        stalled_result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=stalled_request)
    thread.start()
    for i in range(5):
        check_equal(get(ports["verified"], "/meanwhile/%d" % i).status, 200,
                    "another client served while a handshake stalls (%d)" % i)
    thread.join(20)
    check(not thread.is_alive(), "the stalled request ended")
    check_equal(stalled_result.get("status"), 504, "a stalled handshake ends in 504 (connect_timeout)")
    check(proxyd.alive(), "proxyd still running")

    # proxyd -t loads the files: an unreadable CA, a client key that is not the certificate's.
    missing = os.path.join(folder, "no-such-ca.pem")
    bad = config_head(plugins=None) + tls_upstream("u", [good_peer], {"ca": toml_str(missing)}) + \
        listener("l", ports["verified"], "u")
    bad_path = write_file(os.path.join(folder, "bad-ca.toml"), bad)
    result = subprocess.run([PROXYD_BIN, "-t", "-c", bad_path], capture_output=True, text=True, timeout=20)
    check(result.returncode != 0, "proxyd -t refuses an unreadable CA file")
    check(bad_path + ":" in result.stderr and "upstreams.u.tls.ca" in result.stderr and missing in result.stderr,
          "the error names file:line:col, the key and the CA file", result.stderr)
    bad = config_head(plugins=None) + tls_upstream(
        "u", [good_peer], {"certificate": toml_str(client_cert[0]), "key": toml_str(lone[1])}) + \
        listener("l", ports["verified"], "u")
    bad_path = write_file(os.path.join(folder, "bad-key.toml"), bad)
    result = subprocess.run([PROXYD_BIN, "-t", "-c", bad_path], capture_output=True, text=True, timeout=20)
    check(result.returncode != 0, "proxyd -t refuses a client key that does not match its certificate")
    check(lone[1] in result.stderr and "does not match" in result.stderr and "upstreams.u.tls.key" in result.stderr,
          "the error names the key and its file", result.stderr)


run_test(main)
