#!/usr/bin/env python3
"""`proxyd -T`: the effective configuration on stdout. It is valid TOML without include or
[defaults] left in it; the shipped lb profile comes out with its [defaults.handler] filled into
each demo handler; printing a printed configuration again gives the same text (the effective
configuration is a fixed point, so what -T shows is exactly what proxyd runs); and a broken
configuration exits 1 with its errors on stderr and nothing on stdout.

Environment (set by proxyd_add_integration_test): PROXYD_BIN, PROXYD_SOURCE_DIR.
"""
import os
import subprocess
import sys
import tempfile
import tomllib

PROXYD_BIN = os.environ["PROXYD_BIN"]
SOURCE_DIR = os.environ["PROXYD_SOURCE_DIR"]
RUN_TIMEOUT = 20  # seconds for one `proxyd -T`


def print_effective(path):
    return subprocess.run([PROXYD_BIN, "-T", "-c", path], capture_output=True, text=True, timeout=RUN_TIMEOUT)


def body(stdout):
    """The printed configuration without its first line, the "# proxyd: configuration ... OK" comment."""
    return stdout.split("\n", 1)[1] if "\n" in stdout else ""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def shipped_lb_profile(workdir):
    run = print_effective(os.path.join(SOURCE_DIR, "conf.d", "lb.toml"))
    if run.returncode != 0:
        return [f"exit {run.returncode}", run.stderr]
    problems = []
    doc = tomllib.loads(run.stdout)
    if "defaults" in doc or "include" in doc:
        problems.append("[defaults] or include left in the output")
    handlers = doc.get("handlers", {})
    if sorted(handlers) != [f"web{i}" for i in range(1, 6)]:
        problems.append(f"handlers: {sorted(handlers)}")
    for name, handler in handlers.items():
        want = {"plugin": "static", "root": "../www/default", "mime_types": "mime.toml", "precompressed": True,
                "headers": {"X-Backend": name}}
        if handler != want:
            problems.append(f"handlers.{name} = {handler!r}, want {want!r}")
    return problems


def printed_twice_is_the_same(workdir):
    folder = os.path.join(workdir, "fixed-point")
    write(os.path.join(folder, "sites", "b.toml"),
          '[[listeners]]\nname = "b"\nlisten = "127.0.0.1:18302"\nhandler = "files"\n')
    write(os.path.join(folder, "sites", "a.toml"),
          '[[listeners]]\nname = "a"\nlisten = "127.0.0.1:18301"\nupstream = "app"\n'
          '[upstreams.app]\npeers = ["127.0.0.1:18309"]\n')
    main = write(os.path.join(folder, "main.toml"),
                 'include = "sites/*.toml"\nworkers = 1\n[log]\nlevel = "warn"\n'
                 '[defaults.upstream]\nread_timeout = "7s"\n'
                 f'[defaults.handler]\nplugin = "static"\nroot = "{folder}"\n'
                 '[defaults.listener]\naccess_log = false\n'
                 '[handlers.files]\nheaders = { X-Site = "files" }\n')
    first = print_effective(main)
    if first.returncode != 0:
        return [f"first -T: exit {first.returncode}", first.stderr]
    problems = []
    doc = tomllib.loads(first.stdout)
    if [l["name"] for l in doc.get("listeners", [])] != ["a", "b"]:
        problems.append("listeners not in glob order: " + repr(doc.get("listeners")))
    if any(l.get("access_log") is not False for l in doc.get("listeners", [])):
        problems.append("[defaults.listener] not filled in")
    if doc.get("upstreams", {}).get("app", {}).get("read_timeout") != "7s":
        problems.append("[defaults.upstream] not filled in")
    printed = write(os.path.join(folder, "printed.toml"), first.stdout)
    second = print_effective(printed)
    if second.returncode != 0:
        problems += [f"-T of the printed configuration: exit {second.returncode}", second.stderr]
    elif body(second.stdout) != body(first.stdout):
        problems += ["printed again, the configuration differs:", first.stdout, second.stdout]
    if problems:
        problems.append("stdout:\n" + first.stdout)
    return problems


def broken_prints_nothing(workdir):
    folder = os.path.join(workdir, "broken")
    site = write(os.path.join(folder, "site.toml"), '\n[upstreams.app]\npeers = ["127.0.0.1:18309"]\nretries = 3\n')
    main = write(os.path.join(folder, "main.toml"),
                 'include = "site.toml"\n[[listeners]]\nname = "a"\nlisten = "127.0.0.1:18301"\nupstream = "app"\n')
    run = print_effective(main)
    problems = []
    if run.returncode != 1:
        problems.append(f"exit {run.returncode}, want 1")
    if run.stdout:
        problems.append("stdout is not empty:\n" + run.stdout)
    if f"{site}:4:1: upstreams.app.retries: unknown key" not in run.stderr:
        problems.append("stderr does not name site.toml:4:1 and the key:\n" + run.stderr)
    return problems


CASES = [shipped_lb_profile, printed_twice_is_the_same, broken_prints_nothing]


def main():
    failed = 0
    with tempfile.TemporaryDirectory(prefix="proxyd-print-") as workdir:
        workdir = os.path.realpath(workdir)
        for case in CASES:
            problems = case(workdir)
            print(("FAIL " if problems else "ok   ") + case.__name__, flush=True)
            for p in problems:
                print("     " + str(p).replace("\n", "\n     "))
            failed += bool(problems)
    print(f"{len(CASES) - failed}/{len(CASES)} -T cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
