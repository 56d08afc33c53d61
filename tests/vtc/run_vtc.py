"""Runs one varnishtest script (tests/vtc/*.vtc) against the real proxyd.

varnishtest (Debian's `varnish` package) scripts raw HTTP/1 and HTTP/2 clients and servers with
an implementation of its own, not nghttp2's, curl's or python-h2's: these scripts check proxyd
against a second, independent reading of RFC 9112 and RFC 9113, frame by frame, the way
HAProxy's regression tests do (they are written in the same dialect).

For the script given, this starts proxyd with proxyd.toml.in filled in (free loopback ports, the
build's plugin folder), then runs

    varnishtest -v -t 30 -D proxyd_addr=127.0.0.1 -D proxyd_port=P -D b1_port=B1 -D b2_port=B2
                -D proxyd_pid=PID script.vtc

The script's servers s1 and s2 listen on B1 and B2 (proxyd's upstreams "one", routed "/", and
"two", routed "/two/" with the prefix stripped); its clients connect to proxyd. After the script
passes, proxyd must still run and must stop cleanly on SIGTERM (exit 0), with no sanitizer report
on its stderr.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from proxyd_harness import (CONF_DIR, PLUGIN_DIR, HOST, WWW_DIR, Proxyd, TestFailure, TestSkip, check,  # noqa: E402
                            check_equal, die_with_parent, free_ports, note, on_exit, read_file, run_test,
                            workdir, write_file)

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT_TIMEOUT = 30  # seconds varnishtest gives the script (-t)


def session_members(sid):
    """The live processes of session sid (/proc/PID/stat's sixth field), zombies left out."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry))
    return members


def fill_config(proxyd_port, b1_port, b2_port):
    text = read_file(os.path.join(HERE, "proxyd.toml.in")).decode("utf-8")
    for field, value in (("@PORT@", proxyd_port), ("@B1_PORT@", b1_port), ("@B2_PORT@", b2_port),
                         ("@PLUGIN_DIR@", PLUGIN_DIR), ("@WWW_DIR@", WWW_DIR), ("@CONF_DIR@", CONF_DIR)):
        text = text.replace(field, str(value))
    return text


def main():
    if len(sys.argv) != 2:
        raise TestFailure("usage: run_vtc.py script.vtc")
    script = os.path.abspath(sys.argv[1])
    varnishtest = shutil.which("varnishtest")
    if varnishtest is None:
        # packaging/build-deps.sh installs it; a machine set up without it cannot run these.
        raise TestSkip("varnishtest not found (Debian package varnish; packaging/build-deps.sh installs it)")
    folder = workdir("vtc-" + os.path.splitext(os.path.basename(script))[0])
    proxyd_port, b1_port, b2_port = free_ports(3)
    config = write_file(os.path.join(folder, "proxyd.toml"), fill_config(proxyd_port, b1_port, b2_port))
    proxyd = Proxyd(config, folder).start([proxyd_port])
    command = [varnishtest, "-v", "-t", str(SCRIPT_TIMEOUT),
               "-D", "proxyd_addr=" + HOST, "-D", "proxyd_port=%d" % proxyd_port,
               "-D", "b1_port=%d" % b1_port, "-D", "b2_port=%d" % b2_port,
               "-D", "proxyd_pid=%d" % proxyd.proc.pid, script]
    note("running " + " ".join(command))
    # varnishtest keeps its own temporary folder under TMPDIR: this test's folder, removed with it.
    env = dict(os.environ, TMPDIR=folder)
    # It runs the script in a child with a process group of its own. Started in a session of its
    # own, both are found and stopped however this test ends (a timeout, ctest's SIGTERM).
    varnish = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, preexec_fn=die_with_parent)

    def stop_varnishtest():
        # Again until none is left: one may fork between a look and the kills.
        for _ in range(50):
            members = session_members(varnish.pid)
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        varnish.wait(timeout=10)
    on_exit(stop_varnishtest)
    try:
        stdout, _ = varnish.communicate(timeout=SCRIPT_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        raise TestFailure("varnishtest did not end within %d s" % (SCRIPT_TIMEOUT + 30))
    output = stdout.decode("utf-8", "replace")
    if varnish.returncode != 0:
        # -v logs every frame and byte each side saw: the end of it says what went wrong.
        print("---- varnishtest's log (last 150 lines) ----\n" + "\n".join(output.splitlines()[-150:]) + "\n----")
    check_equal(varnish.returncode, 0, "varnishtest passes %s" % os.path.basename(script))
    check(proxyd.alive(), "proxyd still runs after the script")
    check_equal(proxyd.stop(), 0, "proxyd stops cleanly on SIGTERM")


if __name__ == "__main__":
    run_test(main)
