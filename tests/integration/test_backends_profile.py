#!/usr/bin/env python3
"""The shipped profiles pass `proxyd -t`, and the benchmark split works: `proxyd -c conf.d/backends.toml`
serves the eight demo backends alone (8888-8890, 9001-9005), and a second, proxy-only proxyd in front of
them (two workers) routes by prefix and balances round-robin. The proxy-only config declares no plugins and
names no balancer: the built-in plugin set provides them, as it does for the shipped profiles."""

import collections
import os
import subprocess

from proxyd_harness import (CONF_DIR, PROXYD_BIN, SOURCE_DIR, WWW_DIR, Client, Proxyd, check, check_equal,
                            config_head, free_ports, get, read_file, require_ports_free, run_test, toml_str,
                            upstream, workdir, write_file)

SITES = {8888: "default", 8889: "images", 8890: "pdf"}
WEB = {9000 + n: "web%d" % n for n in range(1, 6)}


def config_test():
    for name in ("reverse.toml", "lb.toml", "backends.toml"):
        done = subprocess.run([PROXYD_BIN, "-t", "-c", os.path.join(CONF_DIR, name)], cwd=SOURCE_DIR,
                              capture_output=True, timeout=30)
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        check(done.returncode == 0 and "configuration OK" in output,
              "proxyd -t -c conf.d/%s: exit 0 and \"configuration OK\"" % name,
              "exit %d, output: %s" % (done.returncode, output.strip()))


def backends_alone():
    for port, site in SITES.items():
        response = get(port, "/")
        check(response.status == 200 and response.body == read_file(os.path.join(WWW_DIR, site, "index.html")),
              "backends.toml: 127.0.0.1:%d serves www/%s/index.html" % (port, site), response.start_line)
    for port, name in WEB.items():
        response = get(port, "/")
        check(response.status == 200 and response.header("X-Backend") == name,
              "backends.toml: 127.0.0.1:%d serves the default site with X-Backend: %s" % (port, name),
              "%s, X-Backend %r" % (response.start_line, response.header("X-Backend")))


def proxy_in_front(folder):
    reverse, lb = free_ports(2)
    config = (config_head(plugins=None, workers=2)
              + upstream("web", [8888]) + upstream("images", [8889]) + upstream("pdf", [8890])
              + upstream("lb", sorted(WEB))
              + "[[listeners]]\nname = \"reverse\"\nlisten = %s\n[listeners.router]\nplugin = \"prefix\"\n"
                "routes = [\n  { prefix = \"/images/\", upstream = \"images\", strip_prefix = true },\n"
                "  { prefix = \"/pdf/\", upstream = \"pdf\", strip_prefix = true },\n"
                "  { prefix = \"/\", upstream = \"web\" },\n]\n\n" % toml_str("127.0.0.1:%d" % reverse)
              + "[[listeners]]\nname = \"lb\"\nlisten = %s\nupstream = \"lb\"\n" % toml_str("127.0.0.1:%d" % lb))
    path = write_file(os.path.join(folder, "proxy-only.toml"), config)
    proxy = Proxyd(path, folder, tag="proxy-only").start([reverse, lb])
    for target, rel in (("/", "default/index.html"), ("/images/photo.jpg", "images/photo.jpg"),
                        ("/pdf/report.pdf", "pdf/report.pdf")):
        response = get(reverse, target)
        check(response.status == 200 and response.body == read_file(os.path.join(WWW_DIR, rel)),
              "proxy-only config in front of backends.toml: GET %s is byte-exact" % target, response.start_line)
    with Client(lb) as client:
        names = [client.request("GET", "/").header("X-Backend") for _ in range(50)]
    check_equal(dict(sorted(collections.Counter(names).items())), {name: 10 for name in sorted(WEB.values())},
                "proxy-only lb in front of backends.toml: 50 requests spread evenly")
    check_equal(proxy.stop(), 0, "proxy-only proxyd exit code after SIGTERM")


def main():
    config_test()
    ports = sorted(SITES) + sorted(WEB)
    require_ports_free(ports)
    folder = workdir("backends")
    backends = Proxyd(os.path.join(CONF_DIR, "backends.toml"), folder, cwd=SOURCE_DIR, tag="backends").start(ports)
    backends_alone()
    proxy_in_front(folder)
    check_equal(backends.stop(), 0, "backends proxyd exit code after SIGTERM")


if __name__ == "__main__":
    run_test(main)
