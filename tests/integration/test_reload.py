#!/usr/bin/env python3
"""Reload on SIGHUP. Under load (keep-alive and new connections mixed), the configuration is rewritten
to route to backend B instead of A (and to run one worker instead of two) and proxyd gets SIGHUP: no
request fails, a request in flight completes from A, B answers soon after, and once the old
generation has finished nobody gets A. A reload with a syntax error, then one naming a missing
plugin, then one adding a listener on an address another process holds, keeps the old
configuration serving and logs the error at its file and line (and key); a later valid reload
works, opens a new listener and closes a removed one; two reloads back to back work. A reload whose
new workers cannot all start (a plugin refuses its worker state) is rolled back: the old generation
serves every connection, and at start-up the same refusal makes proxyd exit non-zero."""

import os
import re
import signal
import socket
import threading
import time

from load_generator import LoadGenerator
from proxyd_harness import (HOST, Backend, Client, Proxyd, check, check_equal, config_head, free_ports, get, listener,
                            note, port_accepts, response_bytes, run_test, toml_str, upstream, wait_for, wait_for_log,
                            workdir, write_file)

LOAD_SECONDS = 6.0


SLOW_SECONDS = 1.5


def tagged_backend(tag):
    """Answers "from TAG"; /slow after SLOW_SECONDS, to be in flight across a reload."""
    body = ("from %s\n" % tag).encode()

    def answer(request, conn_id):
        delay = SLOW_SECONDS if request.target == "/slow" else 0
        return [delay, response_bytes(200, body, [("Content-Type", "text/plain")])], False
    return Backend(answer, tag=tag)


def slow_request(port, outcome):
    try:
        with Client(port, timeout=15) as client:
            response = client.request("GET", "/slow")
            outcome["status"], outcome["body"] = response.status, response.body
            outcome["connection"] = response.header("Connection")
    except Exception as error:  # reported by the main thread
        outcome["error"] = "%s: %s" % (type(error).__name__, error)


def config(backend, listeners, workers):
    text = config_head(plugins=("round_robin",), workers=workers) + upstream("app", [backend.port])
    for name, port in listeners:
        text += listener(name, port, "upstream", "app")
    return text


def reload_under_load(folder):
    a, b = tagged_backend("A"), tagged_backend("B")
    (front,) = free_ports(1)
    path = write_file(os.path.join(folder, "load.toml"), config(a, [("front", front)], workers=2))
    proxyd = Proxyd(path, folder, tag="load").start([front])
    check_equal(get(front, "/").body, b"from A\n", "before the reload, A answers")

    # No retries: a request sent on a kept-alive connection that the reload closed is a failure.
    load = LoadGenerator(front, threads=6, duration=LOAD_SECONDS, retry=False).start()
    time.sleep(LOAD_SECONDS / 3)
    in_flight = {}
    slow = threading.Thread(target=slow_request, args=(front, in_flight), daemon=True)
    slow.start()
    wait_for("the slow request reached A", lambda: any(r.target == "/slow" for _, r in a.requests))
    write_file(path, config(b, [("front", front)], workers=1))
    hup_at = time.monotonic()
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    old_finished_seen = wait_for_log(proxyd, r"generation 1 finished")
    check(load.join(), "the load generator finished")
    slow.join(15)
    check(in_flight.get("body") == b"from A\n", "a request in flight at the reload completes from A",
          str(in_flight))
    check_equal(in_flight.get("connection"), "close", "the old generation answers it with Connection: close")

    results = load.results
    ok = [r for r in results if r.outcome == "ok"]
    failed = [r for r in results if r.outcome != "ok"]
    from_b = [r for r in ok if r.body == b"from B\n"]
    late_a = [r for r in ok if r.body == b"from A\n" and r.started > old_finished_seen]
    first_b = min((r.finished for r in from_b), default=None)
    note("reload under load: %d requests served, %d failed, %d retried on a fresh connection "
         "(keep-alive closed before any response byte), %d answered by A, %d by B"
         % (len(ok), len(failed), load.retries(), len(ok) - len(from_b), len(from_b)))
    if first_b is not None:
        note("first response from B %.3f s after SIGHUP; old generation finished (seen) %.3f s after SIGHUP"
             % (first_b - hup_at, old_finished_seen - hup_at))
    check(len(ok) > 100, "the load generator got a fair number of requests through (%d)" % len(ok))
    check(not failed, "no request failed across the reload",
          "; ".join("%s (%s)" % (r.outcome, r.detail) for r in failed[:5]))
    check(from_b and first_b is not None and first_b > hup_at, "B answers after the reload")
    check(not late_a, "no response from A once the old generation had finished (%d did)" % len(late_a))
    check(any(r.reused for r in ok) and any(not r.reused for r in ok), "the load mixed kept-alive and new connections")
    check_equal(get(front, "/").body, b"from B\n", "after the reload, B answers")
    check_equal(proxyd.stop(), 0, "proxyd exit code after the reload")


REFUSAL_PLUGIN = os.path.join(os.environ.get("PROXYD_TEST_PLUGIN_DIR", ""), "worker_refusal.so")


def refusing_config(backend, listeners, workers, start_workers=None, start_delay_ms=0):
    """config() plus a handler whose plugin lets only start_workers workers create their state (all
    when None), each after start_delay_ms."""
    text = config(backend, listeners, workers)
    text = text.replace('[plugins]\n', '[plugins]\nrefusal = %s\n' % toml_str(REFUSAL_PLUGIN), 1)
    text += '[handlers.picky]\nplugin = "refusal"\nstart_delay_ms = %d\n' % start_delay_ms
    if start_workers is not None:
        text += 'start_workers = %d\n' % start_workers
    return text + "\n"


def failing_reloads(folder):
    a, b = tagged_backend("A"), tagged_backend("B")
    front, removed, added = free_ports(3)
    path = write_file(os.path.join(folder, "fail.toml"), config(a, [("front", front), ("old", removed)], workers=1))
    proxyd = Proxyd(path, folder, tag="fail").start([front, removed])

    good = config(b, [("front", front), ("new", added)], workers=2)
    lines = good.splitlines()
    broken = "\n".join(lines[:3] + ["oops = = 1"] + lines[3:]) + "\n"
    write_file(path, broken)
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reload failed")
    check(re.search(re.escape(path) + r":4:", proxyd.stderr_text()),
          "a syntax error is logged at its file and line (%s:4)" % path, proxyd.stderr_tail())
    check_equal(get(front, "/").body, b"from A\n", "after a reload with a syntax error, the old config serves")

    missing = good.replace('[plugins]\n', '[plugins]\nmissing = "no_such_plugin.so"\n')
    write_file(path, missing)
    before = proxyd.stderr_text().count("reload failed")
    proxyd.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while proxyd.stderr_text().count("reload failed") == before and time.monotonic() < deadline:
        time.sleep(0.02)
    line = next(n for n, text in enumerate(missing.splitlines(), 1) if "no_such_plugin" in text)
    check(re.search(re.escape(path) + r":%d:.*no_such_plugin" % line, proxyd.stderr_text()),
          "an unknown plugin is logged at its file and line (%s:%d)" % (path, line), proxyd.stderr_tail())
    check_equal(get(front, "/").body, b"from A\n", "after a reload naming a missing plugin, the old config serves")
    check_equal(get(removed, "/").body, b"from A\n", "the listener the failed reloads would remove still serves")
    check(not port_accepts(added), "the listener the failed reloads would add was not opened")

    # An address another process holds fails the reload where the file gives it, as a bad key does.
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        taken_port = taken.getsockname()[1]
        occupied = config(b, [("front", front), ("taken", taken_port)], workers=2)
        write_file(path, occupied)
        before = proxyd.stderr_text().count("reload failed")
        proxyd.send_signal(signal.SIGHUP)
        wait_for("the reload to a taken address failing",
                 lambda: proxyd.stderr_text().count("reload failed") > before)
    line = next(n for n, text in enumerate(occupied.splitlines(), 1) if ":%d" % taken_port in text)
    check(re.search(re.escape(path) + r":%d:\d+: listeners\[1\]\.listen: listener 'taken': listen on .*:%d: "
                    r"Address already in use" % (line, taken_port), proxyd.stderr_text()),
          "a taken address is logged at its file, line and key (%s:%d: listeners[1].listen)" % (path, line),
          proxyd.stderr_tail())
    check_equal(get(front, "/").body, b"from A\n", "after a reload to a taken address, the old config serves")

    write_file(path, good)
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    check_equal(get(front, "/").body, b"from B\n", "a valid reload after failed ones: B answers")
    check_equal(get(added, "/").body, b"from B\n", "the reload opened the added listener")
    wait_for_log(proxyd, r"generation 1 finished")
    check(not port_accepts(removed), "the removed listener is closed once the old generation finished")

    # Two reloads back to back (two signals sent at once may merge into one, so the second goes as
    # soon as the first is logged): the second finds the first's workers just started.
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 3\)", timeout=20.0, poll=0.001)
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 4\)")
    wait_for_log(proxyd, r"generation 3 finished")
    check_equal(get(front, "/").body, b"from B\n", "after two quick reloads, proxyd serves")

    # A SIGHUP while a generation is still starting (its plugin takes 400 ms per worker) is not
    # lost: the file, changed again meanwhile, is read once more after that generation took over.
    write_file(path, refusing_config(a, [("front", front), ("new", added)], workers=2, start_delay_ms=400))
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"generation 5 starting", poll=0.001)
    replace_file(path, good)  # never half-written, whenever proxyd reads it
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"received SIGHUP while generation 5 is starting: reloading again")
    wait_for_log(proxyd, r"reloaded configuration \(generation 6\)")
    check_equal(get(front, "/").body, b"from B\n", "the SIGHUP sent while generation 5 started was acted on")
    check_equal(proxyd.stop(), 0, "proxyd exit code")


def answers_from(port, count):
    """The bodies of count requests, each on a new connection (so each SO_REUSEPORT socket of the
    port gets its share), with None for a connection nobody answered within 2 s."""
    bodies = []
    for _ in range(count):
        try:
            bodies.append(get(port, "/", timeout=2.0).body)
        except (OSError, ConnectionError) as error:
            bodies.append(None)
            note("no answer on %d: %s" % (port, error))
    return bodies


def replace_file(path, text):
    write_file(path + ".new", text)
    os.replace(path + ".new", path)


def refused_workers(folder):
    """A reloaded generation one of whose workers cannot start (its plugin refuses the worker
    state) does not take over: the old generation goes on serving every connection, the sockets
    opened for the new one alone are closed, and a later valid reload works. At start-up, the
    same refusal makes proxyd exit non-zero rather than serve with a worker missing."""
    a, b = tagged_backend("A"), tagged_backend("B")
    front, added = free_ports(2)
    path = write_file(os.path.join(folder, "refuse.toml"), config(a, [("front", front)], workers=1))
    proxyd = Proxyd(path, folder, tag="refuse").start([front])

    # Two workers where one ran: front's group gains a socket, and "added" is a new address. The
    # workers take 300 ms to start; new connections meanwhile are all generation 1's.
    write_file(path, refusing_config(b, [("front", front), ("added", added)], workers=2, start_workers=1,
                                     start_delay_ms=300))
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"generation 2 starting")
    during = answers_from(front, 10)
    wait_for_log(proxyd, r"reload failed: 1 worker\(s\) of generation 2 could not start; still serving generation 1")
    # At once, not after generation 2 has finished: the refused worker's sockets are closed
    # before it reports, and the one that did start never accepted.
    bodies = answers_from(front, 40)
    check_equal(during, [b"from A\n"] * 10, "while generation 2 starts, generation 1 answers every new connection")
    check_equal(bodies, [b"from A\n"] * 40,
                "right after the failed reload, generation 1 answers every new connection (no socket left unserved)")
    check("could not create its worker state" in proxyd.stderr_text(),
          "the refusing worker says why", proxyd.stderr_tail())
    wait_for("the listener only the failed generation had is closed again", lambda: not port_accepts(added), 3.0)
    wait_for_log(proxyd, r"generation 2 finished")
    check("reloaded configuration" not in proxyd.stderr_text(), "the failed generation never took over")

    # The rolled-back generation keeps its number: the next is 3.
    write_file(path, refusing_config(b, [("front", front), ("added", added)], workers=2, start_workers=2))
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 3\)")
    check_equal(answers_from(front, 10), [b"from B\n"] * 10, "a valid reload after the refused one: B answers")
    check_equal(get(added, "/").body, b"from B\n", "and the added listener is open")
    check_equal(proxyd.stop(), 0, "proxyd exit code after the refused reload")

    for workers, start_workers in ((1, 0), (2, 1)):
        (port,) = free_ports(1)
        start_path = write_file(os.path.join(folder, "refuse-start-%d.toml" % workers),
                                refusing_config(a, [("front", port)], workers, start_workers))
        starting = Proxyd(start_path, folder, tag="refuse-start-%d" % workers)
        try:
            starting.start([port], timeout=10)
        except Exception:  # it may exit before or after its port was seen open
            pass
        code = starting.wait(15)
        check(code is not None and code != 0,
              "with %d of %d workers able to start, proxyd exits non-zero at start-up (code %s)"
              % (start_workers, workers, code), starting.stderr_tail())
        check(re.search(r"worker\(s\) could not start: stopping", starting.stderr_text()),
              "it says a worker could not start", starting.stderr_tail())


def main():
    folder = workdir("reload")
    reload_under_load(folder)
    failing_reloads(folder)
    refused_workers(folder)


if __name__ == "__main__":
    run_test(main)
