"""What the HTTP/2 tests share on the proxyd side: the listener key that turns HTTP/2 on (ALPN h2 on
a TLS listener, prior-knowledge h2c on a cleartext one) and the guard that skips, saying why, on
a proxyd built before HTTP/2 was wired into its listeners."""

import subprocess

from proxyd_harness import PROXYD_BIN, TestSkip, toml_str

HTTP2_KEY = "http2"


def h2_listener(name, port, target_kind, target, tls=None, host="127.0.0.1"):
    """A [[listeners]] block serving HTTP/2 (and HTTP/1.1) on host:port. tls: (certificate, key)."""
    text = "[[listeners]]\nname = %s\nlisten = %s\n%s = %s\n%s = true\n" % (
        toml_str(name), toml_str("%s:%d" % (host, port)), target_kind, toml_str(target), HTTP2_KEY)
    if tls:
        text += "tls = { certificate = %s, key = %s }\n" % (toml_str(tls[0]), toml_str(tls[1]))
    return text + "\n"


def require_http2(config_path):
    """Skips the test when `proxyd -t` refuses the config only because it does not know the key."""
    done = subprocess.run([PROXYD_BIN, "-t", "-c", config_path], capture_output=True, timeout=30)
    errors = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 and (".%s: unknown key" % HTTP2_KEY) in errors:
        raise TestSkip("this proxyd does not serve HTTP/2 yet (%s)" % errors.strip().splitlines()[0])
