#!/usr/bin/env python3
"""Loader refusals: each deliberately broken plugin in this folder is offered to `proxyd -t`.

Every refusal must exit 1 and say on stderr where (config file:line:col of the key that named the
plugin, and that key's dotted path), what (the .so file's path) and, for a version refusal, both
versions. The two good plugins must give exit 0 and "configuration OK".

Environment (set by proxyd_add_integration_test): PROXYD_BIN, PROXYD_TEST_PLUGIN_DIR.
Run one case by name: test_loader_refusals.py broken_major
"""
import json
import os
import re
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config"))
from proxyd_validate import validate  # noqa: E402  (shared with tests/config)

PROXYD_BIN = os.environ["PROXYD_BIN"]
PLUGIN_DIR = os.environ["PROXYD_TEST_PLUGIN_DIR"]
RUN_TIMEOUT = 20  # seconds; `proxyd -t` serves nothing, so this is generous

TEST_PLUGINS = [
    "good_minor0.so", "content_ok.so", "config_reject.so", "bad.so",
    "broken_major.so", "broken_no_entry.so", "broken_struct_size.so", "broken_hooks_size.so",
    "broken_kind_tables.so", "broken_two_tables.so", "broken_kind_value.so",
    "broken_null_descriptor.so", "broken_null_name.so", "broken_no_create.so", "newer_minor.so",
]


def toml_string(s):
    # A JSON string is a valid TOML basic string for everything we write here.
    return json.dumps(s)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def router_config(so_file, router_lines="routes = []"):
    """A listener whose router is plugin x (loaded from so_file); it may route to handler h, an
    instance of content_ok. Marks: @plugin, @use."""
    return f"""\
plugin_dir = {toml_string(PLUGIN_DIR)}

[plugins]
x = "{so_file}"  # @plugin
ok = "content_ok.so"

[handlers.h]
plugin = "ok"

[[listeners]]
name = "t"
listen = "127.0.0.1:{free_port()}"
[listeners.router]
plugin = "x"  # @use
{router_lines}
"""


def balancer_config(so_file):
    """An upstream balanced by plugin x (loaded from so_file). Marks: @plugin, @use."""
    return f"""\
plugin_dir = {toml_string(PLUGIN_DIR)}

[plugins]
x = "{so_file}"  # @plugin

[upstreams.u]
peers = ["127.0.0.1:{free_port()}"]
balancer = "x"  # @use

[[listeners]]
name = "t"
listen = "127.0.0.1:{free_port()}"
upstream = "u"
"""


def handler_config(so_file, handler_lines=""):
    """A listener answered by handler h, an instance of plugin x. Marks: @plugin, @use, @block."""
    return f"""\
plugin_dir = {toml_string(PLUGIN_DIR)}

[plugins]
x = "{so_file}"  # @plugin

[handlers.h]  # @block
plugin = "x"  # @use
{handler_lines}

[[listeners]]
name = "t"
listen = "127.0.0.1:{free_port()}"
handler = "h"
"""


class Case:
    """One run of `proxyd -t` on one config.

    ok:    expect exit 0 and "configuration OK".
    at:    the mark (a "# @name" comment) of the line the error must point at.
    key:   the dotted key path that must follow the location on that line, or None.
    texts: strings that must appear somewhere on stderr (case-insensitive).
    """

    def __init__(self, name, config, ok=False, at=None, key=None, texts=(), any_column=False):
        self.name, self.config, self.ok = name, config, ok
        self.at, self.key, self.texts, self.any_column = at, key, list(texts), any_column


def so_path(name):
    return os.path.join(PLUGIN_DIR, name)


def so_path_pattern(name):
    """The plugin's path as proxyd may print it: as joined, or canonical."""
    paths = {so_path(name), os.path.realpath(so_path(name))}
    return "|".join(re.escape(p) for p in sorted(paths))


def printed_path(name):
    return re.compile(so_path_pattern(name))


def version_pattern(v):
    return r"(?<![\d.])" + re.escape(v) + r"(?![\d])"


def current_abi():
    """"1.N", as the header the core was built with declares it."""
    header = os.path.join(os.environ["PROXYD_SOURCE_DIR"], "core", "include", "proxyd", "plugin.h")
    with open(header) as f:
        text = f.read()
    major = re.search(r"#define PROXYD_ABI_MAJOR (\d+)", text).group(1)
    minor = re.search(r"#define PROXYD_ABI_MINOR (\d+)", text).group(1)
    return "%s.%s" % (major, minor)


CASES = [
    Case("broken_major", router_config("broken_major.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_major.so"), re.compile(version_pattern("2.0")),
                re.compile(version_pattern(current_abi()))]),
    Case("newer_minor", router_config("newer_minor.so"), at="plugin", key="plugins.x",
         texts=[printed_path("newer_minor.so"), re.compile(version_pattern("1.9")),
                re.compile(version_pattern(current_abi()))]),
    Case("broken_no_entry", router_config("broken_no_entry.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_no_entry.so"), "proxyd_plugin_entry"]),
    Case("broken_struct_size", router_config("broken_struct_size.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_struct_size.so")]),
    Case("broken_hooks_size", router_config("broken_hooks_size.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_hooks_size.so")]),
    Case("broken_kind_tables", router_config("broken_kind_tables.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_kind_tables.so")]),
    Case("broken_two_tables", handler_config("broken_two_tables.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_two_tables.so")]),
    Case("broken_kind_value", router_config("broken_kind_value.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_kind_value.so")]),
    Case("broken_null_descriptor", router_config("broken_null_descriptor.so"), at="plugin",
         key="plugins.x", texts=[printed_path("broken_null_descriptor.so")]),
    Case("broken_null_name", router_config("broken_null_name.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_null_name.so")]),
    Case("broken_no_create", router_config("broken_no_create.so"), at="plugin", key="plugins.x",
         texts=[printed_path("broken_no_create.so")]),
    Case("not_a_shared_object", router_config("bad.so"), at="plugin", key="plugins.x",
         texts=[printed_path("bad.so")]),
    # A good content plugin where a router is expected: the error is at the use, not the declaration.
    Case("kind_mismatch", router_config("content_ok.so"), at="use", key="listeners[0].router.plugin",
         texts=[printed_path("content_ok.so"), "content", "routing"]),
    Case("kind_mismatch_balancer", balancer_config("content_ok.so"), at="use", key="upstreams.u.balancer",
         texts=[printed_path("content_ok.so"), "content", "balancing"]),
    # Errors the plugin reports itself: "<file>:<line>:<col>: plugin <name>: <message>".
    Case("config_error_at_key", handler_config("config_reject.so", 'greeting = "hello"  # @bad'),
         at="bad", key=re.compile(r"plugin (x|config_reject):"),
         texts=["greeting is rejected by config_reject"]),
    Case("config_error_reported_but_ok", handler_config("config_reject.so", "report_but_ok = true  # @bad"),
         at="bad", key=re.compile(r"plugin (x|config_reject):"),
         texts=["report_but_ok is reported by config_reject"]),
    Case("config_error_at_block", handler_config("config_reject.so", ""), at="block",
         key=re.compile(r"plugin (x|config_reject):"), texts=["config_reject needs a greeting"],
         any_column=True),
    # create_instance fails without a word: the core still says where.
    Case("create_fails_silently", handler_config("config_reject.so", "silent = true"), at="block",
         key=re.compile(r"plugin (x|config_reject)|handlers\.h"), any_column=True),
    # The good ones.
    Case("good_minor0", router_config("good_minor0.so", 'routes = [{ prefix = "/", handler = "h" }]'),
         ok=True),
    Case("content_ok", handler_config("content_ok.so"), ok=True),
]


def mark(config, name):
    """(line number, 1-based columns acceptable for a key) of the line carrying '# @name'."""
    for number, line in enumerate(config.splitlines(), 1):
        if re.search(r"#\s*@" + re.escape(name) + r"\b", line):
            key_col = len(line) - len(line.lstrip()) + 1
            cols = {key_col}
            eq = line.find("=")
            if eq >= 0:  # the value's column too: a core may point at either
                cols.add(eq + 1 + len(line[eq + 1:]) - len(line[eq + 1:].lstrip()) + 1)
            return number, cols
    raise AssertionError(f"test bug: no mark @{name} in config")


def contains(haystack, needle):
    if isinstance(needle, re.Pattern):
        return needle.search(haystack) is not None
    return needle.lower() in haystack.lower()


def describe(needle):
    return f"/{needle.pattern}/" if isinstance(needle, re.Pattern) else repr(needle)


def check(case, workdir):
    """Runs one case; returns a list of problems (empty when it passed)."""
    config_path = os.path.join(workdir, case.name + ".toml")
    with open(config_path, "w") as f:
        f.write(case.config)
    problems, out, err = validate(PROXYD_BIN, config_path, case.ok, RUN_TIMEOUT)
    if not case.ok:
        line, cols = mark(case.config, case.at)
        located = [m for m in re.finditer(re.escape(config_path) + r":(\d+):(\d+): ?(.*)", err)
                   if int(m.group(1)) == line and (case.any_column or int(m.group(2)) in cols)]
        if not located:
            want_col = "any" if case.any_column else "|".join(str(c) for c in sorted(cols))
            problems.append(f"no error at {config_path}:{line}:{want_col}:")
        elif case.key is not None and not any(contains(m.group(3), case.key) for m in located):
            problems.append(f"the error at line {line} does not name {describe(case.key)}")
        # Each case has one fault: an error elsewhere means the case or the loader is imprecise.
        stray = sorted({int(m.group(1)) for m in re.finditer(re.escape(config_path) + r":(\d+):\d+:", err)}
                       - {line})
        if stray:
            problems.append(f"errors also reported at line(s) {stray}")
        for text in case.texts:
            if not contains(err, text):
                problems.append(f"stderr lacks {describe(text)}")
    if problems:
        problems.append("config:\n" + indent(case.config))
        problems.append(f"stdout:\n{indent(out)}\nstderr:\n{indent(err)}")
    return problems


def indent(text):
    return "\n".join("    | " + l for l in text.rstrip("\n").splitlines()) or "    | (empty)"


def main():
    missing = [p for p in TEST_PLUGINS if not os.path.exists(so_path(p))]
    if missing:
        print(f"test plugins not built in {PLUGIN_DIR}: {', '.join(missing)}", file=sys.stderr)
        return 1
    selected = [c for c in CASES if len(sys.argv) < 2 or c.name in sys.argv[1:]]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="proxyd-loader-") as workdir:
        workdir = os.path.realpath(workdir)
        for case in selected:
            problems = check(case, workdir)
            print(("FAIL " if problems else "ok   ") + case.name, flush=True)
            for p in problems:
                print("     " + p.replace("\n", "\n     "))
            failed += bool(problems)
    print(f"{len(selected) - failed}/{len(selected)} loader cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
