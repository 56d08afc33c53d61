#!/usr/bin/env python3
"""OCSP stapling from a file (`ocsp_response` beside a listener's certificate and key).

What a user relies on:
- a client that asks for the certificate's status (`openssl s_client -status`) gets the response
  from the file, "successful" and "good", for the certificate the handshake chose: by SNI (another
  name without a file gets none) and by key type (an ECDSA and an RSA certificate for the same
  names each get their own); a client that does not ask gets no CertificateStatus message;
- a file that cannot serve its certificate (a response for another certificate, garbage, one
  signed by a key the issuer never certified) fails `proxyd -t`, naming the file, its line and
  the key;
- a stale response (nextUpdate passed), even one whose responder certificate expired since, or
  one valid only from a later time is loaded with a warning naming the file, and nothing is stapled; a response whose nextUpdate passes while
  proxyd serves stops being stapled then, with one warning in the error log;
- SIGHUP reads the renewed file: the new response (its own thisUpdate) is stapled.

The CA, the certificates, the responder's certificate and the responses are made offline with the
openssl CLI (`openssl ocsp -index ...`); responses dated in the past or future come from running it
under faketime. Every process is stopped by its PID; s_client has a 10 s bound."""

import calendar
import os
import re
import shutil
import signal
import subprocess
import time

from proxyd_harness import (HOST, PROXYD_BIN, TestFailure, check, check_equal, config_head, free_ports,
                            Proxyd, run_test, static_handler, toml_str, wait_for, wait_for_log, workdir, write_file)

TIMEOUT = 10


def run(args, cwd, prefix=()):
    done = subprocess.run(list(prefix) + args, cwd=cwd, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise TestFailure("%s failed: %s" % (" ".join(args[:2]), done.stderr[-500:]))
    return done.stdout


class Pki:
    """A CA, leaves it issued, an OCSP responder it certified for OCSP signing, and the index of
    the certificates it issued, in folder."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder)
        self.key_args = {"ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                         "rsa": ["-newkey", "rsa:2048"]}
        self.ca = self.path("ca.crt")
        # Made a month ago: the responses and the responder dated in the past fall in its lifetime.
        run(["openssl", "req", "-x509", "-nodes"] + self.key_args["ecdsa"] +
            ["-keyout", self.path("ca.key"), "-out", self.ca, "-days", "60", "-subj", "/CN=OCSP Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            folder, ("faketime", "-f", "-30d"))
        self.index = self.path("index.txt")
        write_file(self.index, "")
        self.responder = self.issue("responder", "ecdsa", "extendedKeyUsage=OCSPSigning\n")

    def path(self, name):
        return os.path.join(self.folder, name)

    def issue(self, stem, kind, extensions, days=30, clock=None):
        """A certificate signed by the CA, valid for days from now (or from the faketime offset
        clock); returns (chain: the certificate then the CA, key, certificate, serial)."""
        key, csr, cert = self.path(stem + ".key"), self.path(stem + ".csr"), self.path(stem + ".crt")
        run(["openssl", "req", "-nodes"] + self.key_args[kind] + ["-keyout", key, "-out", csr, "-subj", "/CN=" + stem],
            self.folder)
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.path("ca.key"), "-CAcreateserial",
             "-days", str(days), "-out", cert, "-extfile", write_file(self.path(stem + ".ext"), extensions)],
            self.folder, ("faketime", "-f", clock) if clock else ())
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"], self.folder).strip().split("=")[1]
        with open(self.index, "a") as f:  # valid, expiring far ahead, not revoked
            f.write("V\t491231235959Z\t\t%s\tunknown\t/CN=%s\n" % (serial, stem))
        chain = write_file(self.path(stem + ".chain.pem"), (open(cert).read() + open(self.ca).read()).encode())
        return chain, key, cert, serial

    def respond(self, leaf, out, signer=None, validity=("-ndays", "1"), clock=None):
        """The responder's answer about leaf, written to out; clock: a faketime offset ("-3d")."""
        signer = signer or self.responder
        prefix = ("faketime", "-f", clock) if clock else ()
        run(["openssl", "ocsp", "-index", self.index, "-rsigner", signer[2], "-rkey", signer[1], "-CA", self.ca,
             "-issuer", self.ca, "-cert", leaf[2], "-respout", out] + list(validity), self.folder, prefix)
        return out


def s_client(port, cafile, name, *extra):
    """What `openssl s_client` prints of a handshake with name as SNI (it ends at once: no input)."""
    done = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-servername", name,
                           "-CAfile", cafile] + list(extra),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
    return done.stdout


def field(output, name):
    """The first "name: value" of s_client's OCSP printout, or None."""
    found = re.search(r"^\s*%s: (.*)$" % re.escape(name), output, re.M)
    return found.group(1).strip() if found else None


def response_field(pki, response, name):
    return field(run(["openssl", "ocsp", "-respin", response, "-resp_text", "-noverify"], pki.folder), name)


def openssl_time(text):
    """Seconds since the epoch of a time as openssl prints it ("Dec  6 15:58:44 2026 GMT")."""
    return calendar.timegm(time.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT"))


def check_refused(pki, folder, what, site, response, named):
    config = (config_head(access="off") + static_handler("site", folder) +
              "[[listeners]]\nlisten = \"%s:1\"\nhandler = \"site\"\n"
              "tls = { certificate = %s, key = %s, ocsp_response = %s }\n"
              % (HOST, toml_str(site[0]), toml_str(site[1]), toml_str(response)))
    path = write_file(os.path.join(folder, "refused.toml"), config)
    line = 1 + next(i for i, text in enumerate(config.splitlines()) if text.startswith("tls ="))
    done = subprocess.run([PROXYD_BIN, "-t", "-c", path], capture_output=True, text=True, timeout=30)
    check(done.returncode != 0, "proxyd -t refuses %s" % what, done.stderr)
    check(re.search(r"refused\.toml:%d:\d+: .*tls\.ocsp_response: %s: %s" % (line, re.escape(response), named),
                    done.stderr), "the error for %s names the file, its line and the key" % what, done.stderr)


def main():
    if not shutil.which("faketime"):
        raise TestFailure("faketime is not installed (packaging/build-deps.sh --test installs it)")
    folder = workdir("tls-ocsp")
    pki = Pki(os.path.join(folder, "pki"))
    site = pki.issue("site-ecdsa", "ecdsa", "subjectAltName=DNS:site.test\n")
    site_rsa = pki.issue("site-rsa", "rsa", "subjectAltName=DNS:site.test\n")
    other = pki.issue("other", "ecdsa", "subjectAltName=DNS:other.test\n")
    rogue = pki.issue("rogue", "ecdsa", "subjectAltName=DNS:rogue.test\n")  # no OCSPSigning usage

    # Files that cannot serve the certificate are config errors.
    check_refused(pki, folder, "a response for another certificate", site,
                  pki.respond(other, pki.path("other.der")), "not a response for the certificate")
    check_refused(pki, folder, "a garbage file", site,
                  write_file(pki.path("garbage.der"), b"\x30\x82garbage"), "not a DER OCSP response")
    check_refused(pki, folder, "a response signed by a certificate the CA did not make a responder", site,
                  pki.respond(site, pki.path("rogue.der"), signer=rogue), "its signature does not verify")

    # Stale and not-yet-valid responses: proxyd starts, warns naming the file, staples nothing.
    # The stale one is signed by a delegated responder whose certificate (10 to 5 days ago) expired
    # with it, as short-lived responder certificates do: still a warning, not a config error.
    live = pki.path("live.der")
    expired_responder = pki.issue("old-responder", "ecdsa", "extendedKeyUsage=OCSPSigning\n", days=5, clock="-10d")
    stale = pki.respond(site, pki.path("stale.der"), signer=expired_responder, validity=("-ndays", "3"),
                        clock="-8d")
    early = pki.respond(site_rsa, pki.path("early.der"), clock="+1d")
    shutil.copyfile(stale, live)
    rsa_live = pki.path("rsa-live.der")
    shutil.copyfile(early, rsa_live)
    port = free_ports(1)[0]
    config = (config_head(access="off") + static_handler("site", folder) +
              "[[listeners]]\nlisten = \"%s:%d\"\nhandler = \"site\"\n"
              "tls.certificates = [{ certificate = %s, key = %s, ocsp_response = %s },\n"
              "                    { certificate = %s, key = %s, ocsp_response = %s },\n"
              "                    { certificate = %s, key = %s }]\n"
              % (HOST, port, toml_str(site[0]), toml_str(site[1]), toml_str(live),
                 toml_str(site_rsa[0]), toml_str(site_rsa[1]), toml_str(rsa_live),
                 toml_str(other[0]), toml_str(other[1])))
    proxyd = Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder)
    proxyd.start([port])
    wait_for_log(proxyd, re.escape(live) + r": the OCSP response went stale on .* \(nextUpdate\): not stapled")
    wait_for_log(proxyd, re.escape(rsa_live) + r": the OCSP response is valid only from .* \(thisUpdate\)")
    shown = s_client(port, pki.ca, "site.test", "-status")
    check("OCSP response: no response sent" in shown, "a stale response is not stapled", shown[-800:])

    # A renewed file and SIGHUP: stapled. The first one dates from two hours ago, then a newer one.
    fresh = pki.respond(site, pki.path("fresh.der"), clock="-2h")
    renewed = pki.respond(site, pki.path("renewed.der"))
    rsa_fresh = pki.respond(site_rsa, pki.path("rsa-fresh.der"))
    generation = [1]

    def reload_with(response, rsa_response=None, stapled=True):
        shutil.copyfile(response, live + ".new")
        os.replace(live + ".new", live)
        if rsa_response:
            shutil.copyfile(rsa_response, rsa_live)
        proxyd.send_signal(signal.SIGHUP)
        generation[0] += 1
        wait_for_log(proxyd, r"reloaded configuration \(generation %d\)" % generation[0])
        expected = response_field(pki, response, "This Update")
        if not stapled:
            return expected
        wait_for("the staple of %s after the reload" % os.path.basename(response),
                 lambda: field(s_client(port, pki.ca, "site.test", "-status", "-sigalgs", "ecdsa_secp256r1_sha256"),
                               "This Update") == expected)
        return expected

    first = reload_with(fresh, rsa_fresh)
    shown = s_client(port, pki.ca, "site.test", "-status", "-sigalgs", "ecdsa_secp256r1_sha256")
    check_equal(field(shown, "OCSP Response Status"), "successful (0x0)", "the stapled response's status")
    check_equal(field(shown, "Cert Status"), "good", "the stapled certificate's status")
    check_equal(field(shown, "Serial Number"), site[3], "the ECDSA certificate's own response")
    check("Verify return code: 0 (ok)" in shown, "the chain verifies", shown[-400:])
    shown = s_client(port, pki.ca, "site.test", "-status", "-sigalgs", "rsa_pss_rsae_sha256")
    check_equal(field(shown, "Serial Number"), site_rsa[3], "the RSA certificate's own response")
    check_equal(field(shown, "Cert Status"), "good", "the RSA certificate's status")
    shown = s_client(port, pki.ca, "other.test", "-status")
    check("OCSP response: no response sent" in shown, "no staple for a certificate without a file", shown[-800:])
    # TLS 1.2 shows the staple as its own handshake message: only a client that asked gets one.
    asked = s_client(port, pki.ca, "site.test", "-tls1_2", "-msg", "-status")
    check("CertificateStatus" in asked, "a TLS 1.2 client asking gets a CertificateStatus", asked[-800:])
    unasked = s_client(port, pki.ca, "site.test", "-tls1_2", "-msg")
    check("CertificateStatus" not in unasked and "Cipher is" in unasked,
          "a TLS 1.2 client that did not ask gets none", unasked[-800:])

    second = reload_with(renewed)
    check(second != first, "the renewed response has its own thisUpdate (%s, before %s)" % (second, first))

    # A response whose nextUpdate passes while proxyd serves (made 52 s ago, valid for a minute):
    # stapled until then, then no longer, with one warning however many clients ask. The 8 s left
    # cover the reload and a first handshake under load (the sanitizer build's TLS is slow).
    ending = pki.respond(site, pki.path("ending.der"), validity=("-nmin", "1"), clock="-52s")
    next_update = openssl_time(response_field(pki, ending, "Next Update"))
    reload_with(ending, stapled=False)
    ecdsa = ("-sigalgs", "ecdsa_secp256r1_sha256")  # the certificate whose file is renewed
    expected, stapled_in_time = response_field(pki, ending, "This Update"), False
    while not stapled_in_time and time.time() < next_update - 0.5:  # the old generation may answer first
        started = time.time()
        stapled_in_time = (field(s_client(port, pki.ca, "site.test", "-status", *ecdsa), "This Update") == expected
                           and started < next_update - 0.5)
    check(stapled_in_time, "the response about to go stale is stapled until its nextUpdate")
    time.sleep(max(0.0, next_update + 0.1 - time.time()))  # the clock itself is what is tested
    for _ in range(3):
        shown = s_client(port, pki.ca, "site.test", "-status", *ecdsa)
        check("OCSP response: no response sent" in shown, "not stapled once nextUpdate passed", shown[-600:])
    wait_for_log(proxyd, re.escape(live) + r" went stale \(nextUpdate passed\): no longer stapled")
    check_equal(proxyd.stderr_text().count("went stale (nextUpdate passed)"), 1,
                "the staple going stale is reported once")
    check(proxyd.alive(), "proxyd still running")


if __name__ == "__main__":
    run_test(main)
