#!/usr/bin/env python3
"""TLS session resumption and client certificates (mTLS), two workers.

Certificates come from the openssl command: the server's (ECDSA P-256, self-signed, site.test), a
test CA with a client certificate it signed, and another CA with a client certificate of its own.
What a client relies on:
- resumption: a TLS 1.3 ticket, a TLS 1.2 ticket, and a TLS 1.2 session id without tickets (the
  session cache) each resume on every one of many reconnects, whichever of the two workers takes
  them (the ticket keys and the cache are shared by all workers); `openssl s_client -sess_in`
  says "Reused"; a TLS 1.3 and a TLS 1.2 ticket issued before a SIGHUP resume after it, on the
  new generation's workers; with session_tickets = false no ticket is issued (TLS 1.2 resumes by
  session id from the cache), and with the cache off too nothing resumes;
- mTLS required: a certificate of the test CA gets 200 and the backend sees its RFC 4514 subject,
  its SHA-256 fingerprint (computed here from the DER) and SUCCESS, never the forged values the
  client sent in the same fields; no certificate, or one from the other CA, is refused in the
  handshake and reaches no backend; `openssl s_client` without a certificate shows the alert;
- mTLS optional: without a certificate the request goes on with the verify field NONE (forged
  fields removed); with the other CA's certificate it says FAILED and names no subject;
- plugins: an ABI 1.2 content plugin (tests/loader/content_tls.c) reads request_tls: version,
  cipher, SNI, ALPN, resumption, verification, subject and fingerprint; over cleartext it hears
  there is no TLS;
- `proxyd -t` refuses each mistyped or contradictory key, naming file:line:col and the key.

Client sockets time out after 5 s; every process is stopped by PID."""

import hashlib
import os
import signal
import socket
import ssl
import subprocess

from proxyd_harness import (HOST, PROXYD_BIN, Backend, check, check_equal, config_head, free_ports, get, listener,
                            note, Proxyd, read_until_close, run_test, TestFailure, toml_str, upstream, wait_for_log,
                            workdir, write_file)

TIMEOUT = 5.0
RECONNECTS = 24
PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "content_tls.so")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_ca(folder, stem, cn):
    cert, key = os.path.join(folder, stem + ".crt"), os.path.join(folder, stem + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_signed(folder, stem, subject, ca, extensions):
    cert, key, csr = (os.path.join(folder, stem + ext) for ext in (".crt", ".key", ".csr"))
    ext_file = write_file(os.path.join(folder, stem + ".ext"), extensions + "\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", csr, "-subj", subject)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-out", cert, "-days",
            "2", "-extfile", ext_file)
    return cert, key


def der_sha256(cert_path):
    with open(cert_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def tls_listener(name, port, target_kind, target, site, tls_extra=""):
    return ("[[listeners]]\nname = %s\nlisten = %s\n%s = %s\n[listeners.tls]\ncertificate = %s\nkey = %s\n%s\n" %
            (toml_str(name), toml_str("%s:%d" % (HOST, port)), target_kind, toml_str(target), toml_str(site[0]),
             toml_str(site[1]), tls_extra))


def client_context(version=None, tickets=True, cert=None):
    ctx = ssl._create_unverified_context()
    ctx.set_alpn_protocols(["http/1.1"])
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def request(port, ctx, session=None, headers=(), path="/"):
    """One GET on a new connection; returns (status, body, the connection's session, reused)."""
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    with ctx.wrap_socket(raw, server_hostname="site.test", session=session) as sock:
        extra = "".join("%s: %s\r\n" % h for h in headers)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: site.test\r\n%sConnection: close\r\n\r\n" % (path, extra)).encode())
        data = read_until_close(sock)
        head, _, body = data.partition(b"\r\n\r\n")
        if not head:
            raise TestFailure("no response")
        return int(head.split(b" ")[1]), body, sock.session, sock.session_reused


def refused(port, ctx):
    """True when the handshake or the first read fails (TLS 1.3 reports a client-certificate
    refusal after the client's own handshake has finished)."""
    try:
        status = request(port, ctx)[0]
        note("answered %d" % status)
        return False
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, TestFailure):
        return True


def every_reconnect_resumes(port, ctx, what):
    """Python resumes a session only through the context that made it: ctx serves every reconnect."""
    status, _, session, reused = request(port, ctx)
    check_equal(status, 200, what + ": first connection")
    check(not reused, what + ": the first connection makes a full handshake")
    misses = [i for i in range(RECONNECTS) if not request(port, ctx, session=session)[3]]
    check(not misses, "%s: all %d reconnects resume (across both workers)" % (what, RECONNECTS),
          "not resumed: %s" % misses)
    return session


def s_client(port, *args):
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-servername", "site.test", "-ign_eof"] + list(args)
    result = subprocess.run(cmd, input=b"GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n",
                            capture_output=True, timeout=10)
    return (result.stdout + result.stderr).decode("latin-1")


def resumption(proxyd, ports, config_path):
    tls13, tls12 = ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2
    c13, c12, c12_no_ticket = client_context(tls13), client_context(tls12), client_context(tls12, tickets=False)
    s13 = every_reconnect_resumes(ports["tickets"], c13, "TLS 1.3 ticket")
    s12 = every_reconnect_resumes(ports["tickets"], c12, "TLS 1.2 ticket")
    check(s12.has_ticket, "TLS 1.2: the server issued a ticket")
    cached = every_reconnect_resumes(ports["tickets"], c12_no_ticket, "TLS 1.2 without tickets (the session cache)")
    check(not cached.has_ticket, "TLS 1.2 without tickets: no ticket issued")

    sess = os.path.join(os.path.dirname(config_path), "s_client.sess")
    first = s_client(ports["tickets"], "-tls1_2", "-sess_out", sess)
    check("New, TLSv1.2" in first, "s_client: the first connection is new", first[-600:])
    again = s_client(ports["tickets"], "-tls1_2", "-sess_in", sess)
    check("Reused, TLSv1.2" in again, "s_client -sess_in: \"Reused\"", again[-600:])

    # Tickets off: TLS 1.2 gets none but resumes by session id; with the cache off too, nothing resumes.
    ctx = client_context(tls12)
    status, _, off, _ = request(ports["no_tickets"], ctx)
    check(status == 200 and not off.has_ticket, "session_tickets = false: TLS 1.2 gets no ticket")
    check(request(ports["no_tickets"], ctx, session=off)[3],
          "session_tickets = false: TLS 1.2 resumes from the session cache")
    for version, name in ((tls13, "TLS 1.3"), (tls12, "TLS 1.2")):
        ctx = client_context(version)
        _, _, session, _ = request(ports["no_resumption"], ctx)
        check(not request(ports["no_resumption"], ctx, session=session)[3],
              "tickets and cache off: %s does not resume" % name)

    # A reload: the tickets issued before it still resume, on the new generation's workers.
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    misses = [i for i in range(RECONNECTS) if not request(ports["tickets"], c13, session=s13)[3]]
    check(not misses, "after SIGHUP, a TLS 1.3 ticket from before resumes on every reconnect", misses)
    check(request(ports["tickets"], c12, session=s12)[3], "after SIGHUP, a TLS 1.2 ticket from before resumes")
    # Documented: the session cache belongs to the generation, so this one makes a full handshake.
    note("TLS 1.2 without tickets after SIGHUP resumed: %s (the cache is per generation)" %
         request(ports["tickets"], c12_no_ticket, session=cached)[3])


def mtls(backend, ports, certs):
    good, other = certs["good"], certs["other"]
    forged = (("X-Client-Subject", "CN=admin"), ("X-Client-Cert-SHA256", "00" * 32), ("X-Client-Verify", "SUCCESS"))

    status, _, _, _ = request(ports["required"], client_context(cert=good), headers=forged)
    check_equal(status, 200, "required + a certificate of the client CA")
    seen = backend.requests[-1][1]
    check_equal(seen.all("x-client-subject"), ["CN=alice,OU=dev,O=Example\\, Inc.,C=FR"],
                "the subject at the backend (RFC 4514), the forged one removed")
    check_equal(seen.all("x-client-cert-sha256"), [der_sha256(good[0])], "the SHA-256 fingerprint at the backend")
    check_equal(seen.all("x-client-verify"), ["SUCCESS"], "the verify result at the backend")

    count = len(backend.requests)
    check(refused(ports["required"], client_context()), "required + no certificate: refused")
    check(refused(ports["required"], client_context(cert=other)), "required + a certificate of another CA: refused")
    check(refused(ports["required"], client_context(version=ssl.TLSVersion.TLSv1_2)),
          "required + no certificate over TLS 1.2: refused")
    check_equal(len(backend.requests), count, "refused clients reach no backend")
    out = s_client(ports["required"])
    check("alert certificate required" in out or "certificate required" in out,
          "s_client without a certificate is refused with an alert", out[-600:])

    # This listener names its own fields.
    forged = (("X-SSL-Subject", "CN=admin"), ("X-SSL-Fingerprint", "00" * 32), ("X-SSL-Verify", "SUCCESS"))
    status, _, _, _ = request(ports["optional"], client_context(), headers=forged)
    check_equal(status, 200, "optional + no certificate")
    seen = backend.requests[-1][1]
    check_equal(seen.all("x-ssl-verify"), ["NONE"], "optional + no certificate: verify field NONE, not the forged one")
    for name in ("X-SSL-Subject", "X-SSL-Fingerprint"):
        check(not seen.has(name), "optional + no certificate: the forged %s removed" % name)
    request(ports["optional"], client_context(cert=other), headers=(("X-SSL-Subject", "CN=admin"),))
    seen = backend.requests[-1][1]
    check((seen.header("x-ssl-verify") or "").startswith("FAILED:"), "optional + other CA: FAILED",
          seen.header("x-ssl-verify"))
    check(not seen.has("x-ssl-subject") and not seen.has("x-ssl-fingerprint"),
          "optional + other CA: no subject or fingerprint forwarded (nor the forged one)")

    # The same backend behind a cleartext listener and a TLS one without mTLS: neither lets a client
    # forge the fields any listener of the config forwards.
    forged = (("X-Client-Subject", "CN=admin"), ("X-SSL-Verify", "SUCCESS"), ("X-Other", "kept"))
    check_equal(get(ports["plain_proxy"], "/", forged).status, 200, "cleartext listener to the same backend")
    seen = backend.requests[-1][1]
    check(not seen.has("x-client-subject") and not seen.has("x-ssl-verify"),
          "cleartext listener: the forged certificate fields removed")
    check_equal(seen.header("x-other"), "kept", "cleartext listener: other fields kept")
    check_equal(request(ports["tickets"], client_context(), headers=forged)[0], 200, "TLS listener without mTLS")
    seen = backend.requests[-1][1]
    check(not seen.has("x-client-subject") and not seen.has("x-ssl-verify"),
          "TLS listener without mTLS: the forged certificate fields removed")


def plugin(ports, certs):
    ctx = client_context(cert=certs["good"])
    status, body, session, _ = request(ports["plugin"], ctx)
    check_equal(status, 200, "the request_tls plugin answers")
    fields = dict(line.split("=", 1) for line in body.decode().splitlines())
    check_equal(fields.get("version"), "TLSv1.3", "request_tls: version")
    check(fields.get("cipher", "").startswith("TLS_"), "request_tls: cipher", fields.get("cipher"))
    check_equal(fields.get("server_name"), "site.test", "request_tls: SNI")
    check_equal(fields.get("alpn"), "http/1.1", "request_tls: ALPN")
    check_equal(fields.get("reused"), "0", "request_tls: a full handshake")
    check_equal(fields.get("verify"), "SUCCESS", "request_tls: verified")
    check_equal(fields.get("subject"), "CN=alice,OU=dev,O=Example\\, Inc.,C=FR", "request_tls: subject")
    check_equal(fields.get("fingerprint"), der_sha256(certs["good"][0]), "request_tls: fingerprint")
    status, body, _, reused = request(ports["plugin"], ctx, session=session)
    fields = dict(line.split("=", 1) for line in body.decode().splitlines())
    check(reused and fields.get("reused") == "1", "request_tls: a resumed session says so", body)
    check_equal(fields.get("verify"), "SUCCESS", "request_tls: a resumed session keeps its verified certificate")
    _, body, _, _ = request(ports["plugin"], client_context(cert=certs["other"]))
    fields = dict(line.split("=", 1) for line in body.decode().splitlines())
    check(fields.get("verify") == "FAILED" and fields.get("subject") == "" and fields.get("verify_error"),
          "request_tls: another CA's certificate is FAILED, with a reason and no subject", body)

    raw = socket.create_connection((HOST, ports["cleartext"]), timeout=TIMEOUT)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = read_until_close(raw)
    raw.close()
    check(data.endswith(b"tls=none\n"), "request_tls over cleartext: none", data[-200:])


def config_errors(folder, site):
    cases = [('session_tickets = "yes"', "tls.session_tickets: must be a boolean"),
             ('session_timeout = "soon"', "tls.session_timeout: \"soon\" is not a duration"),
             ("session_cache_size = -1", "tls.session_cache_size: must be between 0"),
             ('ticket_rotation = 12', "tls.ticket_rotation: must be a string"),
             ('verify_client = "maybe"', "tls.verify_client: must be \"required\""),
             ('verify_client = "required"', "tls.verify_client: needs client_ca"),
             ('client_cert_headers = { subject = "X-S" }', "tls.client_cert_headers: needs verify_client"),
             ('client_ca = %s\nclient_cert_headers = { subject = "X S" }' % toml_str(site[0]),
              "tls.client_cert_headers.subject: \"X S\" is not a field name"),
             ('client_ca = %s\nclient_cert_headers = { issuer = "X-I" }' % toml_str(site[0]),
              "tls.client_cert_headers.issuer: unknown key"),
             ('client_ca = "missing-ca.pem"', "missing-ca.pem")]
    for i, (line, expected) in enumerate(cases):
        config = (config_head() + upstream("app", [1]) + tls_listener("l", 1, "upstream", "app", site, line))
        path = write_file(os.path.join(folder, "bad%d.toml" % i), config)
        result = subprocess.run([PROXYD_BIN, "-t", "-c", path], capture_output=True, text=True, timeout=20)
        check(result.returncode != 0 and expected in result.stderr and (path + ":") in result.stderr,
              "proxyd -t refuses %r, naming file:line:col and %r" % (line, expected), result.stderr)


def main():
    if not os.path.exists(PLUGIN):
        raise TestFailure("test plugin not found: %s (set PROXYD_TEST_PLUGIN_DIR)" % PLUGIN)
    folder = workdir("tls_resume")
    site_ca = make_ca(folder, "site-ca", "Site Test CA")
    site = make_signed(folder, "site", "/CN=site.test", site_ca, "subjectAltName=DNS:site.test")
    client_ca = make_ca(folder, "client-ca", "Client Test CA")
    other_ca = make_ca(folder, "other-ca", "Other Test CA")
    client_ext = "extendedKeyUsage=clientAuth"
    certs = {"good": make_signed(folder, "alice", "/C=FR/O=Example, Inc./OU=dev/CN=alice", client_ca, client_ext),
             "other": make_signed(folder, "mallory", "/CN=mallory", other_ca, client_ext)}
    backend = Backend()
    names = ["tickets", "no_tickets", "no_resumption", "required", "optional", "plugin", "cleartext", "plain_proxy"]
    ports = dict(zip(names, free_ports(len(names))))
    ca = "client_ca = %s\n" % toml_str(client_ca[0])
    config = (config_head(workers=2).replace("[plugins]\n", "[plugins]\ntls_info = %s\n" % toml_str(PLUGIN)) +
              upstream("app", [backend.port]) + '[handlers.info]\nplugin = "tls_info"\n\n' +
              tls_listener("tickets", ports["tickets"], "upstream", "app", site,
                           'session_timeout = "10m"\nticket_rotation = "1h"\n') +
              tls_listener("no-tickets", ports["no_tickets"], "upstream", "app", site, "session_tickets = false\n") +
              tls_listener("no-resumption", ports["no_resumption"], "upstream", "app", site,
                           "session_tickets = false\nsession_cache_size = 0\n") +
              tls_listener("required", ports["required"], "upstream", "app", site, ca + 'verify_client = "required"\n') +
              tls_listener("optional", ports["optional"], "upstream", "app", site,
                           ca + 'verify_client = "optional"\nclient_cert_headers = { subject = "X-SSL-Subject", '
                           'fingerprint = "X-SSL-Fingerprint", verify = "X-SSL-Verify" }\n') +
              tls_listener("plugin", ports["plugin"], "handler", "info", site, ca + 'verify_client = "optional"\n') +
              listener("cleartext", ports["cleartext"], "handler", "info") +
              listener("plain-proxy", ports["plain_proxy"], "upstream", "app"))
    config_path = write_file(os.path.join(folder, "proxyd.toml"), config)
    proxyd = Proxyd(config_path, folder)
    proxyd.start(list(ports.values()))

    config_errors(folder, site)
    mtls(backend, ports, certs)
    plugin(ports, certs)
    resumption(proxyd, ports, config_path)
    check_equal(proxyd.stop(), 0, "proxyd exit code")


if __name__ == "__main__":
    run_test(main)
