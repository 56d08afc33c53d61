#!/usr/bin/env python3
"""Measures what proxyd and nginx answer to each request of hostile_cases.CASES and prints the
Markdown table of docs/hostile-input.md. Not a test: it reports, it asserts nothing.

    PROXYD_BIN=<build>/proxyd python3 tests/integration/measure_hostile.py

Both proxies run on free loopback ports in front of the same echo backend; nginx (Debian's) runs
in the foreground as a child of this script with a config written here, and is stopped by PID.
"Forwarded" says whether the backend received a complete request for the case.
"""

import os
import shutil
import signal
import subprocess
import time

from hostile_cases import CASES, status_of
from proxyd_harness import (Backend, Proxyd, TestSkip, config_head, die_with_parent, free_ports, listener,
                            on_exit, port_accepts, run_test, upstream, workdir, write_file)


def start_nginx(folder, port, backend_port, extra_http="", extra_server=""):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise TestSkip("nginx is not installed")
    os.makedirs(os.path.join(folder, "tmp"), exist_ok=True)
    conf = write_file(os.path.join(folder, "nginx.conf"), """
worker_processes 1;
pid %(f)s/nginx.pid;
error_log %(f)s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log %(f)s/nginx-access.log;
    client_body_temp_path %(f)s/tmp/body;
    proxy_temp_path %(f)s/tmp/proxy;
    fastcgi_temp_path %(f)s/tmp/fastcgi;
    uwsgi_temp_path %(f)s/tmp/uwsgi;
    scgi_temp_path %(f)s/tmp/scgi;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    %(h)s
    upstream echo { server 127.0.0.1:%(b)d; keepalive 8; }
    server {
        listen 127.0.0.1:%(p)d;
        location / { proxy_pass http://echo; }%(s)s
    }
}
""" % {"f": folder, "p": port, "b": backend_port, "h": extra_http, "s": extra_server})
    proc = subprocess.Popen([nginx, "-p", folder, "-e", os.path.join(folder, "nginx-error.log"), "-c", conf,
                             "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)

    def stop():
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    on_exit(stop)
    deadline = time.monotonic() + 10
    while not port_accepts(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise TestSkip("nginx did not start (see %s/nginx-error.log)" % folder)
        time.sleep(0.05)
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    return version


def answer(port, backend, data):
    before = len(backend.requests)
    status, closed = status_of(port, data)
    time.sleep(0.05)
    forwarded = len(backend.requests) > before
    text = str(status) if status else "no answer"
    text += ", close" if closed else ", kept open"
    if forwarded:
        text += ", **forwarded**"
    return text


def main():
    folder = workdir("measure")
    backend = Backend()
    proxyd_port, nginx_port = free_ports(2)
    config = config_head(access="off", plugins=("round_robin",))
    config += upstream("echo", [backend.port], "max_tries = 1\n") + listener("front", proxyd_port, "upstream", "echo")
    Proxyd(write_file(os.path.join(folder, "proxyd.toml"), config), folder).start([proxyd_port])
    version = start_nginx(folder, nginx_port, backend.port)
    print()
    print("| input | proxyd | %s |" % version.replace("nginx version: ", ""))
    print("| --- | --- | --- |")
    for name, data, _, _ in CASES:
        print("| %s | %s | %s |" % (name, answer(proxyd_port, backend, data), answer(nginx_port, backend, data)))


if __name__ == "__main__":
    run_test(main)
