#!/usr/bin/env python3
"""include, [defaults] and -T through the real binary. A main file includes its upstream from one
file and its listener from a glob of site files; [defaults.upstream] gives every upstream its
read_timeout. `proxyd -T` prints the effective configuration (the included tables, the filled-in
default, no include or defaults keys left); an error in an included file names that file and line;
and a SIGHUP reads the included files again (the upstream moves to another backend)."""

import os
import signal
import subprocess

from proxyd_harness import (HOST, PROXYD_BIN, Backend, Client, Proxyd, check, check_equal, config_head, free_ports,
                            response_bytes, run_test, toml_str, wait_for_log, workdir, write_file)


def tagged(tag):
    return Backend(lambda request, conn_id: ([response_bytes(200, tag.encode())], False), tag=tag)


def upstream_file(backend):
    return "[upstreams.app]\npeers = [%s]\n" % toml_str("%s:%d" % (HOST, backend.port))


def main():
    folder = workdir("include")
    a, b = tagged("A"), tagged("B")
    (port,) = free_ports(1)
    main_path = write_file(os.path.join(folder, "main.toml"),
                           'include = ["upstream.toml", "sites/*.toml"]\n' + config_head(plugins=None)
                           + '[defaults.upstream]\nread_timeout = "7s"\n')
    upstream_path = write_file(os.path.join(folder, "upstream.toml"), upstream_file(a))
    write_file(os.path.join(folder, "sites", "front.toml"),
               '[[listeners]]\nname = "front"\nlisten = "%s:%d"\nupstream = "app"\n' % (HOST, port))

    shown = subprocess.run([PROXYD_BIN, "-T", "-c", main_path], capture_output=True, text=True, timeout=30)
    check_equal(shown.returncode, 0, "proxyd -T exit code")
    check("[upstreams.app]" in shown.stdout and "read_timeout = '7s'" in shown.stdout,
          "-T prints the included upstream with the default filled in", shown.stdout)
    check("listen = '%s:%d'" % (HOST, port) in shown.stdout, "-T prints the listener from the glob")
    check("include" not in shown.stdout.split("\n", 1)[1] and "[defaults" not in shown.stdout,
          "-T shows the result, not the include and defaults keys")

    bad = write_file(os.path.join(folder, "sites", "zz-bad.toml"), '\n[upstreams.other]\npeers = []\n')
    refused = subprocess.run([PROXYD_BIN, "-t", "-c", main_path], capture_output=True, text=True, timeout=30)
    check_equal(refused.returncode, 1, "an error in an included file fails -t")
    check("%s:2:1: upstreams.other.peers" % bad in refused.stderr or "%s:3:" % bad in refused.stderr,
          "the error names the included file and its line", refused.stderr)
    os.unlink(bad)

    proxyd = Proxyd(main_path, folder).start([port])
    with Client(port) as c:
        check_equal(c.request("GET", "/").body, b"A", "the included upstream answers")
    write_file(upstream_path, upstream_file(b))
    proxyd.send_signal(signal.SIGHUP)
    wait_for_log(proxyd, r"reloaded configuration \(generation 2\)")
    with Client(port) as c:
        check_equal(c.request("GET", "/").body, b"B", "after SIGHUP the changed included file is in force")


if __name__ == "__main__":
    run_test(main)
