"""What the health check, slow start and drain tests share: a backend whose health endpoint and
answers the test switches, and the admin listener's pages and peer-state POSTs."""

import json
import threading

from proxyd_harness import Backend, Client, check, response_bytes


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
