#!/usr/bin/env python3
"""An upstream group under pressure (issue 14): max_connections with a bounded queue, retry_on with a
retry budget, and outlier ejection.

- queue: a slow peer with max_connections = 1 and queue_size = 2: a request queued behind a short
  one proceeds when its slot frees; behind a long one, two queued requests get 503 with Retry-After
  once queue_timeout passes, and a third, finding the queue full, gets 503 at once; the access log
  says queue-full / queue-timeout; a client that leaves while queued frees its place (the queue
  gauge returns to 0, and under ASan nothing leaks).
- ejection: a peer answering 500 is ejected after consecutive_5xx answers (the requests go to the
  other peer), and readmitted once its ejection time is over.
- retry_on = ["503"]: a GET that meets the 503 peer is answered by the healthy one (the access log
  lists both peers and both statuses, 503,200); a POST is not retried and gets the 503.
- a refused connect: the retried GET's access-log line lists the closed port with "-" beside it.
- budget: with both peers always answering 503, a small retry budget bounds the attempts the peers
  see (counted in the test backends), and proxyd_upstream_retry_budget_exhausted_total counts the
  refused retries."""

import re
import threading
import time

from proxyd_harness import (Backend, Client, Proxyd, access_log_entries, check, check_equal, config_head,
                            free_ports, get, listener, note, read_file, response_bytes, run_test, upstream,
                            wait_for, workdir, write_file)

LONG = 1.2       # seconds a "long" request holds its peer
SHORT = 0.3
QUEUE_TIMEOUT_MS = 600


def sleepy_backend(tag):
    """GET /sleep/S answers after S seconds; anything else at once."""
    def handler(request, conn_id):
        pieces = [response_bytes(200, tag.encode() + b"\n", [("Content-Type", "text/plain")])]
        m = re.match(r"/sleep/([0-9.]+)", request.target)
        if m:
            pieces.insert(0, float(m.group(1)))
        return pieces, False
    return Backend(handler, tag=tag)


def status_backend(tag, status):
    """Answers status[0] (a one-element list, so the test can change it)."""
    def handler(request, conn_id):
        code = status[0]
        return [response_bytes(code, tag.encode() + b"\n", [("Content-Type", "text/plain")],
                               reason="Service Unavailable" if code == 503 else None)], False
    return Backend(handler, tag=tag)


def admin_metrics(port):
    with Client(port) as c:
        r = c.request("GET", "/metrics", [("Connection", "close")])
    check_equal(r.status, 200, "GET /metrics")
    return r.body.decode()


def metric(text, name, **labels):
    total = 0.0
    found = False
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all('%s="%s"' % (k, v) in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    check(found, "metric %s%s present" % (name, labels))
    return total


def start(folder, tag, ports, body, workers=1):
    access = "%s/%s-access.log" % (folder, tag)
    admin, front = ports
    config = (config_head(access=access, workers=workers) + "[admin]\nlisten = \"127.0.0.1:%d\"\n\n" % admin + body
              + listener("front", front, "upstream", "app"))
    path = "%s/%s.toml" % (folder, tag)
    write_file(path, config)
    proxyd = Proxyd(path, folder, tag=tag)
    proxyd.start([admin, front])
    return proxyd, access


def in_thread(fn, results, key):
    def run():
        try:
            results[key] = fn()
        except Exception as e:  # recorded, checked by the caller
            results[key] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def queue(folder, workers):
    """With two workers the slot, the queue's length and its limit are the process's: a request
    queued in one worker proceeds when a request of the other frees the slot."""
    peer = sleepy_backend("slow")
    admin, front = free_ports(2)
    proxyd, access = start(folder, "queue%d" % workers, (admin, front), upstream(
        "app", [peer.port], 'max_connections = 1\nqueue_size = 2\nqueue_timeout = "%dms"\n'
        'max_fails = 0\n' % QUEUE_TIMEOUT_MS), workers=workers)

    # Behind a short request, a queued one proceeds when the slot frees.
    results = {}
    first = in_thread(lambda: get(front, "/sleep/%s" % SHORT), results, "first")
    wait_for("the first request at the peer", lambda: len(peer.requests) == 1, timeout=5)
    began = time.monotonic()
    second = get(front, "/after-short")
    waited = time.monotonic() - began
    first.join(10)
    check_equal(results["first"].status, 200, "the short request's status")
    check_equal(second.status, 200, "a request queued behind the short one")
    check(waited >= SHORT * 0.5, "the queued request waited for the slot", "%.3f s" % waited)
    note("queued behind a %.1f s request: answered after %.3f s" % (SHORT, waited))

    # Behind a long request: two wait and time out, a third finds the queue full.
    results = {}
    before = len(peer.requests)
    long_one = in_thread(lambda: get(front, "/sleep/%s" % LONG), results, "long")
    wait_for("the long request at the peer", lambda: len(peer.requests) == before + 1, timeout=5)
    queued_at = time.monotonic()
    waiters = [in_thread(lambda: get(front, "/queued"), results, "queued%d" % i) for i in range(2)]
    wait_for("two queued requests", lambda: metric(admin_metrics(admin), "proxyd_upstream_queued_requests") == 2,
             timeout=5)
    began = time.monotonic()
    full = get(front, "/full")
    full_after = time.monotonic() - began
    check_equal(full.status, 503, "a request finding the queue full")
    check(full_after < 0.3, "the queue-full 503 comes at once", "%.3f s" % full_after)
    check_equal(full.header("Retry-After"), "1", "its Retry-After")
    for t in waiters:
        t.join(10)
    note("workers=%d: 2 requests queued behind a %.1f s one got 503 after %.3f s (queue_timeout %d ms); "
         "a third, queue full, after %.3f s" % (workers, LONG, time.monotonic() - queued_at, QUEUE_TIMEOUT_MS,
                                                full_after))
    for i in range(2):
        r = results["queued%d" % i]
        check(not isinstance(r, Exception), "queued request %d answered" % i, repr(r))
        check_equal(r.status, 503, "a queued request past queue_timeout")
        check(r.has("Retry-After"), "its Retry-After")
    long_one.join(10)
    check_equal(results["long"].status, 200, "the long request's status")
    check_equal(len(peer.requests), before + 1, "requests the peer saw (only the long one)")

    # A client that leaves while queued frees its place.
    results = {}
    before = len(peer.requests)
    # Long enough for the leaver to be seen queued (within its queue_timeout) under load; a short
    # holder could free the slot before the leaver came, and the leaver would be forwarded.
    holder = in_thread(lambda: get(front, "/sleep/%s" % LONG), results, "holder")
    wait_for("the holding request at the peer", lambda: len(peer.requests) == before + 1, timeout=5)
    leaver = Client(front)
    leaver.send(b"GET /leaves HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_for("the leaving client queued", lambda: metric(admin_metrics(admin), "proxyd_upstream_queued_requests") == 1,
             timeout=5)
    leaver.close()
    wait_for("the queue empty", lambda: metric(admin_metrics(admin), "proxyd_upstream_queued_requests") == 0,
             timeout=5)
    holder.join(10)
    check_equal(results["holder"].status, 200, "the holding request")
    check_equal(get(front, "/next").status, 200, "a request after the client left the queue")
    check_equal(len(peer.requests), before + 2, "the left request never reached the peer")

    text = admin_metrics(admin)
    check_equal(metric(text, "proxyd_upstream_queue_rejected_total", reason="full"), 1, "queue-full count")
    check_equal(metric(text, "proxyd_upstream_queue_rejected_total", reason="timeout"), 2, "queue-timeout count")
    # The worker hands the connection back just after the response's last byte went to the
    # client, so the gauge may lag the client by that moment on a loaded machine.
    wait_for("no connection in use at rest",
             lambda: metric(admin_metrics(admin), "proxyd_upstream_peer_in_use_connections") == 0, timeout=5)
    proxyd.stop()
    entries = access_log_entries(read_file(access).decode())
    upstreams = [e["upstream"] for e in entries if e["status"] == "503"]
    check_equal(sorted(upstreams), ["queue-full", "queue-timeout", "queue-timeout"], "the 503s' access log")


def ejection(folder):
    bad_status = [500]
    bad, good = status_backend("bad", bad_status), status_backend("good", [200])
    admin, front = free_ports(2)
    proxyd, _ = start(folder, "eject", (admin, front), upstream(
        "app", [bad.port, good.port], 'max_fails = 0\n'
        'outlier = { consecutive_5xx = 3, base_ejection = "1s", max_ejection_percent = 50 }\n'))
    statuses = [get(front, "/").status for _ in range(6)]
    check_equal(statuses.count(500), 3, "500s before the ejection")
    check_equal(len(bad.requests), 3, "requests the bad peer saw before its ejection")
    for _ in range(8):
        check_equal(get(front, "/").status, 200, "a request while the bad peer is ejected")
    check_equal(len(bad.requests), 3, "requests the ejected peer saw")
    text = admin_metrics(admin)
    check_equal(metric(text, "proxyd_upstream_peer_ejected", peer="127.0.0.1:%d" % bad.port), 1, "ejected gauge")
    check_equal(metric(text, "proxyd_upstream_peer_ejections_total", peer="127.0.0.1:%d" % bad.port), 1,
                "ejections")
    check("ejected for 1000 ms (consecutive 5xx)" in proxyd.stderr_text(), "the ejection is logged")
    bad_status[0] = 200
    time.sleep(1.1)
    for _ in range(4):
        check_equal(get(front, "/").status, 200, "a request after the ejection")
    check(len(bad.requests) >= 4, "the peer is readmitted after its ejection time", "%d" % len(bad.requests))
    note("the 500-answering peer: ejected after 3 answers, 8 requests went to the other; after 1.1 s it "
         "took %d of the next 4" % (len(bad.requests) - 3))
    proxyd.stop()


def retry_on_status(folder):
    bad, good = status_backend("bad", [503]), status_backend("good", [200])
    admin, front = free_ports(2)
    proxyd, access = start(folder, "retry", (admin, front), upstream(
        "app", [bad.port, good.port], 'max_fails = 0\nretry_on = ["503"]\n'))
    for i in range(4):
        r = get(front, "/get%d" % i)
        check_equal(r.status, 200, "a GET retried after a 503")
        check_equal(r.body, b"good\n", "its body")
    check_equal(len(bad.requests), 2, "GETs that met the 503 peer first")
    # The access log lists each attempt's status beside its peer, as nginx's $upstream_status.
    wait_for("the four GETs' access-log lines", lambda: len(
        [e for e in access_log_entries(read_file(access).decode()) if " /get" in e["request"]]) == 4)
    attempts = sorted((e["upstream"], e["upstream_status"]) for e in access_log_entries(read_file(access).decode())
                      if " /get" in e["request"])
    check_equal(attempts, sorted([("127.0.0.1:%d" % good.port, "200")] * 2 +
                                 [("127.0.0.1:%d,127.0.0.1:%d" % (bad.port, good.port), "503,200")] * 2),
                "upstream and upstream_status of the GETs, one status per attempt")
    posts = []
    for i in range(4):
        with Client(front) as c:
            posts.append(c.request("POST", "/post%d" % i, body=b"x=1").status)
    check_equal(sorted(posts), [200, 200, 503, 503], "POSTs: not retried")
    check_equal(metric(admin_metrics(admin), "proxyd_upstream_retries_total"), 2, "retries counted")
    proxyd.stop()


def connect_failure_logged(folder):
    """A request retried after a refused connect lists the closed port with "-" as its status:
    upstream= and upstream_status= stay in step (nginx writes 502 there; proxyd's "-" is its word
    for an attempt without an answer, as for the last one)."""
    good = status_backend("good", [200])
    admin, front, closed = free_ports(3)
    proxyd, access = start(folder, "refused", (admin, front), upstream("app", [closed, good.port]))
    for i in range(2):
        check_equal(get(front, "/refused%d" % i).status, 200, "a GET past the closed port")
    wait_for("the two GETs' access-log lines", lambda: len(
        [e for e in access_log_entries(read_file(access).decode()) if " /refused" in e["request"]]) == 2)
    attempts = [(e["upstream"], e["upstream_status"]) for e in access_log_entries(read_file(access).decode())
                if " /refused" in e["request"]]
    check_equal(attempts, [("127.0.0.1:%d,127.0.0.1:%d" % (closed, good.port), "-,200"),
                           ("127.0.0.1:%d" % good.port, "200")],
                "the first GET tried the closed port (no answer), then the good one; the second skipped the "
                "port marked down")
    proxyd.stop()


def budget(folder):
    a, b = status_backend("a", [503]), status_backend("b", [503])
    admin, front = free_ports(2)
    requests, ratio, floor = 60, 0.1, 1
    proxyd, _ = start(folder, "budget", (admin, front), upstream(
        "app", [a.port, b.port], 'max_fails = 0\nmax_tries = 2\nretry_on = ["5xx"]\n'
        'retry_budget = { ratio = %s, min_per_second = %d }\n' % (ratio, floor)))
    for i in range(requests):
        check_equal(get(front, "/%d" % i).status, 503, "an always-failing group's answer")
    attempts = len(a.requests) + len(b.requests)
    bound = requests + ratio * requests + floor * 10 + 1
    note("%d requests: %d upstream attempts (bound %d, %d without a budget)" %
         (requests, attempts, bound, 2 * requests))
    check(attempts <= bound, "the retry budget bounds the attempts", "%d > %d" % (attempts, bound))
    check(attempts > requests, "some retries went")
    text = admin_metrics(admin)
    check_equal(metric(text, "proxyd_upstream_retries_total") + requests, attempts, "retries counted")
    check(metric(text, "proxyd_upstream_retry_budget_exhausted_total") > 0, "budget exhaustion counted")
    proxyd.stop()


def main():
    folder = workdir("upstream_limits")
    queue(folder, 1)
    queue(folder, 2)
    ejection(folder)
    retry_on_status(folder)
    connect_failure_logged(folder)
    budget(folder)


if __name__ == "__main__":
    run_test(main)
