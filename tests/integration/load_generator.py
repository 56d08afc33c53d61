"""A bounded load generator for the reload and stop tests: threads sending GETs, some on kept-alive
connections, some on new ones, recording every request's outcome.

Outcomes: "ok" (a whole 2xx response), "failed" (a non-2xx, a reset or close after some response
bytes, a timeout), "unanswered" (a new connection was made, then closed or reset before any byte of
the response: what a client sees when a listening socket closes with it still in its accept queue),
"refused" (a new connection that could not be made). With retry=True, a request on a reused keep-alive
connection that the server closed before any byte of the response is retried once on a new
connection, as RFC 9112 §9.3.1 allows for idempotent requests and browsers do; such retries are
counted. With retry=False it is "unanswered", as wrk and most load tools see it: they never retry."""

import random
import socket
import threading
import time

from proxyd_harness import HOST, ConnectionClosed, Reader, build_request


class CountingReader(Reader):
    def __init__(self, sock):
        super().__init__(sock)
        self.received = 0

    def _fill(self):
        before = len(self.buf)
        super()._fill()
        self.received += len(self.buf) - before


class Result:
    def __init__(self, started, outcome, status=None, body=b"", detail="", retried=False, reused=False):
        self.started, self.finished = started, time.monotonic()
        self.outcome, self.status, self.body, self.detail = outcome, status, body, detail
        self.retried, self.reused = retried, reused


class LoadGenerator:
    def __init__(self, port, threads=6, duration=6.0, target="/", new_connection_share=0.3, timeout=15.0,
                 retry=True):
        self.port, self.threads, self.duration, self.target = port, threads, duration, target
        self.retry = retry
        self.new_connection_share, self.timeout = new_connection_share, timeout
        self.results = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.workers = []

    def start(self):
        self.deadline = time.monotonic() + self.duration
        for n in range(self.threads):
            t = threading.Thread(target=self._run, args=(random.Random(n),), daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def stop(self):
        self.stop_event.set()

    def join(self):
        for t in self.workers:
            t.join(self.duration + 2 * self.timeout)
        return not any(t.is_alive() for t in self.workers)

    def _connect(self):
        sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, CountingReader(sock)

    def _exchange(self, conn):
        """(result kind, response or error text, keep the connection)."""
        sock, reader = conn
        reader.received = 0
        try:
            sock.sendall(build_request("GET", self.target))
            response = reader.read_response()
        except (ConnectionClosed, OSError) as error:
            kind = "unanswered" if reader.received == 0 else "broken"
            return kind, "%s: %s" % (type(error).__name__, error), False
        keep = "close" not in response.connection_tokens()
        return "answered", response, keep

    def _run(self, rng):
        conn = None
        while not self.stop_event.is_set() and time.monotonic() < self.deadline:
            started = time.monotonic()
            reused = conn is not None
            if conn is None:
                try:
                    conn = self._connect()
                except OSError as error:
                    self._record(Result(started, "refused", detail=str(error)))
                    time.sleep(0.01)
                    continue
            kind, answer, keep = self._exchange(conn)
            retried = False
            if kind == "unanswered" and reused and self.retry:
                # The server closed the idle connection as the request went out: retry once.
                conn[0].close()
                retried = True
                try:
                    conn = self._connect()
                except OSError as error:
                    self._record(Result(started, "refused", detail=str(error), retried=True, reused=reused))
                    conn = None
                    continue
                kind, answer, keep = self._exchange(conn)
            if kind != "answered":
                outcome = "failed" if kind == "broken" else "unanswered"
                self._record(Result(started, outcome, detail=answer, retried=retried, reused=reused))
                keep = False
            elif 200 <= answer.status < 300:
                self._record(Result(started, "ok", answer.status, answer.body, retried=retried, reused=reused))
            else:
                self._record(Result(started, "failed", answer.status, answer.body, "status %d" % answer.status,
                                    retried=retried, reused=reused))
            if not keep or rng.random() < self.new_connection_share:
                conn[0].close()
                conn = None
        if conn is not None:
            conn[0].close()

    def _record(self, result):
        with self.lock:
            self.results.append(result)

    def count(self, outcome):
        return sum(1 for r in self.results if r.outcome == outcome)

    def retries(self):
        return sum(1 for r in self.results if r.retried)
