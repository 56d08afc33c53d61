#!/usr/bin/env python3
"""Every example under conf.d/examples/ is a configuration `proxyd -t` accepts, with the plugins of
the build (the built-in set beside the binary). Examples with an HTTPS listener name the demo
certificate, which packaging/make-demo-cert.sh makes first (it keeps one that is still valid).

Environment (set by proxyd_add_integration_test): PROXYD_BIN, PROXYD_SOURCE_DIR.
"""
import glob
import os
import subprocess
import sys

PROXYD_BIN = os.environ["PROXYD_BIN"]
SOURCE_DIR = os.environ["PROXYD_SOURCE_DIR"]


def main():
    examples = sorted(glob.glob(os.path.join(SOURCE_DIR, "conf.d", "examples", "*.toml")))
    if not examples:
        print("FAIL: no examples found in conf.d/examples")
        return 1
    made = subprocess.run(["bash", os.path.join(SOURCE_DIR, "packaging", "make-demo-cert.sh")],
                          capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        print("FAIL: packaging/make-demo-cert.sh: exit %d\n%s" % (made.returncode, made.stderr))
        return 1
    failed = 0
    for path in examples:
        run = subprocess.run([PROXYD_BIN, "-t", "-c", path], capture_output=True, text=True, timeout=30)
        name = os.path.relpath(path, SOURCE_DIR)
        if run.returncode != 0:
            failed += 1
            print("FAIL: proxyd -t -c %s: exit %d\n%s%s" % (name, run.returncode, run.stdout, run.stderr))
        else:
            print("ok: proxyd -t -c %s" % name)
    print("PASS" if not failed else "FAIL: %d of %d examples refused" % (failed, len(examples)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
