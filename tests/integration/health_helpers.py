"""What the health check, slow start and drain tests share: a backend whose health endpoint and
answers the test switches, and the admin listener's pages and peer-state POSTs."""

import json
import re
import threading

from proxyd_harness import Backend, Client, check, check_equal, get, response_bytes, wait_for_log


class SwitchableBackend:
    """A backend that names itself in every answer. self.healthy says what /health answers (200 or
    500); self.sick makes every other request a 500 too; /slow sleeps self.slow_seconds first.
    Requests other than /health are counted in self.served, health checks in self.checks. With
    ssl_context (a server-side ssl.SSLContext) it speaks HTTPS."""

    def __init__(self, name, ssl_context=None):
        self.name = name
        self.healthy = True
        self.sick = False
        self.slow_seconds = 2.0
        self.flap = False  # /health alternates pass and fail, starting with a failure
        self.served = 0
        self.checks = 0
        self.lock = threading.Lock()
        self.backend = Backend(self._handle, tag=name, ssl_context=ssl_context)
        self.port = self.backend.port

    def _handle(self, request, conn_id):
        path = request.target
        with self.lock:
            if path == "/health":
                self.checks += 1
                ok = self.healthy if not self.flap else self.checks % 2 == 0
                body = b"status: ok\n" if ok else b"status: failing\n"
                return [response_bytes(200 if ok else 500, body)], False
            self.served += 1
            sick = self.sick
        pieces = [self.slow_seconds] if path == "/slow" else []
        body = ("%s\n" % self.name).encode()
        return pieces + [response_bytes(500 if sick else 200, body)], False

    def count(self):
        with self.lock:
            return self.served, self.checks


def admin_request(port, method, path):
    with Client(port) as c:
        return c.request(method, path, [("Connection", "close")])


def peer_status(admin_port, group, address):
    """The peer's object in /status.json."""
    response = admin_request(admin_port, "GET", "/status.json")
    check(response.status == 200, "GET /status.json answers 200", response.start_line)
    for u in json.loads(response.body)["upstreams"]:
        if u["name"] == group:
            for p in u["peers"]:
                if p["address"] == address:
                    return p
    check(False, "/status.json lists peer %s of %s" % (address, group), response.body[:400])


def recovers(proxyd, front, backend, address, group="web"):
    """The backend, sick until now, turns healthy: the log says its peer is up after rise (2)
    passing checks, and it serves its share of 20 requests to the front listener again."""
    backend.sick = False
    backend.healthy = True
    wait_for_log(proxyd, r"upstream %s peer %s: up: 2 health check\(s\) passed in a row" % (group, re.escape(address)),
                 timeout=5)
    served_before = backend.count()[0]
    statuses = [get(front, "/").status for _ in range(20)]
    check_equal(set(statuses), {200}, "20 requests after %s recovered" % backend.name)
    check(backend.count()[0] - served_before >= 5, "%s is back in rotation" % backend.name,
          str(backend.count()[0] - served_before))
