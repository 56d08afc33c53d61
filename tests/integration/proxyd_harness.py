"""What proxyd's integration tests share: start and stop the real binary, write configs, pick ports,
speak raw HTTP/1.1 as a client, and play scripted backends.

Everything happens on 127.0.0.1, with a timeout on every socket and every wait, and every process
started here is stopped by its PID (SIGTERM, then SIGKILL after a bound) when the test ends.

The environment comes from tests/CMakeLists.txt (proxyd_add_integration_test): PROXYD_BIN,
PROXYD_SOURCE_DIR, PROXYD_PLUGIN_DIR, PROXYD_BUILD_DIR. Run by hand, the script falls back to the
source tree around it and needs only PROXYD_BIN.
"""

import atexit
import ctypes
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HOST = "127.0.0.1"
SOURCE_DIR = os.environ.get("PROXYD_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("PROXYD_BUILD_DIR", "")
PROXYD_BIN = os.environ.get("PROXYD_BIN") or os.path.join(BUILD_DIR or ".", "proxyd")
PLUGIN_DIR = os.environ.get("PROXYD_PLUGIN_DIR") or os.path.join(os.path.dirname(PROXYD_BIN), "plugins")
WWW_DIR = os.path.join(SOURCE_DIR, "www")
CONF_DIR = os.path.join(SOURCE_DIR, "conf.d")

START_TIMEOUT = 10.0  # seconds for proxyd to accept on every port it should listen on
STOP_GRACE = 10.0     # seconds between SIGTERM and SIGKILL


class TestFailure(Exception):
    """A check failed; the message says what was expected and what came."""


class TestSkip(Exception):
    """The test cannot run here, for the reason given (printed as SKIP, exit 0)."""


# ---- checks and the test's life ----------------------------------------------------------------

def check(condition, what, detail=""):
    if not condition:
        raise TestFailure(what + (" -- " + detail if detail else ""))
    print("ok   " + what, flush=True)


def check_equal(got, expected, what):
    if got != expected:
        raise TestFailure("%s -- expected %r, got %r" % (what, expected, got))
    print("ok   %s (%r)" % (what, got), flush=True)


def note(text):
    print("     " + text, flush=True)


_cleanups = []
_workdirs = []
_proxyds = []


def on_exit(fn):
    """Registers fn to run when the test ends (last registered runs first)."""
    _cleanups.append(fn)


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as error:  # a cleanup must not hide the test's own result
            print("cleanup: %s" % error, file=sys.stderr)


atexit.register(_run_cleanups)


def _exit_on_signal(signum, frame):
    # ctest ends a test that runs too long with a signal: leave through the cleanups, which stop proxyd.
    raise SystemExit("stopped by signal %d" % signum)


signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGHUP, _exit_on_signal)

_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn for children: the kernel sends SIGKILL to the child if this test process dies
    without its cleanups (SIGKILL from a harness), so no proxyd is left holding ports."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def workdir(tag):
    """A fresh temporary folder, removed when the test passes and kept (and named) when it fails."""
    path = tempfile.mkdtemp(prefix="proxyd-it-%s-" % tag)
    _workdirs.append(path)
    return path


def run_test(main):
    """Runs main(); prints PASS/FAIL/SKIP and exits 0 or 1 after stopping everything it started."""
    name = os.path.basename(sys.argv[0])
    if not os.path.exists(PROXYD_BIN):
        print("FAIL: %s: proxyd binary not found at %s (set PROXYD_BIN)" % (name, PROXYD_BIN))
        sys.exit(1)
    status = 1
    passed = False
    try:
        main()
        status = 0
        passed = True
    except TestSkip as reason:
        status = 0
        print("SKIP: %s" % reason, flush=True)
    except TestFailure as failure:
        print("FAIL: %s: %s" % (name, failure), flush=True)
    except (KeyboardInterrupt, SystemExit) as stop:
        print("FAIL: %s: interrupted (%s)" % (name, stop or "SIGINT"), flush=True)
    except Exception:
        traceback.print_exc()
        print("FAIL: %s: unexpected exception (above)" % name, flush=True)
    if status != 0:
        for proxyd in _proxyds:
            proxyd.dump_output()
    _run_cleanups()
    # Under ASan/UBSan a finding goes to proxyd's stderr, and LeakSanitizer's only when proxyd
    # exits (the cleanups above stopped it with SIGTERM): a report fails the test even when every
    # check passed.
    for proxyd in _proxyds:
        report = sanitizer_report(proxyd.stderr_text())
        if report:
            print("FAIL: %s: sanitizer report in %s:\n%s" % (name, proxyd.stderr_path, report), flush=True)
            status = 1
    if passed and status == 0:
        print("PASS: %s" % name, flush=True)
    for path in _workdirs:
        if status == 0:
            shutil.rmtree(path, ignore_errors=True)
        else:
            print("kept for inspection: %s" % path)
    sys.stdout.flush()
    sys.exit(status)


SANITIZER_MARKERS = ("ERROR: LeakSanitizer", "ERROR: AddressSanitizer", "runtime error:")


def sanitizer_report(text):
    """The sanitizer report in a process's stderr (from its first marker line), or ""."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(marker in line for marker in SANITIZER_MARKERS):
            return "\n".join(lines[i:i + 40])
    return ""


# ---- ports ---------------------------------------------------------------------------------------

def free_ports(count):
    """count distinct loopback ports that nothing holds now, below Linux's ephemeral range
    (32768-60999) so that no outgoing connection takes one between now and proxyd's bind."""
    rng = random.SystemRandom()
    chosen, held = [], []
    try:
        for _ in range(500):
            if len(chosen) == count:
                break
            port = rng.randrange(20000, 32000)
            if port in chosen:
                continue
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind((HOST, port))
            except OSError:
                probe.close()
                continue
            held.append(probe)
            chosen.append(port)
    finally:
        for probe in held:
            probe.close()
    if len(chosen) != count:
        raise TestFailure("could not find %d free loopback ports" % count)
    return chosen


def free_port():
    return free_ports(1)[0]


def port_accepts(port, timeout=0.5):
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def proc_status_kib(pid, field):
    """A size from /proc/PID/status in KiB: "VmRSS" (resident now), "VmHWM" (its peak)."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %d" % (field, pid))


def open_files(pid):
    """The regular files a process holds open, sorted: its sockets (a client's may close under it
    at any moment), pipes and devices left out."""
    fd_dir = "/proc/%d/fd" % pid
    held = []
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("/") and not target.startswith("/dev/"):
            held.append(target)
    return sorted(held)


def wait_for(what, condition, timeout=10.0, poll=0.02):
    """Polls condition until it holds; a failed check naming `what` if it does not within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    check(False, what)


PROFILE_PORTS_LOCK = os.path.join(tempfile.gettempdir(), "proxyd-integration-profile-ports.lock")
_held_locks = []


def require_ports_free(ports, wait=300.0):
    """The shipped profiles use fixed ports. ctest's RESOURCE_LOCK keeps one ctest run from starting
    two such tests at once; this file lock does the same across runs (a plain and a sanitizer build
    tested side by side on one machine). It is held until the test process exits. Then, refuse to
    start while something else still listens on one of the ports."""
    if not _held_locks:
        handle = open(PROFILE_PORTS_LOCK, "a")
        deadline = time.monotonic() + wait
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TestFailure("another test run held %s for %.0f s" % (PROFILE_PORTS_LOCK, wait))
                if not waited:
                    note("another test run uses the profile ports; waiting for %s" % PROFILE_PORTS_LOCK)
                    waited = True
                time.sleep(0.2)
        _held_locks.append(handle)
    deadline = time.monotonic() + 5
    while True:
        busy = [p for p in ports if port_accepts(p, timeout=0.3)]
        if not busy:
            return
        if time.monotonic() > deadline:
            raise TestFailure("ports already in use by another process: %s -- stop it first (ss -ltnp)"
                              % ", ".join(map(str, busy)))
        time.sleep(0.2)


# ---- configs -------------------------------------------------------------------------------------

def toml_str(text):
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(str(text))


PLUGIN_FILES = {
    "static": "content_static.so",
    "round_robin": "balancing_round_robin.so",
    "prefix": "routing_prefix.so",
}


def config_head(access="stderr", level="info", workers=1, plugins=("static", "round_robin", "prefix")):
    """The top of a generated config: workers, plugin_dir, [log] and [plugins]. plugins=None writes
    no [plugins] table: the config then uses the built-in plugin set (static, prefix, round_robin
    by name, round_robin for an upstream without balancer)."""
    lines = ["workers = %d" % workers, "plugin_dir = %s" % toml_str(PLUGIN_DIR), "",
             "[log]", "access = %s" % toml_str(access), "level = %s" % toml_str(level), ""]
    if plugins is not None:
        lines += ["[plugins]"] + ["%s = %s" % (name, toml_str(PLUGIN_FILES[name])) for name in plugins]
    return "\n".join(lines) + "\n\n"


def static_handler(name, root, extra=""):
    mime = os.path.join(CONF_DIR, "mime.toml")
    text = "[handlers.%s]\nplugin = \"static\"\nroot = %s\n" % (name, toml_str(root))
    if os.path.exists(mime):
        text += "mime_types = %s\n" % toml_str(mime)
    return text + extra + "\n"


def upstream(name, peers, extra=""):
    text = "[upstreams.%s]\npeers = [%s]\n" % (name, ", ".join(toml_str("%s:%d" % (HOST, p)) for p in peers))
    return text + extra + "\n"


def listener(name, port, target_kind, target):
    """target_kind is "handler" or "upstream"."""
    return "[[listeners]]\nname = %s\nlisten = %s\n%s = %s\n\n" % (
        toml_str(name), toml_str("%s:%d" % (HOST, port)), target_kind, toml_str(target))


def make_certificate(folder, stem, names, days=30, ips=()):
    """A self-signed ECDSA P-256 certificate for the DNS names and IP addresses, valid for days
    (under 15, proxyd warns that it expires soon); returns (certificate path, key path)."""
    cert, key = os.path.join(folder, stem + ".crt"), os.path.join(folder, stem + ".key")
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + ip for ip in ips])
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", str(days), "-subj", "/CN=" + (list(names) + list(ips))[0],
                    "-addext", "subjectAltName=" + san], check=True, capture_output=True, timeout=30)
    return cert, key


def read_head(conn):
    """What conn sends up to the blank line that ends a message head (and any bytes that came
    with it), or None when the peer closes first. For raw backends."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def upgrade_raw(conn, conn_id):
    """A raw backend (Backend(raw=upgrade_raw)) that switches protocols, then echoes what it reads
    in upper case until EOF."""
    if read_head(conn) is None:
        return
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\n\r\n")
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        conn.sendall(chunk.upper())


def read_until_close(sock):
    """Every byte the peer sends until it closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- the proxyd process --------------------------------------------------------------------------

class Proxyd:
    """One proxyd process: `PROXYD_BIN -c config`, its stdout and stderr in files of `folder`."""

    def __init__(self, config, folder, cwd=None, tag="proxyd"):
        self.config = config
        self.folder = folder
        self.cwd = cwd or folder
        self.tag = tag
        self.stdout_path = os.path.join(folder, tag + ".stdout")
        self.stderr_path = os.path.join(folder, tag + ".stderr")
        self.proc = None
        self.returncode = None

    def start(self, ports, timeout=START_TIMEOUT, attempts=3):
        """Starts proxyd and waits until every port in `ports` accepts connections.

        A fixed port inside the ephemeral range (44444) can be held for a moment by some outgoing
        connection; when proxyd exits saying an address is in use, it is started again (bounded)."""
        for attempt in range(1, attempts + 1):
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen([PROXYD_BIN, "-c", self.config], cwd=self.cwd,
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                             preexec_fn=die_with_parent)
            if self not in _proxyds:
                _proxyds.append(self)
                on_exit(self.stop)
            note("started proxyd pid %d: %s -c %s" % (self.proc.pid, PROXYD_BIN, self.config))
            exited = self._wait_ports(ports, timeout)
            if exited is None:
                return self
            in_use = "in use" in self.stderr_text().lower()
            if not in_use or attempt == attempts:
                raise TestFailure("proxyd exited with code %s before 127.0.0.1:%d accepted connections; stderr:\n%s"
                                  % (self.proc.returncode, exited, self.stderr_tail()))
            note("proxyd says an address is in use; starting it again in 2 s (attempt %d of %d)"
                 % (attempt + 1, attempts))
            time.sleep(2)
        return self

    def _wait_ports(self, ports, timeout):
        """None once every port accepts; the port waited on if proxyd exits first."""
        deadline = time.monotonic() + timeout
        for port in ports:
            while not port_accepts(port, timeout=0.3):
                if self.proc.poll() is not None:
                    return port
                if time.monotonic() > deadline:
                    raise TestFailure("proxyd did not accept on 127.0.0.1:%d within %.0f s; stderr:\n%s"
                                      % (port, timeout, self.stderr_tail()))
                time.sleep(0.05)
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, signum):
        if self.alive():
            os.kill(self.proc.pid, signum)

    def wait(self, timeout):
        """The exit code, or None if proxyd still runs after `timeout` seconds."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, signum=signal.SIGTERM, grace=STOP_GRACE):
        """Stops proxyd by its PID; returns its exit code (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)
            if self.wait(grace) is None:
                print("proxyd pid %d ignored signal %d for %.0f s: SIGKILL" % (self.proc.pid, signum, grace))
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        return self.returncode

    def stderr_text(self):
        try:
            return read_file(self.stderr_path).decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, lines=30):
        return "\n".join(self.stderr_text().splitlines()[-lines:])

    def dump_output(self):
        print("---- last lines of %s (proxyd pid %s) ----" % (self.stderr_path, self.proc.pid if self.proc else "-"))
        print(self.stderr_tail(40))
        print("----")


def wait_for_log(proxyd, pattern, timeout=20.0, poll=0.02):
    """The monotonic time at which the regex pattern was first seen in proxyd's error log (stderr);
    a failed check if proxyd exits or the line does not come within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, proxyd.stderr_text()):
            return time.monotonic()
        check(proxyd.alive(), "proxyd still runs while waiting for %r" % pattern, proxyd.stderr_tail())
        time.sleep(poll)
    check(False, "proxyd logged %r within %.0f s" % (pattern, timeout), proxyd.stderr_tail())


# ---- the access log ------------------------------------------------------------------------------

# Combined log format, then the fields proxyd adds.
ACCESS_LINE = re.compile(
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)" '
    r'upstream=(?P<upstream>\S+) upstream_status=(?P<upstream_status>\S+) rt=(?P<rt>[0-9.]+) '
    r'listener=(?P<listener>\S+) request_id=(?P<request_id>\S+)$')


def access_log_entries(text):
    """Every line of `text` in the access-log format, as dicts of its fields."""
    return [m.groupdict() for m in map(ACCESS_LINE.search, text.splitlines()) if m]


# ---- HTTP/1.1 on raw sockets ---------------------------------------------------------------------

class ConnectionClosed(Exception):
    """The peer closed the connection before a whole message arrived."""


class Message:
    """A request or a response as it came off the wire."""

    def __init__(self, start_line, headers, body=b"", framing="none"):
        self.start_line = start_line
        self.headers = headers  # [(name, value)] in wire order, names as sent
        self.body = body
        self.framing = framing  # "length", "chunked", "close" or "none"
        self.trailers = []  # [(name, value)] after a chunked body's last chunk, in wire order
        parts = start_line.split(" ", 2)
        if start_line.startswith("HTTP/"):
            self.version, self.status = parts[0], int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
        else:
            self.method, self.target, self.version = (parts + ["", ""])[:3]

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def has(self, name):
        return bool(self.all(name))

    def connection_tokens(self):
        return {t.strip().lower() for v in self.all("Connection") for t in v.split(",") if t.strip()}


class Reader:
    """Buffered reads of HTTP messages from a socket that has a timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.last_trailers = []  # those of the last chunked body read

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionClosed("connection closed by peer")
        self.buf += data

    def read_until(self, marker, limit=65536):
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                out = bytes(self.buf[:at + len(marker)])
                del self.buf[:at + len(marker)]
                return out
            if len(self.buf) > limit:
                raise TestFailure("no %r within %d bytes: %r" % (marker, limit, bytes(self.buf[:200])))
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_to_close(self):
        try:
            while True:
                self._fill()
        except ConnectionClosed:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_head(self):
        raw = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = raw[:-4].split("\r\n")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise TestFailure("malformed header line %r" % line)
            headers.append((name, value.strip(" \t")))
        return lines[0], headers

    def read_chunked(self):
        body = bytearray()
        while True:
            size_line = self.read_until(b"\r\n").decode("latin-1").strip()
            size = int(size_line.split(";")[0], 16)
            if size == 0:
                self.last_trailers = []
                while True:
                    line = self.read_until(b"\r\n")
                    if line == b"\r\n":
                        return bytes(body)
                    name, _, value = line[:-2].decode("latin-1").partition(":")
                    self.last_trailers.append((name, value.strip(" \t")))
            body += self.read_exact(size)
            if self.read_exact(2) != b"\r\n":
                raise TestFailure("chunk of %d bytes not followed by CRLF" % size)

    def read_body(self, msg, allow_close):
        te = ",".join(msg.all("Transfer-Encoding")).lower()
        if "chunked" in te:
            msg.body, msg.framing = self.read_chunked(), "chunked"
            msg.trailers = self.last_trailers
        elif msg.has("Content-Length"):
            msg.body, msg.framing = self.read_exact(int(msg.header("Content-Length"))), "length"
        elif allow_close:
            msg.body, msg.framing = self.read_to_close(), "close"
        return msg

    def read_response(self, method="GET"):
        start, headers = self.read_head()
        msg = Message(start, headers)
        if method == "HEAD" or msg.status in (204, 304) or 100 <= msg.status < 200:
            return msg
        return self.read_body(msg, allow_close=True)

    def read_request(self):
        start, headers = self.read_head()
        return self.read_body(Message(start, headers), allow_close=False)


def build_request(method, target, headers=(), body=None, host=None):
    """A request's bytes. Host and Content-Length are added unless given (or chunked is set)."""
    headers = list(headers)
    names = {n.lower() for n, _ in headers}
    if "host" not in names:
        headers.insert(0, ("Host", host or "127.0.0.1"))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        headers.append(("Content-Length", str(len(body))))
    head = "%s %s HTTP/1.1\r\n" % (method, target) + "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def chunked(body, piece=8192):
    """body in chunked transfer coding, in pieces of `piece` bytes."""
    out = bytearray()
    for at in range(0, len(body), piece):
        part = body[at:at + piece]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


class Client:
    """One client connection to 127.0.0.1:port."""

    def __init__(self, port, timeout=10.0, rcvbuf=None):
        """rcvbuf: a small receive buffer (set before connecting, so the window stays small) keeps
        most of a large response in the server's send buffer while the client does not read."""
        if rcvbuf is None:
            self.sock = socket.create_connection((HOST, port), timeout=timeout)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((HOST, port))
        self.reader = Reader(self.sock)

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=(), body=None, host=None):
        self.send(build_request(method, target, headers, body, host))
        return self.reader.read_response(method)

    def read_response(self, method="GET"):
        return self.reader.read_response(method)

    def receive_some(self):
        """Takes whatever has arrived (at least one byte) into the read buffer."""
        self.reader._fill()

    def closed_by_peer(self, within=2.0):
        """True if the peer closes the connection (EOF or reset) within `within` seconds."""
        self.sock.settimeout(within)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def get(port, target, headers=(), timeout=10.0):
    """One GET on a fresh connection that is closed afterwards."""
    with Client(port, timeout) as client:
        return client.request("GET", target, headers)


# ---- scripted backends ---------------------------------------------------------------------------

def response_bytes(status, body=b"", headers=(), reason=None):
    reasons = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}
    head = "HTTP/1.1 %d %s\r\n" % (status, reason or reasons.get(status, "Status"))
    names = {n.lower() for n, _ in headers}
    if "content-length" not in names and "transfer-encoding" not in names:
        headers = list(headers) + [("Content-Length", str(len(body)))]
    head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    return head.encode("latin-1") + body


def echo_json(request, conn_id):
    """What an echo backend answers: the request it received, as JSON."""
    return {
        "method": request.method,
        "target": request.target,
        "version": request.version,
        "headers": request.headers,
        "framing": request.framing,
        "body_length": len(request.body),
        "body_sha256": sha256(request.body),
        "trailers": request.trailers,
        "connection": conn_id,
    }


def echo_handler(request, conn_id):
    body = json.dumps(echo_json(request, conn_id)).encode("utf-8")
    return [response_bytes(200, body, [("Content-Type", "application/json")])], False


class Backend:
    """A tiny HTTP server on a loopback port, one thread per connection.

    handler(request, conn_id) returns (pieces, close): pieces are bytes to send or numbers of seconds
    to sleep, in order; close says whether to close the connection afterwards. A handler may raise
    ConnectionClosed to drop the connection without answering. Every request is kept in .requests.
    Without a handler, raw(conn_socket, conn_id) may take the whole connection over instead.
    With ssl_context (a server-side ssl.SSLContext) it speaks HTTPS: each connection's handshake
    is done first, and .tls_connections keeps (conn_id, session_reused, peer certificate) for each,
    .tls_ciphers the cipher suite each one agreed.
    """

    def __init__(self, handler=echo_handler, raw=None, tag="backend", ssl_context=None, host=HOST, port=0):
        self.handler = handler
        self.raw = raw
        self.tag = tag
        self.ssl_context = ssl_context
        self.tls_connections = []
        self.tls_ciphers = []
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.open = set()
        self.listen_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listen_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listen_sock.bind((host, port))
        self.listen_sock.listen(128)
        self.listen_sock.settimeout(0.2)
        self.port = self.listen_sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        on_exit(self.stop)

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listen_sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn_id = self.connections
                self.open.add(conn)
            threading.Thread(target=self._serve, args=(conn, conn_id), daemon=True).start()

    def _serve(self, conn, conn_id):
        conn.settimeout(30)
        try:
            if self.ssl_context is not None:
                plain = conn
                conn = self.ssl_context.wrap_socket(plain, server_side=True)
                with self.lock:
                    self.open.discard(plain)
                    self.open.add(conn)
                    self.tls_connections.append((conn_id, conn.session_reused, conn.getpeercert()))
                    self.tls_ciphers.append(conn.cipher()[0])
            if self.raw is not None:
                self.raw(conn, conn_id)
                return
            reader = Reader(conn)
            while not self.stopping.is_set():
                request = reader.read_request()
                with self.lock:
                    self.requests.append((conn_id, request))
                pieces, close = self.handler(request, conn_id)
                for piece in pieces:
                    if isinstance(piece, (int, float)):
                        time.sleep(piece)
                    else:
                        conn.sendall(piece)
                if close or "close" in request.connection_tokens():
                    return
        except (ConnectionClosed, OSError, TestFailure):
            pass
        finally:
            with self.lock:
                self.open.discard(conn)
            conn.close()

    def stop(self):
        self.stopping.set()
        self.listen_sock.close()
        with self.lock:
            conns = list(self.open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---- curl ----------------------------------------------------------------------------------------

def curl(url, folder, *extra, timeout=30):
    """Runs curl on `url`: returns (status, headers of the last response as a list, body bytes)."""
    if shutil.which("curl") is None:
        raise TestFailure("curl is not installed")
    body_path = os.path.join(folder, "curl.body")
    head_path = os.path.join(folder, "curl.head")
    for path in (body_path, head_path):
        if os.path.exists(path):
            os.remove(path)
    cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout), "-o", body_path, "-D", head_path,
           "-w", "%{http_code}", *extra, url]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout + 10)
    if done.returncode != 0:
        raise TestFailure("%s failed (exit %d): %s" % (" ".join(cmd), done.returncode,
                                                       done.stderr.decode("utf-8", "replace").strip()))
    raw = read_file(head_path).decode("latin-1")
    last = [block for block in raw.split("\r\n\r\n") if block.strip()][-1]
    headers = []
    for line in last.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    body = read_file(body_path) if os.path.exists(body_path) else b""
    return int(done.stdout.decode().strip() or 0), headers, body


def header_of(headers, name):
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


# ---- headless Chromium ---------------------------------------------------------------------------

CHROMIUM_TIMEOUT = 90  # seconds for one headless Chromium run


def find_chromium():
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_chromium(chromium, url, extra, folder, tag, virtual_time_ms=2000):
    """Runs headless Chromium on url in a fresh profile; returns its stdout. Killed (its whole process
    group, which this call created) if it outlives CHROMIUM_TIMEOUT."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=folder)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-proxy-server", "--user-data-dir=" + profile,
           "--virtual-time-budget=%d" % virtual_time_ms] + extra + [url]
    note("running: " + " ".join(cmd))
    with open(os.path.join(folder, tag + ".stderr"), "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=folder, preexec_fn=die_with_parent)
        try:
            out, _ = proc.communicate(timeout=CHROMIUM_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
            check(False, "chromium (%s) finished within %d s" % (tag, CHROMIUM_TIMEOUT))
    if proc.returncode != 0:
        note("chromium %s exited with %d; stderr in %s" % (tag, proc.returncode, err.name))
    return out.decode("utf-8", "replace")
