#!/usr/bin/env python3
"""Draining on reload and stop (limits.drain_timeout). A client whose keep-alive connection is idle
when proxyd reloads or stops, and which sends its next request moments later, gets that request
answered with Connection: close instead of finding the connection closed under it (the keep-alive
race: wrk and browsers' first try count it as an error). A connection that stays idle through the
whole drain window is closed when it ends, not before. Under keep-alive load with a client that
never retries, three reloads and then a stop lose no request. Listeners that the config's own
upstreams point at (in-process backends, as in conf.d/lb.toml) drain after the listeners in front
of them, so a stop under load answers no 502. When shutdown_timeout cuts a connection, only the
worker that cuts it warns, and the access log counts the bytes that left, not the whole file."""

import os
import re
import signal
import time

from load_generator import LoadGenerator
from proxyd_harness import (Backend, Client, Proxyd, check, check_equal, config_head, free_ports, listener, note,
                            port_accepts, response_bytes, run_test, static_handler, upstream, wait_for, wait_for_log,
                            workdir, write_file)

DRAIN_SECONDS = 2.0


def limits(drain=DRAIN_SECONDS, shutdown=10):
    return '[limits]\ndrain_timeout = "%gs"\nshutdown_timeout = "%gs"\n\n' % (drain, shutdown)


def answering_backend():
    return Backend(lambda request, conn_id: ([response_bytes(200, b"ok\n")], False), tag="app")


def proxy_config(backend_ports, front, workers=1):
    return (config_head(plugins=("round_robin",), workers=workers, access="off") + limits()
            + upstream("app", backend_ports) + listener("front", front, "upstream", "app"))


def idle_client(port, what):
    client = Client(port, timeout=5)
    response = client.request("GET", "/")
    check_equal(response.status, 200, "%s: a keep-alive connection is open and idle" % what)
    check("close" not in response.connection_tokens(), "%s: before the signal it is kept alive" % what)
    return client


def next_request_is_answered(client, what):
    """The request a client sends on its idle connection after the signal is answered, with close."""
    response = client.request("GET", "/")
    check_equal(response.status, 200, "%s: the next request on the idle connection is answered" % what)
    check("close" in response.connection_tokens(), "%s: that response says Connection: close" % what,
          str(response.headers))
    check(client.closed_by_peer(within=3), "%s: proxyd then closes the connection" % what)


def idle_closed_at_window_end(client, signal_at, what):
    """A connection idle through the window stays open during it and is closed at its end."""
    # Halfway counted from the signal, not from now: under load the steps before this one can
    # take most of the window. Past it already, a connection still open now was open then (a
    # short wait, since a zero timeout would make the socket non-blocking).
    halfway = max(0.01, signal_at + DRAIN_SECONDS * 0.5 - time.monotonic())
    check(not client.closed_by_peer(within=halfway),
          "%s: a connection idle since the signal is still open halfway through the drain window" % what)
    check(client.closed_by_peer(within=DRAIN_SECONDS + 3),
          "%s: it is closed once the drain window is over" % what)
    elapsed = time.monotonic() - signal_at
    note("%s: idle connection closed %.2f s after the signal (drain_timeout %.1f s)" % (what, elapsed, DRAIN_SECONDS))
    check(elapsed >= DRAIN_SECONDS * 0.9, "%s: not before drain_timeout (%.2f s)" % (what, elapsed))


def signal_with_two_idle_clients(folder, tag, signum):
    """proxyd in front of one backend, two idle keep-alive clients, then signum: (proxyd, port,
    the client that will talk, the one that stays idle, when the signal went)."""
    backend = answering_backend()
    (front,) = free_ports(1)
    path = write_file(os.path.join(folder, tag + ".toml"), proxy_config([backend.port], front))
    proxyd = Proxyd(path, folder, tag=tag).start([front])
    talker, sleeper = idle_client(front, tag), idle_client(front, tag)
    signal_at = time.monotonic()
    proxyd.send_signal(signum)
    return proxyd, front, talker, sleeper, signal_at


def drain_on_reload(folder):
    proxyd, front, talker, sleeper, signal_at = signal_with_two_idle_clients(folder, "reload", signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    time.sleep(0.3)
    next_request_is_answered(talker, "reload")
    idle_closed_at_window_end(sleeper, signal_at, "reload")
    wait_for_log(proxyd, r"generation 1 finished", timeout=10)
    check_equal(Client(front).request("GET", "/").status, 200, "reload: the new generation serves")
    check_equal(proxyd.stop(), 0, "reload: exit code")


def drain_on_stop(folder):
    proxyd, front, talker, sleeper, signal_at = signal_with_two_idle_clients(folder, "stop", signal.SIGTERM)
    wait_for("stop: new connections are refused soon after the signal", lambda: not port_accepts(front, 1),
             timeout=5)
    next_request_is_answered(talker, "stop")
    idle_closed_at_window_end(sleeper, signal_at, "stop")
    code = proxyd.wait(5)
    check_equal(code, 0, "stop: proxyd exits 0 once the last connection has gone")


def summarise(load, what):
    results = load.results
    ok = [r for r in results if r.outcome == "ok"]
    bad = [r for r in results if r.outcome in ("failed", "unanswered")]
    refused = [r for r in results if r.outcome == "refused"]
    note("%s: %d served (%d on kept-alive connections), %d failed or unanswered, %d refused"
         % (what, len(ok), sum(r.reused for r in ok), len(bad), len(refused)))
    return ok, bad, refused


def load_across_reloads_and_stop(folder):
    backends = [answering_backend() for _ in range(5)]
    (front,) = free_ports(1)
    path = write_file(os.path.join(folder, "load.toml"), proxy_config([b.port for b in backends], front, workers=2))
    proxyd = Proxyd(path, folder, tag="load").start([front])
    # Keep-alive almost always, and never a retry: what wrk does.
    load = LoadGenerator(front, threads=8, duration=30, new_connection_share=0.02, retry=False).start()
    for n in range(2, 5):
        time.sleep(1.0)
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reloaded configuration \(generation %d\)" % n)
    time.sleep(1.0)
    stop_at = time.monotonic()
    proxyd.send_signal(signal.SIGTERM)
    check_equal(proxyd.wait(DRAIN_SECONDS + 10), 0, "load: proxyd exit code after three reloads and a stop")
    load.stop()
    check(load.join(), "load: the load generator finished")
    ok, bad, refused = summarise(load, "three reloads, then SIGTERM, under keep-alive load")
    check(len(ok) > 200, "load: requests were served (%d)" % len(ok))
    check(sum(r.reused for r in ok) > len(ok) // 2, "load: most requests went on kept-alive connections")
    check(not bad, "load: no request failed or went unanswered across reloads and the stop",
          "; ".join("%s %s" % (r.outcome, r.detail) for r in bad[:5]))
    check(all(r.finished >= stop_at for r in refused), "load: connections were refused only after the stop")


def own_backends_drain_last(folder):
    """The lb profile's shape: the front's upstream peers are listeners of the same process."""
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>web</title>\n")
    ports = free_ports(4)
    front, webs = ports[0], ports[1:]
    config = (config_head(plugins=("static", "round_robin"), workers=2, access="off") + limits()
              + upstream("web", webs) + listener("lb", front, "upstream", "web") + static_handler("site", root))
    for i, port in enumerate(webs):
        config += listener("web%d" % i, port, "handler", "site")
    path = write_file(os.path.join(folder, "own.toml"), config)
    proxyd = Proxyd(path, folder, tag="own").start(ports)
    load = LoadGenerator(front, threads=8, duration=30, new_connection_share=0.05, retry=False).start()
    time.sleep(2.0)
    stop_at = time.monotonic()
    proxyd.send_signal(signal.SIGTERM)
    check_equal(proxyd.wait(DRAIN_SECONDS * 2 + 10), 0, "own backends: exit code")
    load.stop()
    check(load.join(), "own backends: the load generator finished")
    ok, bad, refused = summarise(load, "SIGTERM with in-process backends under load")
    check(len(ok) > 100, "own backends: requests were served (%d)" % len(ok))
    check(not bad, "own backends: no 502 and no lost request during the stop",
          "; ".join("%s %s" % (r.outcome, r.detail) for r in bad[:5]))
    check(all(r.finished >= stop_at for r in refused), "own backends: refusals only after the stop")


def grace_warns_of_what_it_cuts(folder):
    """Two workers, an in-process backend listener (it drains last) holding an idle pooled
    connection from the proxying listener, and a client that never reads a large file: at the end
    of shutdown_timeout the worker holding the client warns that it cuts it; the idle pooled
    connection closes without a warning, and a worker with nothing in progress warns of nothing.
    The access log gives the bytes that left before the cut, not the file's length."""
    root = os.path.join(folder, "big")
    write_file(os.path.join(root, "big.bin"), os.urandom(8 << 20))
    write_file(os.path.join(root, "small.txt"), "small\n")
    front, direct, web = free_ports(3)
    config = (config_head(plugins=("static", "round_robin"), workers=2) + limits(1, 1)
              + upstream("web", [web]) + static_handler("site", root) + listener("front", front, "upstream", "web")
              + listener("direct", direct, "handler", "site") + listener("web", web, "handler", "site"))
    path = write_file(os.path.join(folder, "grace.toml"), config)
    proxyd = Proxyd(path, folder, tag="grace").start([front, direct, web])
    with Client(front, timeout=5) as pooled:  # leaves an idle upstream connection to "web"
        check_equal(pooled.request("GET", "/small.txt").status, 200, "grace: a proxied request first")
    client = Client(direct, timeout=5, rcvbuf=4096)
    client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    client.receive_some()
    proxyd.send_signal(signal.SIGTERM)
    check_equal(proxyd.wait(10), 0, "grace: exit code after the grace period cut the client")
    warnings = [line for line in proxyd.stderr_text().splitlines() if "grace period over" in line]
    check(len(warnings) == 1 and "cutting 1 connection(s) with a request in progress" in warnings[0],
          "grace: one warning, from the worker that cut the client's download", "\n".join(warnings))
    logged = re.search(r'"GET /big\.bin HTTP/1\.1" 200 (\d+) ', proxyd.stderr_text())
    check(logged and 0 < int(logged.group(1)) < 8 << 20,
          "grace: the cut download's access line counts the bytes sent before the cut (%s of %d)"
          % (logged and logged.group(1), 8 << 20), proxyd.stderr_tail())


def main():
    folder = workdir("drain")
    drain_on_reload(folder)
    drain_on_stop(folder)
    load_across_reloads_and_stop(folder)
    own_backends_drain_last(folder)
    grace_warns_of_what_it_cuts(folder)


if __name__ == "__main__":
    run_test(main)
