#!/usr/bin/env python3
"""h2_conformance.py over TLS (ALPN h2) instead of cleartext h2c: the same checks, for ctest,
which passes no arguments to a script."""
import os
import runpy
import sys

sys.argv.append("--tls")
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "h2_conformance.py"), run_name="__main__")
