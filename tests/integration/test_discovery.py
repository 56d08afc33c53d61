#!/usr/bin/env python3
"""DNS discovery of upstream peers (peers entries `srv` and `resolve`), against a real DNS server:
dnsmasq, started here on a loopback port, whose records the test changes while clients keep
sending requests through proxyd. What a user relies on:

- SRV: the records of the lowest priority become the peers, at their targets' addresses and ports;
  a record added brings its peer into rotation, a record removed takes its peer out, both without a
  reload and with no failed request.
- DNS going away keeps the last good set: requests go on being served.
- resolve = "name:port": every A record of the name becomes a peer on that port (two loopback
  addresses here).
- A reload keeps serving the discovered peers at once.
Load is four client threads with keep-alive connections, counting every error, reset and early
close as a failure."""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

from proxyd_harness import (HOST, Backend, Client, Proxyd, check, check_equal, config_head, free_ports, listener,
                            note, response_bytes, run_test, toml_str, wait_for_log, workdir, write_file)

DNSMASQ = "/usr/sbin/dnsmasq"


def named_backend(name, host=HOST, port=0):
    def handler(request, conn_id):
        return [response_bytes(200, name.encode(), [("Content-Type", "text/plain")])], True
    return Backend(handler, tag=name, host=host, port=port)


class Dnsmasq:
    """dnsmasq on a loopback UDP/TCP port, answering from a hosts file and SRV records with a TTL of
    one second. SRV records are read at start, so changing them restarts it (on the same port)."""

    def __init__(self, folder, port):
        self.folder, self.port, self.process = folder, port, None
        self.hosts = os.path.join(folder, "dns-hosts")

    def start(self, hosts, srv=()):
        write_file(self.hosts, "".join("%s %s\n" % pair for pair in hosts))
        args = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=%d" % self.port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--addn-hosts=" + self.hosts, "--local-ttl=1", "--pid-file=" + os.path.join(self.folder, "dns.pid"),
                "--log-facility=" + os.path.join(self.folder, "dns.log")]
        if os.geteuid() == 0:
            args.append("--user=root")
        args += ["--srv-host=" + record for record in srv]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            log = open(os.path.join(self.folder, "dns.log")).read() if os.path.exists(
                os.path.join(self.folder, "dns.log")) else ""
            if "read " + self.hosts in log:
                return
            check(self.process.poll() is None, "dnsmasq runs", self.process.stderr.read().decode() if
                  self.process.poll() is not None else "")
            time.sleep(0.02)
        check(False, "dnsmasq started within 5 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(5)
        self.process = None
        log = os.path.join(self.folder, "dns.log")
        if os.path.exists(log):
            os.remove(log)

    def restart(self, hosts, srv=()):
        self.stop()
        self.start(hosts, srv)


class Load:
    """Client threads sending GETs on keep-alive connections until stopped; every answer's body is
    counted, every failure kept."""

    def __init__(self, port, threads=4):
        self.port, self.stopping = port, threading.Event()
        self.lock = threading.Lock()
        self.seen, self.failures, self.total = {}, [], 0
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        client = None
        while not self.stopping.is_set():
            try:
                if client is None:
                    client = Client(self.port, timeout=5)
                response = client.request("GET", "/")
                with self.lock:
                    self.total += 1
                    if response.status != 200:
                        self.failures.append("status %d" % response.status)
                    else:
                        name = response.body.decode()
                        self.seen[name] = self.seen.get(name, 0) + 1
                if (response.header("connection") or "").lower() == "close":
                    client.close()
                    client = None
            except Exception as e:  # a reset, a timeout, an early close: all failures to a user
                with self.lock:
                    self.failures.append(repr(e))
                client = None
            time.sleep(0.002)
        if client:
            client.close()

    def window(self, seconds):
        """The names answering during the next `seconds`."""
        with self.lock:
            before = dict(self.seen)
        time.sleep(seconds)
        with self.lock:
            return {k: v - before.get(k, 0) for k, v in self.seen.items() if v - before.get(k, 0) > 0}

    def wait_for(self, what, predicate, timeout=8):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.window(0.5)
            if predicate(got):
                note("%s: %s" % (what, got))
                return got
        check(False, "within %d s: %s" % (timeout, what), str(self.window(0.5)))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(10)


def srv_config(front, admin, dns_port):
    return (config_head()
            + "[resolver]\nservers = [%s]\ntimeout = \"300ms\"\ntries = 1\n\n" % toml_str("127.0.0.1:%d" % dns_port)
            + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
            + "[upstreams.app]\npeers = [{ srv = \"_http._tcp.app.test\" }]\nmax_peers = 4\n"
            + "resolve_interval = \"1s\"\nmax_fails = 0\n\n"
            + listener("front", front, "upstream", "app"))


def srv_records(folder):
    a, b, c = named_backend("a"), named_backend("b"), named_backend("c")
    front, admin, dns_port = free_ports(3)
    dns = Dnsmasq(folder, dns_port)
    hosts = [("127.0.0.1", "a.test"), ("127.0.0.1", "b.test"), ("127.0.0.1", "c.test")]
    record = {b_.tag: "_http._tcp.app.test,%s.test,%d,0,1" % (b_.tag, b_.port) for b_ in (a, b, c)}
    dns.start(hosts, [record["a"], record["b"], "_http._tcp.app.test,c.test,%d,1,1" % c.port])
    try:
        path = write_file(os.path.join(folder, "srv.toml"), srv_config(front, admin, dns_port))
        proxyd = Proxyd(path, folder, tag="srv").start([front])
        load = Load(front)
        load.wait_for("the priority-0 records answer (c is a backup)", lambda got: set(got) == {"a", "b"})

        dns.restart(hosts, [record["a"], record["b"], record["c"]])
        load.wait_for("a record added: c joins", lambda got: set(got) == {"a", "b", "c"})

        dns.restart(hosts, [record["a"], record["c"]])
        load.wait_for("a record removed: b leaves", lambda got: set(got) == {"a", "c"})
        wait_for_log(proxyd, r"upstream app: discovered peers 127\.0\.0\.1:%d 127\.0\.0\.1:%d" % tuple(
            sorted((a.port, c.port))), timeout=5)

        status = json.loads(urllib.request.urlopen("http://%s:%d/status.json" % (HOST, admin), timeout=5).read())
        group = [u for u in status["upstreams"] if u["name"] == "app"][0]
        check_equal(sorted((p["address"], p["source"]) for p in group["peers"]),
                    sorted(("127.0.0.1:%d" % x.port, "_http._tcp.app.test") for x in (a, c)),
                    "/status.json lists the discovered peers with their DNS name, and no vacant slot")

        dns.stop()
        got = load.window(3)
        check_equal(set(got), {"a", "c"}, "DNS gone: the last good set keeps serving")
        wait_for_log(proxyd, r"cannot resolve _http\._tcp\.app\.test: .*keeping its last addresses", timeout=5)

        # A reload while DNS is down: the new generation takes over the set at once.
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reloaded configuration", timeout=10)
        got = load.window(1.5)
        check_equal(set(got), {"a", "c"}, "after a reload with DNS down, the discovered peers serve")

        load.stop()
        note("%d requests, %d failed" % (load.total, len(load.failures)))
        check(load.total > 200, "the load ran (%d requests)" % load.total)
        check_equal(load.failures[:5], [], "failed requests while peers came and went")
        check_equal(proxyd.stop(), 0, "proxyd's exit code")
    finally:
        dns.stop()


def resolve_names(folder):
    first = named_backend("first", host="127.0.0.2")
    second = named_backend("second", host="127.0.0.3", port=first.port)
    front, dns_port = free_ports(2)
    dns = Dnsmasq(folder, dns_port)
    dns.start([("127.0.0.2", "web.test"), ("127.0.0.3", "web.test")])
    try:
        config = (config_head()
                  + "[resolver]\nservers = [%s]\n\n" % toml_str("127.0.0.1:%d" % dns_port)
                  + "[upstreams.web]\npeers = [{ resolve = %s }]\nresolve_interval = \"1s\"\n\n"
                  % toml_str("web.test:%d" % first.port)
                  + listener("front", front, "upstream", "web"))
        path = write_file(os.path.join(folder, "resolve.toml"), config)
        proxyd = Proxyd(path, folder, tag="resolve").start([front])
        load = Load(front, threads=2)
        load.wait_for("both A records of web.test serve", lambda got: set(got) == {"first", "second"})
        write_file(dns.hosts, "127.0.0.3 web.test\n")
        dns.process.send_signal(signal.SIGHUP)  # dnsmasq re-reads its hosts file
        load.wait_for("an A record removed: its peer leaves", lambda got: set(got) == {"second"})
        load.stop()
        check_equal(load.failures[:5], [], "failed requests")
        check_equal(proxyd.stop(), 0, "proxyd's exit code")
    finally:
        dns.stop()


def main():
    check(os.path.exists(DNSMASQ), "dnsmasq is installed (packaging/build-deps.sh --test installs dnsmasq-base)")
    folder = workdir("discovery")
    srv_records(folder)
    resolve_names(folder)


if __name__ == "__main__":
    run_test(main)
