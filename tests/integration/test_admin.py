#!/usr/bin/env python3
"""The admin listener ([admin] listen): proxyd serves two scripted backends and a closed port behind
one listener, a second group whose only peer is a closed port, and a static site; the test sends
counted traffic, then

- scrapes /metrics, parses it with a strict Prometheus text-format (0.0.4) parser written here, and
  checks every counter against the traffic sent (requests by listener/target/status class, bytes
  both ways, connections, histogram, per-peer requests and failures, the backends' own counts);
- checks /status.json against the live config (listeners, groups, peers in order, plugins, config
  path, generation) and the traffic (the closed ports DOWN, the backends UP);
- loads /status in headless Chromium (--dump-dom and --screenshot into the build's
  tests/integration/test_admin folder) and checks the rendered page lists every peer with its state;
- checks the admin request rules (HEAD, 405 with Allow, 404) and that without [admin] no admin port
  is opened;
- reloads a second proxyd so that its admin listener moves, closes and opens again, and once to a
  taken admin address (the reload fails, the running admin listener stays);
- two listeners sharing a name count as one in /metrics and /status.json, which gives both addresses;
- a peer that never answers shows its attempt while it waits and after its client left.
"""

import html
import json
import math
import os
import re
import signal
import socket
import time

from proxyd_harness import (BUILD_DIR, HOST, WWW_DIR, Backend, Client, Proxyd, TestFailure, TestSkip, check, check_equal,
                            config_head, find_chromium, free_ports, listener, note, port_accepts, read_file, run_test,
                            run_chromium, static_handler, toml_str, upstream, wait_for, wait_for_log, write_file,
                            workdir)

APP_REQUESTS = 12    # GET / on the front listener, balanced over two backends and a closed port
SOLO_REQUESTS = 3    # GET /solo/ on the front listener: the group's only peer is a closed port
FILE_REQUESTS = 4    # GET /index.html on the files listener
MISSING_REQUESTS = 2  # GET /missing.html on the files listener
# The static site's listener: a name with a quote and a backslash, which every page must escape.
FILES = 'files "q" \\ x'


# ---- a strict parser of the Prometheus text exposition format 0.0.4 ------------------------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def require(condition, what, detail=""):
    """check() without the "ok" line: the parser checks every line and byte."""
    if not condition:
        raise TestFailure(what + (" -- " + detail if detail else ""))


def parse_value(text, where):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    require(re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text) is not None,
          "%s: sample value %r is a float" % (where, text))
    return float(text)


def parse_labels(text, where):
    """text is what stands between { and }; returns a tuple of (name, value) in order."""
    labels, at = [], 0
    while at < len(text):
        m = re.compile(r"([^=]*)=\"").match(text, at)
        require(m is not None, "%s: label at %r has the form name=\"value\"" % (where, text[at:]))
        name = m.group(1)
        require(LABEL_NAME.match(name) is not None, "%s: label name %r is valid" % (where, name))
        at = m.end()
        value = []
        while True:
            require(at < len(text), "%s: label value of %s is terminated" % (where, name))
            c = text[at]
            if c == "\\":
                require(at + 1 < len(text) and text[at + 1] in "\\\"n",
                      "%s: escape in label %s is one of \\\\ \\\" \\n" % (where, name))
                value.append({"\\": "\\", "\"": "\"", "n": "\n"}[text[at + 1]])
                at += 2
            elif c == "\"":
                at += 1
                break
            elif c == "\n":
                require(False, "%s: label value of %s holds no raw line feed" % (where, name))
            else:
                value.append(c)
                at += 1
        labels.append((name, "".join(value)))
        if at < len(text):
            require(text[at] == ",", "%s: labels are separated by commas" % where)
            at += 1
    names = [n for n, _ in labels]
    require(len(set(names)) == len(names), "%s: no label name repeats" % where)
    return tuple(labels)


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return None


def parse_prometheus(text):
    """Returns {(name, labels-tuple): value} and {family: type}; fails the test on any deviation."""
    require(text.endswith("\n"), "the exposition ends with a line feed")
    types, helps, samples = {}, {}, {}
    seen_samples_of = set()
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = "/metrics line %d" % number
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                require(METRIC_NAME.match(name) is not None, "%s: metric name %r is valid" % (where, name))
                if parts[1] == "TYPE":
                    require(len(parts) == 4 and parts[3] in TYPES, "%s: TYPE is one of %s" % (where, sorted(TYPES)))
                    require(name not in types, "%s: one TYPE line for %s" % (where, name))
                    require(name not in seen_samples_of, "%s: TYPE of %s comes before its samples" % (where, name))
                    types[name] = parts[3]
                else:
                    require(name not in helps, "%s: one HELP line for %s" % (where, name))
                    helps[name] = parts[3] if len(parts) == 4 else ""
            continue
        require(line.strip() != "", "%s: no blank lines" % where)
        m = re.match(r"([^{ ]+)(\{(.*)\})? (\S+)( -?\d+)?\Z", line)
        require(m is not None, "%s: sample line has the form name{labels} value" % where, repr(line))
        name = m.group(1)
        require(METRIC_NAME.match(name) is not None, "%s: metric name %r is valid" % (where, name))
        family = family_of(name, types)
        require(family is not None, "%s: sample %s has a TYPE declared before it" % (where, name))
        seen_samples_of.add(family)
        labels = parse_labels(m.group(3) or "", where)
        key = (name, tuple(sorted(labels)))
        require(key not in samples, "%s: series %s%s appears once" % (where, name, dict(labels)))
        samples[key] = parse_value(m.group(4), where)
    for family, kind in types.items():
        require(family in helps, "family %s has a HELP line" % family)
        if kind == "histogram":
            check_histogram(family, samples)
    return samples, types


def check_histogram(family, samples):
    series = {}
    for (name, labels), value in samples.items():
        if name == family + "_bucket":
            le = dict(labels)["le"]
            rest = tuple(kv for kv in labels if kv[0] != "le")
            series.setdefault(rest, []).append((parse_value(le, family), value))
    for rest, buckets in series.items():
        buckets.sort()
        counts = [v for _, v in buckets]
        require(all(a <= b for a, b in zip(counts, counts[1:])),
              "%s%s: cumulative buckets never decrease" % (family, dict(rest)), str(buckets))
        require(math.isinf(buckets[-1][0]), "%s%s: has a +Inf bucket" % (family, dict(rest)))
        count = samples.get((family + "_count", rest))
        require(count is not None and (family + "_sum", rest) in samples, "%s%s: has _sum and _count" % (family, dict(rest)))
        require(buckets[-1][1] == count, "%s%s: the +Inf bucket equals _count" % (family, dict(rest)))


def sample(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    check(key in samples, "/metrics has %s%s" % (name, labels))
    return samples[key]


# ---- talking to proxyd ----------------------------------------------------------------------------

def exchange(port, request):
    """Sends one request on a fresh connection and reads until proxyd closes it; returns the raw
    response bytes (the request asks for Connection: close)."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def request_bytes(method, path):
    return ("%s %s HTTP/1.1\r\nHost: test\r\nUser-Agent: test_admin\r\nConnection: close\r\n\r\n"
            % (method, path)).encode()


def status_of(response):
    return int(response.split(b" ", 2)[1])


def admin_get(port, path, method="GET"):
    with Client(port) as c:
        return c.request(method, path, [("Connection", "close")])


def listening_ports(pid):
    """The TCP ports the process listens on, from its socket fds and /proc/net/tcp{,6}."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def admin_follows_reload(folder):
    """A reload moves, removes and adds the admin listener as the new config says; an admin address
    that is taken fails the reload and leaves the running admin listener as it was."""
    port, first, second, third = free_ports(4)
    site = static_handler("site", os.path.join(WWW_DIR, "default")) + listener("files", port, "handler", "site")
    path = os.path.join(folder, "admin-reload.toml")

    def with_admin(admin_port):
        admin = "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin_port)) if admin_port else ""
        return config_head() + admin + site

    def reload_to(text, generation):
        write_file(path, text)
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reloaded configuration \(generation %d\)" % generation)

    write_file(path, with_admin(first))
    proxyd = Proxyd(path, folder, tag="admin-reload").start([port, first])
    reload_to(with_admin(second), 2)
    wait_for("the moved admin listener answers", lambda: port_accepts(second))
    check_equal(json.loads(admin_get(second, "/status.json").body)["config"]["generation"], 2,
                "the admin listener moved by a reload reports generation 2")
    check(not port_accepts(first), "the admin listener's old address is closed")

    reload_to(with_admin(None), 3)
    wait_for("a reload without [admin] closes the admin listener", lambda: not port_accepts(second))
    reload_to(with_admin(third), 4)
    wait_for("a reload with [admin] again opens it", lambda: port_accepts(third))
    check_equal(admin_get(third, "/metrics").status, 200, "/metrics on the re-opened admin listener")

    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        taken_port = taken.getsockname()[1]
        write_file(path, with_admin(taken_port))
        proxyd.send_signal(signal.SIGHUP)
        wait_for_log(proxyd, r"reload failed")
    check(re.search(r"reload: .*:\d+:\d+: admin\.listen: admin listener: .*:%d" % taken_port, proxyd.stderr_text()),
          "the failed reload names the admin listener's file, line and key, and its address", proxyd.stderr_tail())
    check_equal(admin_get(third, "/status.json").status, 200, "after a reload to a taken admin address, the "
                "running admin listener still answers")
    check_equal(proxyd.stop(), 0, "proxyd exit code after the admin reloads")


def shared_listener_name(folder):
    """Two listeners under one name (one service on two addresses) add up in /metrics under that
    name, one series, and /status.json shows one listener with both addresses."""
    first, second, admin = free_ports(3)
    site = static_handler("site", os.path.join(WWW_DIR, "default"))
    path = write_file(os.path.join(folder, "shared-name.toml"),
                      config_head() + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin)) + site
                      + listener("svc", first, "handler", "site") + listener("svc", second, "handler", "site"))
    proxyd = Proxyd(path, folder, tag="shared-name").start([first, second, admin])
    for port, count in ((first, 3), (second, 2)):
        for _ in range(count):
            check_equal(status_of(exchange(port, request_bytes("GET", "/index.html"))), 200,
                        "GET /index.html on port %d" % port)
    samples, _ = parse_prometheus(admin_get(admin, "/metrics").body.decode("utf-8"))
    series = [(labels, value) for (name, labels), value in samples.items()
              if name == "proxyd_requests_total" and dict(labels).get("listener") == "svc"]
    check_equal([(dict(labels)["code"], value) for labels, value in series], [("2xx", 5)],
                "requests of both listeners named svc, in one series")
    status = json.loads(admin_get(admin, "/status.json").body)
    check_equal([l["listen"] for l in status["listeners"] if l["name"] == "svc"],
                ["%s:%d, %s:%d" % (HOST, first, HOST, second)], "status.json: one listener svc, both addresses")
    check_equal(proxyd.stop(), 0, "proxyd exit code with a shared listener name")


def hung_peer_counted(folder):
    """A peer that takes the connection and never answers shows the attempt in
    proxyd_upstream_peer_requests_total while it waits, and still after its client gave up (499):
    a hung backend whose clients all leave does not look idle."""
    front, admin = free_ports(2)
    with socket.socket() as hung:
        hung.bind((HOST, 0))
        hung.listen(8)  # the kernel completes the handshake; nothing is ever read or answered
        peer = "%s:%d" % (HOST, hung.getsockname()[1])
        path = write_file(os.path.join(folder, "hung.toml"),
                          config_head() + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
                          + upstream("stuck", [hung.getsockname()[1]], 'read_timeout = "60s"\n')
                          + listener("front", front, "upstream", "stuck"))
        proxyd = Proxyd(path, folder, tag="hung").start([front, admin])

        def attempts():
            samples, _ = parse_prometheus(admin_get(admin, "/metrics").body.decode("utf-8"))
            return sample(samples, "proxyd_upstream_peer_requests_total", upstream="stuck", peer=peer)

        client = socket.create_connection((HOST, front), timeout=10)
        client.sendall(request_bytes("GET", "/slow"))
        wait_for("the waiting attempt is counted", lambda: attempts() == 1)
        client.close()
        wait_for_log(proxyd, r'"GET /slow HTTP/1.1" 499 ')
        check_equal(attempts(), 1, "the attempt its client abandoned stays counted, once")
        check_equal(proxyd.stop(), 0, "proxyd exit code after the hung peer")


# ---- the test ---------------------------------------------------------------------------------------

def main():
    folder = workdir("admin")
    good = [Backend(tag="good1"), Backend(tag="good2")]
    front, files, admin, dead_app, dead_solo = free_ports(5)
    peers_app = [good[0].port, good[1].port, dead_app]
    config_path = os.path.join(folder, "admin.toml")
    body = (config_head()
            + "[admin]\nlisten = %s\n\n" % toml_str("%s:%d" % (HOST, admin))
            + upstream("app", peers_app, 'fail_timeout = "10m"\n')
            + upstream("solo", [dead_solo], 'fail_timeout = "10m"\n')
            + static_handler("site", os.path.join(WWW_DIR, "default"))
            + "[[listeners]]\nname = \"front\"\nlisten = %s\n[listeners.router]\nplugin = \"prefix\"\n"
              "routes = [ { prefix = \"/solo/\", upstream = \"solo\" }, { prefix = \"/\", upstream = \"app\" } ]\n\n"
              % toml_str("%s:%d" % (HOST, front))
            + listener(FILES, files, "handler", "site"))
    write_file(config_path, body)
    proxyd = Proxyd(config_path, folder).start([front, files, admin])

    # The start-up probe connected once to each port; its accept and close reach the workers a
    # moment later, so counting starts once proxyd has seen both.
    deadline = time.monotonic() + 10
    while True:
        before = {l["name"]: l for l in json.loads(admin_get(admin, "/status.json").body)["listeners"]}
        settled = all(before[n]["connections"] == {"accepted": 1, "open": 0} for n in ("front", FILES))
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check_equal([before[n]["connections"] for n in ("front", FILES)], [{"accepted": 1, "open": 0}] * 2,
                "the start-up probe's one connection per listener, accepted and closed")
    check_equal([before[n]["requests"]["total"] for n in ("front", FILES)], [0, 0], "no request before the traffic")

    # Counted traffic, one request per connection, every byte counted on our side.
    sent = {"front": 0, FILES: 0}
    received = {"front": 0, FILES: 0}
    statuses = {}

    def send(listener_name, port, method, path):
        request = request_bytes(method, path)
        response = exchange(port, request)
        sent[listener_name] += len(request)
        received[listener_name] += len(response)
        statuses.setdefault((listener_name, path), []).append(status_of(response))

    for _ in range(APP_REQUESTS):
        send("front", front, "GET", "/")
    for _ in range(SOLO_REQUESTS):
        send("front", front, "GET", "/solo/x")
    for _ in range(FILE_REQUESTS):
        send(FILES, files, "GET", "/index.html")
    for _ in range(MISSING_REQUESTS):
        send(FILES, files, "GET", "/missing.html")
    check_equal(statuses[("front", "/")], [200] * APP_REQUESTS, "GET / through the app group (a retry hides the closed port)")
    check_equal(statuses[("front", "/solo/x")], [502] * SOLO_REQUESTS, "GET /solo/x: its only peer is a closed port")
    check_equal(statuses[(FILES, "/index.html")], [200] * FILE_REQUESTS, "GET /index.html from the static site")
    check_equal(statuses[(FILES, "/missing.html")], [404] * MISSING_REQUESTS, "GET /missing.html")

    # The last connection's close reaches proxyd a moment after our recv saw EOF.
    deadline = time.monotonic() + 10
    while True:
        status = json.loads(admin_get(admin, "/status.json").body)
        open_now = {l["name"]: l["connections"]["open"] for l in status["listeners"]}
        if (open_now["front"], open_now[FILES]) == (0, 0) or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    # /metrics
    scrape = admin_get(admin, "/metrics")
    check_equal(scrape.status, 200, "GET /metrics status")
    check_equal(scrape.header("Content-Type").split(";")[:2], ["text/plain", " version=0.0.4"],
                "/metrics Content-Type")
    write_file(os.path.join(folder, "metrics.txt"), scrape.body)
    samples, types = parse_prometheus(scrape.body.decode("utf-8"))
    check(b'listener="files \\"q\\" \\\\ x"' in scrape.body,
          "a listener name's quote and backslash are escaped in label values")
    note("/metrics: %d families, %d samples, parsed strictly" % (len(types), len(samples)))
    for family, kind in (("proxyd_requests_total", "counter"), ("proxyd_request_duration_seconds", "histogram"),
                         ("proxyd_client_connections_open", "gauge"), ("proxyd_upstream_peer_up", "gauge"),
                         ("proxyd_config_generation", "gauge"), ("proxyd_config_reloads_total", "counter"),
                         ("proxyd_plugin_info", "gauge"), ("proxyd_build_info", "gauge")):
        check_equal(types.get(family), kind, "TYPE of %s" % family)

    def req(listener_name, target, code):
        return sample(samples, "proxyd_requests_total", listener=listener_name, target=target, code=code)

    check_equal(req("front", "app", "2xx"), APP_REQUESTS, "requests_total front/app/2xx")
    check_equal(req("front", "solo", "5xx"), SOLO_REQUESTS, "requests_total front/solo/5xx")
    check_equal(req(FILES, "site", "2xx"), FILE_REQUESTS, "requests_total files/site/2xx")
    check_equal(req(FILES, "site", "4xx"), MISSING_REQUESTS, "requests_total files/site/4xx")
    total_requests = sum(v for (n, _), v in samples.items() if n == "proxyd_requests_total")
    check_equal(total_requests, APP_REQUESTS + SOLO_REQUESTS + FILE_REQUESTS + MISSING_REQUESTS,
                "requests_total summed over every series (nothing counted twice or elsewhere)")
    for name, count in (("front", APP_REQUESTS + SOLO_REQUESTS), (FILES, FILE_REQUESTS + MISSING_REQUESTS)):
        check_equal(sample(samples, "proxyd_request_duration_seconds_count", listener=name), count,
                    "request duration histogram count on %s" % name)
        check_equal(sample(samples, "proxyd_client_connections_accepted_total", listener=name),
                    before[name]["connections"]["accepted"] + count, "connections accepted on %s: one per request" % name)
        check_equal(sample(samples, "proxyd_client_connections_open", listener=name), 0,
                    "connections open on %s after the traffic" % name)
        check_equal(sample(samples, "proxyd_client_received_bytes_total", listener=name), before[name]["bytes"]["received"] + sent[name],
                    "bytes received from clients on %s = bytes the test sent" % name)
        check_equal(sample(samples, "proxyd_client_sent_bytes_total", listener=name), before[name]["bytes"]["sent"] + received[name],
                    "bytes sent to clients on %s = bytes the test received" % name)

    def peer(name, group, port):
        return sample(samples, name, upstream=group, peer="%s:%d" % (HOST, port))

    for backend in good:
        with backend.lock:
            served, open_conns = len(backend.requests), len(backend.open)
        check_equal(peer("proxyd_upstream_peer_requests_total", "app", backend.port), served,
                    "peer requests of %s = requests that backend received" % backend.tag)
        check_equal(peer("proxyd_upstream_peer_up", "app", backend.port), 1, "%s is up" % backend.tag)
        check_equal(peer("proxyd_upstream_peer_active_connections", "app", backend.port), 0,
                    "%s: no connection busy after the traffic" % backend.tag)
        check_equal(peer("proxyd_upstream_peer_idle_connections", "app", backend.port), open_conns,
                    "%s: idle pooled connections = connections the backend holds open" % backend.tag)
    check_equal(sum(len(b.requests) for b in good), APP_REQUESTS, "the backends served every app request")
    check_equal(peer("proxyd_upstream_peer_up", "app", dead_app), 0, "the app group's closed port is down")
    check_equal(peer("proxyd_upstream_peer_requests_total", "app", dead_app), 1,
                "the app group's closed port was tried once, then skipped while down")
    check_equal(sample(samples, "proxyd_upstream_peer_failures_total", upstream="app",
                       peer="%s:%d" % (HOST, dead_app), reason="connect"), 1, "its connect failures")
    check_equal(peer("proxyd_upstream_peer_up", "solo", dead_solo), 0, "the solo group's closed port is down")
    check_equal(sample(samples, "proxyd_upstream_peer_failures_total", upstream="solo",
                       peer="%s:%d" % (HOST, dead_solo), reason="connect"), SOLO_REQUESTS,
                "solo's peer: one connect failure per request (a lone down peer is still tried)")
    check_equal(sample(samples, "proxyd_upstream_gateway_errors_total", upstream="solo", code="502"), SOLO_REQUESTS,
                "solo answered 502 by proxyd")
    check_equal(sample(samples, "proxyd_upstream_gateway_errors_total", upstream="app", code="502"), 0,
                "app never answered 502")
    check_equal(sample(samples, "proxyd_config_generation"), 1, "config generation")
    check_equal(sample(samples, "proxyd_config_reloads_total"), 0, "reloads")
    plugins = {dict(labels)["name"]: dict(labels) for (n, labels), _ in samples.items() if n == "proxyd_plugin_info"}
    check_equal(sorted(plugins), ["prefix", "round_robin", "static"], "plugin_info names")
    check_equal(plugins["static"]["kind"], "content", "plugin_info kind of static")
    check(plugins["static"]["file"].endswith("content_static.so"), "plugin_info file of static")

    # /status.json
    status = json.loads(admin_get(admin, "/status.json").body)
    write_file(os.path.join(folder, "status.json"), json.dumps(status, indent=2))
    check_equal(status["config"]["path"], os.path.abspath(config_path), "status.json config path")
    check_equal(status["config"]["generation"], 1, "status.json generation")
    check_equal([(l["name"], l["listen"]) for l in status["listeners"]],
                [("front", "%s:%d" % (HOST, front)), (FILES, "%s:%d" % (HOST, files))],
                "status.json listeners, in config order")
    check_equal(status["listeners"][0]["router"], "prefix", "front's router")
    check_equal(status["listeners"][1]["default_target"], "site", "files' target")
    check_equal(status["listeners"][0]["requests"]["by_target"]["solo"]["5xx"], SOLO_REQUESTS, "front solo 5xx")
    check_equal(status["listeners"][1]["bytes"], {"received": before[FILES]["bytes"]["received"] + sent[FILES],
                 "sent": before[FILES]["bytes"]["sent"] + received[FILES]},
                "files' bytes")
    expected_peers = {"app": ["%s:%d" % (HOST, p) for p in peers_app], "solo": ["%s:%d" % (HOST, dead_solo)]}
    down = {"%s:%d" % (HOST, dead_app), "%s:%d" % (HOST, dead_solo)}
    check_equal([u["name"] for u in status["upstreams"]], ["app", "solo"], "status.json groups")
    for group in status["upstreams"]:
        check_equal([p["address"] for p in group["peers"]], expected_peers[group["name"]],
                    "status.json peers of %s, in config order" % group["name"])
        check_equal(group["balancer"], "round_robin", "balancer of %s" % group["name"])
        for p in group["peers"]:
            check_equal(p["state"], "DOWN" if p["address"] in down else "UP", "state of %s" % p["address"])
    check_equal(status["upstreams"][1]["answered"]["502"], SOLO_REQUESTS, "status.json solo answered 502")
    check_equal(sorted(p["name"] for p in status["plugins"]), ["prefix", "round_robin", "static"],
                "status.json plugins")

    # Admin request rules.
    head = admin_get(admin, "/metrics", "HEAD")
    check_equal((head.status, head.body), (200, b""), "HEAD /metrics: 200, no body")
    check(int(head.header("Content-Length")) > 0, "HEAD /metrics gives the length GET would have")
    post = admin_get(admin, "/metrics", "POST")
    check_equal(post.status, 405, "POST /metrics")
    check_equal(post.header("Allow"), "GET, HEAD", "405's Allow")
    check_equal(admin_get(admin, "/nope").status, 404, "GET /nope on the admin listener")
    check_equal(status_of(exchange(admin, b"GET /metrics HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")), 400,
                "a malformed head, refused by the request parser")

    # Without [admin], no admin listener.
    plain_port = free_ports(1)[0]
    plain_path = write_file(os.path.join(folder, "plain.toml"),
                            config_head() + static_handler("site", os.path.join(WWW_DIR, "default"))
                            + listener("files", plain_port, "handler", "site"))
    plain = Proxyd(plain_path, folder, tag="plain").start([plain_port])
    check_equal(listening_ports(plain.proc.pid), {plain_port},
                "without [admin], proxyd listens on its listener's port only")
    check_equal(plain.stop(), 0, "plain proxyd exit code")
    admin_follows_reload(folder)
    shared_listener_name(folder)
    hung_peer_counted(folder)


    # /status in a real browser.
    chromium = find_chromium()
    if chromium is None:
        raise TestSkip("chromium not installed (apt-get install chromium); every other check passed")
    url = "http://%s:%d/status" % (HOST, admin)
    dom = run_chromium(chromium, url, ["--dump-dom"], folder, "dump-dom")
    write_file(os.path.join(folder, "status.dom.html"), dom)
    rendered = {}
    for table in re.finditer(r'<table class="upstream" data-upstream="([^"]*)">(.*?)</table>', dom, re.S):
        rows = re.findall(r'<tr class="peer" data-peer="([^"]*)" data-state="([^"]*)">\s*<td>([^<]*)</td>'
                          r'\s*<td class="state (up|down)">(UP|DOWN)</td>', table.group(2))
        rendered[html.unescape(table.group(1))] = [(html.unescape(r[2]), r[4]) for r in rows]
    check_equal(rendered, {g: [(a, "DOWN" if a in down else "UP") for a in peers]
                           for g, peers in expected_peers.items()},
                "the rendered /status lists every peer of the live config with its state")
    check_equal([html.unescape(n) for n in re.findall(r'<tr class="listener" data-listener="([^"]*)">', dom)],
                ["front", FILES], "the rendered /status lists the listeners, names unharmed by escaping")
    check("<title>proxyd status</title>" in dom and os.path.abspath(config_path) in dom,
          "the rendered page names itself and the config file")

    out_dir = os.path.join(BUILD_DIR or folder, "tests", "integration", "test_admin")
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "status.png")
    if os.path.exists(shot):
        os.remove(shot)
    run_chromium(chromium, url, ["--screenshot=" + shot, "--window-size=1000,800", "--hide-scrollbars"], folder,
                 "screenshot")
    check(os.path.exists(shot) and os.path.getsize(shot) > 10_000, "screenshot of /status written to %s" % shot)
    check_equal(proxyd.stop(), 0, "proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
