#!/usr/bin/env python3
"""Config errors: broken configs given to `proxyd -t` must exit 1 with an error that starts
"<config file>:<line>:<col>: " on the offending line and names the key ("listeners[0].listen") or,
for plugin-reported errors, the plugin ("plugin static:"). The shipped profiles must pass. Last,
two processes on one listen address: the second must fail and say why.

The assertions hold the location, the key and the meaningful words (the unknown name, the bad
value), not the exact wording, so messages can be polished freely.

Environment (set by proxyd_add_integration_test): PROXYD_BIN, PROXYD_SOURCE_DIR,
PROXYD_PLUGIN_DIR (the real plugins), PROXYD_TEST_PLUGIN_DIR (tests/loader's plugins; content_ok.so
serves the run-time cases).
Run some cases by name: test_config_errors.py bad_listen_no_port duplicate_listen
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from proxyd_validate import validate

PROXYD_BIN = os.environ["PROXYD_BIN"]
SOURCE_DIR = os.environ["PROXYD_SOURCE_DIR"]
PLUGIN_DIR = os.environ["PROXYD_PLUGIN_DIR"]
TEST_PLUGIN_DIR = os.environ["PROXYD_TEST_PLUGIN_DIR"]
RUN_TIMEOUT = 20       # seconds for `proxyd -t`
START_TIMEOUT = 10     # seconds for a serving proxyd to accept connections
EXIT_TIMEOUT = 15      # seconds for a proxyd that cannot bind to give up
EPHEMERAL = range(32768, 61000)  # Linux's default ip_local_port_range, which the hint is about


def toml_string(s):
    # A JSON string is a valid TOML basic string for everything we write here.
    return json.dumps(s)


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port(lo=None, hi=None):
    """A port free on 127.0.0.1 now: any (kernel's choice), or one in [lo, hi]."""
    if lo is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(200):
        port = random.randint(lo, hi)
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


def upstream_block():
    return f"""\
[upstreams.u]
peers = ["127.0.0.1:{free_port()}"]
balancer = "rr"
"""


def listener(name="t", listen=None, target='upstream = "u"', mark=""):
    listen = listen or f"127.0.0.1:{free_port()}"
    return f"""\
[[listeners]]{mark}
name = "{name}"
listen = "{listen}"
{target}
"""


# A valid config made of the pieces above, for cases that break one piece. The round-robin
# balancer is the real plugin, found beside the binary whatever plugin_dir says.
def base(top="", log="", plugins="", upstream=None, listeners=None, extra=""):
    return f"""\
workers = 1
{top}
[log]
level = "warn"
{log}
[plugins]
rr = "balancing_round_robin.so"
{plugins}
{upstream if upstream is not None else upstream_block()}
{listeners if listeners is not None else listener()}
{extra}"""


def with_test_plugins(text):
    return f"plugin_dir = {toml_string(TEST_PLUGIN_DIR)}\n" + text


def with_real_plugins(text):
    return f"plugin_dir = {toml_string(PLUGIN_DIR)}\n" + text


class Case:
    """One `proxyd -t` run.

    ok:     expect exit 0 and "configuration OK". config is TOML text, or the path of a profile.
    at:     mark name(s) ("# @name" comments) of the line(s) the error may point at.
    key:    a string or pattern the located error line must contain (the dotted key path).
    texts:  strings or patterns that must appear somewhere on stderr (strings case-insensitive).
    texts:  strings or patterns that must appear somewhere on stderr (strings case-insensitive);
            for an ok case too (a warning).
    any_column: the column is not checked (table headers, syntax errors, array elements).
    key_column: only the key's column is accepted, not its value's.
    files:  {name: (text, mode)} written beside the config first (a token file, say).
    absent: patterns that must not appear on stderr (a warning that would be wrong here).
    """

    def __init__(self, name, config, ok=False, at="here", key=None, texts=(), any_column=False, key_column=False,
                 files=None, absent=()):
        self.name, self.config, self.ok = name, config, ok
        self.absent = list(absent)
        self.at = [at] if isinstance(at, str) else list(at)
        self.key, self.texts, self.any_column, self.key_column = key, list(texts), any_column, key_column
        self.files = files or {}


def key_path(*parts):
    """A pattern for a dotted key path, e.g. key_path("listeners[0]", "listen")."""
    return re.compile(r"(?<![\w.\[\]])" + re.escape(".".join(parts)) + r"(?![\w\[])")


CASES = [
    # The pieces the broken cases start from are valid on their own, so each broken case has
    # exactly the one fault it names.
    Case("base_is_valid", base(), ok=True),
    Case("base_with_handler_is_valid", with_test_plugins(base(
        listeners=listener(target='handler = "h"'), plugins='ok = "content_ok.so"',
        extra='[handlers.h]\nplugin = "ok"\n')), ok=True),
    Case("base_with_router_is_valid", with_real_plugins(base(
        listeners=listener(target="") + '[listeners.router]\nplugin = "prefix"\n'
                                        'routes = [{ prefix = "/", upstream = "u" }]\n',
        plugins='prefix = "routing_prefix.so"')), ok=True),
    # TOML itself.
    Case("toml_syntax_error", base(top="oops = = 1  # @here"), any_column=True),
    Case("toml_duplicate_key", base(top="workers = 2  # @here"), any_column=True,
         texts=["workers"]),
    # Unknown keys, wherever they are.
    Case("unknown_top_level_key", base(top="wokers = 2  # @here"), key=key_path("wokers")),
    Case("unknown_listener_key",
         base(listeners=listener(target='upstream = "u"\ntiemout = "5s"  # @here')),
         key=key_path("listeners[0]", "tiemout")),
    Case("unknown_upstream_key", base(upstream=upstream_block() + 'balancr = "x"  # @here\n'),
         key=key_path("upstreams", "u", "balancr")),
    Case("unknown_log_key", base(log='levle = "info"  # @here'), key=key_path("log", "levle")),
    Case("bad_access_format", base(log='access_format = "xml"  # @here'), key=key_path("log", "access_format"),
         texts=["combined", "json"]),
    Case("json_access_format_is_valid", base(log='access_format = "json"'), ok=True),
    # Wrong types.
    Case("wrong_type_workers", base().replace("workers = 1", 'workers = "two"  # @here'),
         key=key_path("workers")),
    Case("wrong_type_listen", base(listeners=listener(listen="PLACEHOLDER")).replace(
        'listen = "PLACEHOLDER"', "listen = 5  # @here"), key=key_path("listeners[0]", "listen")),
    # Missing or contradictory keys of a listener: the error points at its [[listeners]] header.
    Case("listener_without_listen", base(listeners=f"""\
[[listeners]]  # @here
name = "t"
upstream = "u"
"""), key=re.compile(r"listeners\[0\].*\blisten\b"), any_column=True),
    Case("listener_without_target", base(listeners=listener(target="", mark="  # @here")),
         key=re.compile(r"listeners\[0\]"), texts=["handler", "upstream", "router"], any_column=True),
    Case("listener_handler_and_upstream", with_test_plugins(base(
        listeners=listener(target='handler = "h"  # @handler\nupstream = "u"  # @upstream',
                           mark="  # @header"),
        plugins='ok = "content_ok.so"', extra='[handlers.h]\nplugin = "ok"\n')),
        at=["header", "handler", "upstream"], key=re.compile(r"listeners\[0\]"),
        texts=["handler", "upstream"], any_column=True),
    # Listen addresses.
    Case("bad_listen_no_port", base(listeners=listener(listen="LISTEN")).replace(
        'listen = "LISTEN"', 'listen = "127.0.0.1"  # @here'),
         key=key_path("listeners[0]", "listen"), texts=["127.0.0.1"]),
    Case("bad_listen_port_range", base(listeners=listener(listen="LISTEN")).replace(
        'listen = "LISTEN"', 'listen = "127.0.0.1:99999"  # @here'),
         key=key_path("listeners[0]", "listen"), texts=["99999"]),
    Case("bad_listen_host", base(listeners=listener(listen="LISTEN")).replace(
        'listen = "LISTEN"', 'listen = "nohost:80"  # @here'),
         key=key_path("listeners[0]", "listen"), texts=["nohost"]),
]


def _duplicate_listen():
    address = f"127.0.0.1:{free_port()}"
    listeners = listener("one", address) + "\n" + listener("two", "DUP")
    listeners = listeners.replace('listen = "DUP"', f'listen = "{address}"  # @here')
    return Case("duplicate_listen", base(listeners=listeners),
                key=key_path("listeners[1]", "listen"), texts=[address])


CASES += [
    _duplicate_listen(),
    # A name shared by listeners (one service on two addresses) is fine; one shared by listeners
    # that route elsewhere is likely a copy left unrenamed: a warning naming both.
    Case("shared_listener_name", base(listeners=listener("web") + "\n" + listener("web")), ok=True,
         absent=[re.compile("also the name")]),
    Case("shared_listener_name_other_target",
         with_test_plugins(base(listeners=listener("web") + "\n" + listener("web", target='handler = "h"'),
                                plugins='ok = "content_ok.so"', extra='[handlers.h]\nplugin = "ok"\n')),
         ok=True, texts=[re.compile(r"warning: \S+:\d+:\d+: listeners\[1\]\.name: \"web\" is also the name of "
                                    r"the listener on 127\.0\.0\.1:\d+, which routes elsewhere")]),
    Case("shared_listener_name_other_router",
         with_real_plugins(base(
             listeners=listener("web", target='router = "a"') + "\n" + listener("web", target='router = "b"'),
             extra='[routers.a]\nplugin = "prefix"\nroutes = [{ prefix = "/", upstream = "u" }]\n'
                   '[routers.b]\nplugin = "prefix"\nroutes = [{ prefix = "/b/", upstream = "u" }]\n')),
         ok=True, texts=[re.compile(r"listeners\[1\]\.name: \"web\" is also the name of the listener on "
                                    r"127\.0\.0\.1:\d+, which routes elsewhere")]),
    Case("shared_listener_name_one_router",
         with_real_plugins(base(
             listeners=listener("web", target='router = "a"') + "\n" + listener("web", target='router = "a"'),
             extra='[routers.a]\nplugin = "prefix"\nroutes = [{ prefix = "/", upstream = "u" }]\n')),
         ok=True, absent=[re.compile("also the name")]),
    # redirect_https = false is no redirect: the listener still needs a target, and may have one.
    Case("redirect_https_false_without_target",
         base(listeners=listener(target="redirect_https = false", mark="  # @here")),
         key=key_path("listeners[0]"), texts=["needs a target"], any_column=True),
    Case("redirect_https_false_with_upstream",
         base(listeners=listener(target='upstream = "u"\nredirect_https = false')), ok=True),
    # Filters on a redirecting listener never run (its 308 comes first): a warning, since
    # [defaults.listener] may have given them.
    Case("redirect_https_with_filters",
         with_real_plugins(base(listeners=listener(target='redirect_https = true\nfilters = ["f"]'),
                                extra='[filters.f]\nplugin = "headers"\nresponse.set = { X-F = "1" }\n')),
         ok=True, texts=[re.compile(r"warning: \S+:\d+:\d+: listeners\[0\]\.filters: does nothing on a "
                                    r"listener that redirects")]),
    Case("redirect_https_with_no_filters",
         base(listeners=listener(target='redirect_https = true\nfilters = []')), ok=True,
         absent=[re.compile("does nothing")]),
    # A redirecting listener and the HTTPS one it sends to may share a name.
    Case("shared_listener_name_redirect",
         base(listeners=listener("web") + "\n" + listener("web", target="redirect_https = 8443")), ok=True,
         absent=[re.compile("also the name")]),
    # nginx's `listen 8080;`: the host is missing, and the error says what to write.
    Case("listen_bare_port", base(listeners=listener(listen="8080", mark="")
                                  .replace('listen = "8080"', 'listen = "8080"  # @here')),
         key=key_path("listeners[0]", "listen"), texts=["host is missing", '"*:8080"']),
    # Names that lead nowhere.
    Case("listener_unknown_upstream", base(listeners=listener(target='upstream = "nope"  # @here')),
         key=key_path("listeners[0]", "upstream"), texts=["nope"]),
    Case("listener_unknown_handler", base(listeners=listener(target='handler = "nope"  # @here')),
         key=key_path("listeners[0]", "handler"), texts=["nope"]),
    # The prefix router resolves its targets through the host; the core reports at the route.
    Case("route_unknown_upstream", with_real_plugins(base(
        listeners=listener(target="") + """\
[listeners.router]
plugin = "prefix"
routes = [
  { prefix = "/a/", upstream = "u" },
  { prefix = "/", upstream = "nope" },  # @here
]
""", plugins='prefix = "routing_prefix.so"')), texts=["nope"], any_column=True),
    # A plugin reports an unknown key through the host at its value; the core points at the key.
    Case("plugin_unknown_key_at_key", with_real_plugins(base(
        listeners=listener(target="") + """\
[listeners.router]
plugin = "prefix"
routes = [{ prefix = "/", upstream = "u" }]
  strip_prefixes   =   [true, "a long value"]  # @here
""", plugins='prefix = "routing_prefix.so"')), key="plugin prefix", texts=["unknown key 'strip_prefixes'"],
        key_column=True),
    Case("handler_undeclared_plugin", with_test_plugins(base(
        listeners=listener(target='handler = "h"'),
        plugins='ok = "content_ok.so"', extra='[handlers.h]\nplugin = "nosuch"  # @here\n')),
        key=key_path("handlers", "h", "plugin"), texts=["nosuch"]),
    Case("plugin_file_missing", with_test_plugins(base(
        listeners=listener(target='handler = "h"'),
        plugins='x = "does_not_exist.so"  # @here', extra='[handlers.h]\nplugin = "x"\n')),
        key=key_path("plugins", "x"), texts=[os.path.join(TEST_PLUGIN_DIR, "does_not_exist.so")]),
    # Upstreams.
    Case("upstream_empty_peers", base(upstream='[upstreams.u]\npeers = []  # @here\nbalancer = "rr"\n'),
         key=key_path("upstreams", "u", "peers")),
    Case("upstream_without_peers", base(upstream='[upstreams.u]  # @here\nbalancer = "rr"\n'),
         key=re.compile(r"upstreams\.u.*\bpeers\b"), any_column=True),
    Case("upstream_bad_peer", base(
        upstream=f'[upstreams.u]\npeers = ["127.0.0.1:{free_port()}", "127.0.0.1:notaport"]  # @here\n'
                 'balancer = "rr"\n'),
        key=re.compile(r"upstreams\.u\.peers"), texts=["notaport"], any_column=True),
    Case("upstream_bad_duration", base(upstream=upstream_block() + 'connect_timeout = "5 parsecs"  # @here\n'),
         key=key_path("upstreams", "u", "connect_timeout"), texts=["5 parsecs"]),
]


# The built-in plugin set (builtin_plugins.toml beside the real plugins, found beside the binary):
# its names need no [plugins] entry, an upstream without balancer gets its default, and a
# [plugins] entry of the same name takes the built-in one's place.
def _builtins_only():
    return f"""\
workers = 1
[log]
level = "warn"

[upstreams.u]
peers = ["127.0.0.1:{free_port()}"]

[handlers.site]
plugin = "static"
root = {toml_string(os.path.join(SOURCE_DIR, "www", "default"))}

{listener("proxy")}
{listener("files", target='handler = "site"')}
{listener("routed", target="")}
[listeners.router]
plugin = "prefix"
routes = [{{ prefix = "/", upstream = "u" }}]
"""


CASES += [
    Case("builtins_without_plugins_table_are_valid", _builtins_only(), ok=True),
    Case("handler_unknown_plugin_lists_builtins", base(
        listeners=listener(target='handler = "h"'), extra='[handlers.h]\nplugin = "statik"  # @here\n'),
        key=key_path("handlers", "h", "plugin"), texts=["statik", "built-in", "prefix", "round_robin", "static"]),
    Case("builtin_default_balancer_overridden", with_test_plugins(base(
        plugins='round_robin = "content_ok.so"',
        upstream=f'[upstreams.u]  # @here\npeers = ["127.0.0.1:{free_port()}"]\n')),
        key=key_path("upstreams", "u", "balancer"),
        texts=["'round_robin'", "content_ok.so", "balancing plugin is needed", "default balancer"]),
    # The drain window is part of the shutdown grace period.
    Case("limits_drain_timeout_over_shutdown_timeout",
         base(top='[limits]\nshutdown_timeout = "2s"\ndrain_timeout = "3s"  # @here'),
         key=key_path("limits", "drain_timeout"), texts=["shutdown_timeout"]),
]


def _static_root_missing():
    mime = os.path.join(SOURCE_DIR, "conf.d", "mime.toml")
    mime_line = f"mime_types = {toml_string(mime)}\n" if os.path.exists(mime) else ""
    return Case("static_root_missing", with_real_plugins(base(
        listeners=listener(target='handler = "site"'),
        plugins='static = "content_static.so"',
        extra=f'[handlers.site]\nplugin = "static"\nroot = "no/such/folder"  # @here\n{mime_line}')),
        key="plugin static:", texts=["no/such/folder"])


CASES += [_static_root_missing()]


# Filters (ABI 1.3): [filters.NAME] instances that listeners, upstream groups and handlers name in
# `filters` arrays; tests/loader's filter_probe is the filter plugin.
def _with_filters(listeners=None, upstream=None, extra_filters='[filters.f]\nplugin = "probe"\n', extra=""):
    return with_test_plugins(base(
        plugins='probe = "filter_probe.so"', listeners=listeners, upstream=upstream,
        extra=extra_filters + extra))


CASES += [
    Case("filters_are_valid", _with_filters(
        listeners=listener(target='upstream = "u"\nfilters = ["f", "g"]') + listener("files", target='handler = "site"'),
        upstream=upstream_block() + 'filters = ["g"]\n',
        extra_filters='[filters.f]\nplugin = "probe"\nlabel = "f"\n[filters.g]\nplugin = "probe"\n',
        extra=f'[handlers.site]\nplugin = "static"\nroot = {toml_string(os.path.join(SOURCE_DIR, "www", "default"))}\n'
              'filters = ["f"]\n'), ok=True),
    Case("listener_unknown_filter", _with_filters(
        listeners=listener(target='upstream = "u"\nfilters = ["f", "nope"]  # @here')),
        key=key_path("listeners[0]", "filters[1]"), texts=["nope", "[filters]"], any_column=True),
    Case("listener_filters_not_an_array", _with_filters(
        listeners=listener(target='upstream = "u"\nfilters = "f"  # @here')),
        key=key_path("listeners[0]", "filters"), texts=["array"]),
    Case("upstream_filter_not_a_name", _with_filters(
        upstream=upstream_block() + 'filters = [1]  # @here\n'),
        key=key_path("upstreams", "u", "filters[0]"), texts=["filter name"], any_column=True),
    Case("filter_of_another_kind", _with_filters(
        extra_filters='[filters.f]\nplugin = "rr"  # @here\n'),
        key=key_path("filters", "f", "plugin"), texts=["balancing", "filter plugin is needed"]),
    Case("filter_without_plugin", _with_filters(extra_filters='[filters.f]  # @here\nlabel = "x"\n'),
         key=key_path("filters", "f", "plugin"), any_column=True),
]


def _admin_on_listener_address():
    address = f"127.0.0.1:{free_port()}"
    return Case("admin_on_listener_address", base(listeners=listener(listen=address),
                                                  extra=f'[admin]\nlisten = "{address}"  # @here\n'),
                key=key_path("admin", "listen"), texts=[address])


def _admin_token(name, text, mode=0o600, listen="127.0.0.1", remote=False, ok=False, texts=()):
    """[admin] with token_file = "<name>.token" (written with text and mode beside the config)."""
    config = base(extra=f'[admin]\nlisten = "{listen}:{free_port()}"\n' + ("allow_remote = true\n" if remote else "")
                  + f'token_file = "{name}.token"  # @here\n')
    return Case(name, config, ok=ok, key=None if ok else key_path("admin", "token_file"),
                texts=[f"{name}.token"] + list(texts) if not ok else texts,
                files={name + ".token": (text, mode)})


ADMIN_TOKEN = "0123456789abcdef0123456789abcdef\n"

# The admin listener ([admin]): off when absent, validated like the listeners' addresses, a
# non-loopback address only with allow_remote = true (with a warning: that it speaks cleartext
# with a token_file, that anyone may read the pages without one); the token file is refused when
# unreadable, open to other users, empty, short or not one token.
CASES += [
    Case("admin_valid", base(extra=f'[admin]\nlisten = "127.0.0.1:{free_port()}"\n'), ok=True),
    _admin_token("admin_token_valid", ADMIN_TOKEN, mode=0o640, ok=True),
    _admin_token("admin_remote_with_token", ADMIN_TOKEN, listen="*", remote=True, ok=True,
                 texts=[re.compile(r"warning.*admin\.listen.*plain HTTP", re.I)]),
    Case("admin_remote_without_token",
         base(extra=f'[admin]\nlisten = "*:{free_port()}"\nallow_remote = true  # @here\n'), ok=True,
         texts=[re.compile(r"warning.*admin\.allow_remote.*without admin\.token_file", re.I)]),
    _admin_token("admin_token_world_readable", ADMIN_TOKEN, mode=0o644, texts=["0644", "other users"]),
    _admin_token("admin_token_empty", "\n", texts=["empty"]),
    _admin_token("admin_token_short", "0123456789\n", texts=["10 bytes", "16"]),
    _admin_token("admin_token_two_lines", ADMIN_TOKEN + ADMIN_TOKEN, texts=["one token"]),
    Case("admin_token_file_missing",
         base(extra=f'[admin]\nlisten = "127.0.0.1:{free_port()}"\ntoken_file = "no-such.token"  # @here\n'),
         key=key_path("admin", "token_file"), texts=["no-such.token", "No such file"]),
    Case("admin_token_inline",
         base(extra=f'[admin]\nlisten = "127.0.0.1:{free_port()}"\ntoken = "0123456789abcdef0"  # @here\n'),
         key=key_path("admin", "token"), texts=["token_file"]),
    Case("admin_bad_listen", base(extra='[admin]\nlisten = "127.0.0.1:99999"  # @here\n'),
         key=key_path("admin", "listen"), texts=["99999"]),
    Case("admin_listen_not_a_string", base(extra='[admin]\nlisten = 18001  # @here\n'),
         key=key_path("admin", "listen"), texts=["string"]),
    Case("admin_without_listen", base(extra='[admin]  # @here\n'), key=key_path("admin", "listen"),
         texts=["missing"], any_column=True),
    Case("admin_remote_refused", base(extra=f'[admin]\nlisten = "0.0.0.0:{free_port()}"  # @here\n'),
         key=key_path("admin", "listen"), texts=["loopback", "allow_remote"]),
    Case("admin_unknown_key", base(extra='[admin]\nlisten = "127.0.0.1:18001"\nport = 1  # @here\n'),
         key=key_path("admin", "port"), texts=["unknown"]),
    _admin_on_listener_address(),
]
def _with_checks(lines, group_extra=""):
    """The base config whose upstream u has a [upstreams.u.health_check] table of these lines."""
    return base(upstream=upstream_block() + group_extra + "[upstreams.u.health_check]\n" + lines)


# Active health checks and slow start (an upstream's health_check table and slow_start).
CASES += [
    Case("health_check_valid", _with_checks('path = "/health"\nexpect_status = "2xx"\nexpect_body = "ok"\n'
                                            'interval = "1s"\ntimeout = "500ms"\nrise = 2\nfall = 3\n'
                                            'method = "HEAD"\nhost = "web.internal"\n',
                                            group_extra='slow_start = "30s"\n'), ok=True),
    Case("health_check_tcp_valid", _with_checks('type = "tcp"\ninterval = "2s"\n'), ok=True),
    Case("health_check_unknown_key", _with_checks('paht = "/health"  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "paht"), texts=["unknown"], key_column=True),
    Case("health_check_bad_type", _with_checks('type = "icmp"  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "type"), texts=["http", "tcp"]),
    Case("health_check_bad_status", _with_checks('expect_status = "200-199"  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "expect_status"), texts=["200-199"]),
    Case("health_check_bad_interval", _with_checks('interval = "often"  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "interval"), texts=["often"]),
    Case("health_check_rise_zero", _with_checks('rise = 0  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "rise"), texts=["between 1 and 100"]),
    Case("health_check_bad_path", _with_checks('path = "health"  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "path"), texts=["start with /"]),
    Case("health_check_tcp_with_path", _with_checks('type = "tcp"\npath = "/health"  # @here\n'),
         key=key_path("upstreams", "u", "health_check", "path"), texts=["tcp"]),
    Case("health_check_not_a_table", base(upstream=upstream_block() + 'health_check = "/health"  # @here\n'),
         key=key_path("upstreams", "u", "health_check"), texts=["table"]),
    Case("slow_start_bad", base(upstream=upstream_block() + 'slow_start = "slowly"  # @here\n'),
         key=key_path("upstreams", "u", "slow_start"), texts=["slowly"]),
]
# Values that passed -t and then did nothing, or failed only at the start.
CASES += [
    # Bounds that bound nothing: a warning naming the key and its line, for each; none once
    # http2 = true.
    Case("http2_bounds_without_http2",
         base(listeners=listener(target='upstream = "u"\nhttp2_max_concurrent_streams = 10\nhttp2_reset_burst = 50')),
         ok=True,
         texts=[re.compile(r"warning: \S+:\d+:\d+: listeners\[0\]\.http2_max_concurrent_streams: does nothing "
                           r"without http2 = true"),
                re.compile(r"warning: \S+:\d+:\d+: listeners\[0\]\.http2_reset_burst: does nothing")]),
    Case("http2_bounds_with_http2",
         base(listeners=listener(target='upstream = "u"\nhttp2 = true\nhttp2_max_concurrent_streams = 10')),
         ok=True, absent=[re.compile("does nothing")]),
    Case("http2_bounds_with_http2_off",
         base(listeners=listener(target='upstream = "u"\nhttp2 = false\nhttp2_max_concurrent_streams = 10')),
         ok=True, absent=[re.compile("does nothing")]),
    Case("http2_websocket_without_http2",
         base(listeners=listener(target='upstream = "u"\nhttp2_websocket = true  # @here')),
         key=key_path("listeners[0]", "http2_websocket"), texts=["http2 = true"]),
    Case("filter_listed_twice",
         with_real_plugins(base(listeners=listener(target='upstream = "u"\nfilters = ["f", "f"]  # @here'),
                                extra='[filters.f]\nplugin = "access"\nrules = ["allow all"]\n')),
         key="listeners[0].filters[1]", texts=["twice"], any_column=True),
    Case("plugin_dir_missing", base(top='plugin_dir = "no-such-plugins"  # @here'),
         key=key_path("plugin_dir"), texts=["no-such-plugins", "no such folder"]),
    Case("access_log_is_a_folder", base(log='access = "."  # @here'),
         key=key_path("log", "access"), texts=["a folder, not a file"]),
    Case("error_log_in_missing_folder", base(log='error = "no-such-folder/error.log"  # @here'),
         key=key_path("log", "error"), texts=["no-such-folder/error.log", "cannot create it"]),
    Case("duration_over_a_year", base(upstream=upstream_block() + 'read_timeout = "99999999999h"  # @here\n'),
         key=key_path("upstreams", "u", "read_timeout"), texts=["99999999999h", "a year"]),
]
CASES += [Case(f"profile_{name}", os.path.join(SOURCE_DIR, "conf.d", f"{name}.toml"), ok=True)
          for name in ("reverse", "lb", "backends")]


def mark(config, name):
    """(line number, 1-based columns a key or its value may be reported at) of '# @name'."""
    for number, line in enumerate(config.splitlines(), 1):
        if re.search(r"#\s*@" + re.escape(name) + r"\b", line):
            cols = {len(line) - len(line.lstrip()) + 1}
            eq = line.find("=")
            if eq >= 0:
                rest = line[eq + 1:]
                cols.add(eq + 1 + len(rest) - len(rest.lstrip()) + 1)
            return number, cols
    raise AssertionError(f"test bug: no mark @{name} in config")


def contains(haystack, needle):
    if isinstance(needle, re.Pattern):
        return needle.search(haystack) is not None
    return needle.lower() in haystack.lower()


def describe(needle):
    return f"/{needle.pattern}/" if isinstance(needle, re.Pattern) else repr(needle)


def indent(text):
    return "\n".join("    | " + l for l in text.rstrip("\n").splitlines()) or "    | (empty)"


def run_check(case, workdir):
    """Runs one `proxyd -t` case; returns a list of problems (empty when it passed)."""
    if case.ok and "\n" not in case.config:
        config_path = case.config
    else:
        config_path = os.path.join(workdir, case.name + ".toml")
        with open(config_path, "w") as f:
            f.write(case.config)
    for name, (text, mode) in case.files.items():
        path = os.path.join(workdir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
    problems, out, err = validate(PROXYD_BIN, config_path, case.ok, RUN_TIMEOUT, refused_word="broken")
    if case.ok:
        for text in case.texts:
            if not contains(err, text):
                problems.append(f"stderr lacks {describe(text)}")
        for text in case.absent:
            if contains(err, text):
                problems.append(f"stderr has {describe(text)}")
        if problems and "\n" in case.config:
            problems.append("config:\n" + indent(case.config))
    else:
        wanted = {}
        for name in case.at:
            line, cols = mark(case.config, name)
            wanted[line] = {min(cols)} if case.key_column else cols
        located = [m for m in re.finditer(re.escape(config_path) + r":(\d+):(\d+): ?(.*)", err)
                   if int(m.group(1)) in wanted
                   and (case.any_column or int(m.group(2)) in wanted[int(m.group(1))])]
        if not located:
            where = ", ".join(
                f"{config_path}:{line}:" + ("*" if case.any_column else "|".join(map(str, sorted(c))))
                for line, c in wanted.items())
            problems.append(f"no error located at {where}")
        elif case.key is not None and not any(contains(m.group(3), case.key) for m in located):
            problems.append(f"the located error does not name {describe(case.key)}")
        # Each case has one fault: an error elsewhere means the case or the loader is imprecise.
        stray = sorted({int(m.group(1)) for m in re.finditer(re.escape(config_path) + r":(\d+):\d+:", err)}
                       - set(wanted))
        if stray:
            problems.append(f"errors also reported at line(s) {stray}")
        for text in case.texts:
            if not contains(err, text):
                problems.append(f"stderr lacks {describe(text)}")
        if problems:
            problems.append("config:\n" + indent(case.config))
    if problems:
        problems.append(f"stdout:\n{indent(out)}\nstderr:\n{indent(err)}")
    return problems


# ---- run time: who holds the port -------------------------------------------------------------

def serving_config(address):
    return with_test_plugins(f"""\
workers = 2

[log]
access = "off"
level = "info"

[plugins]
ok = "content_ok.so"

[handlers.h]
plugin = "ok"

[[listeners]]
name = "t"
listen = "{address}"
handler = "h"
""")


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start(config_path, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen([PROXYD_BIN, "-c", config_path], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def stop(proc):
    """Stops one process we started, by its pid: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def expect_bind_failure(proc, log_path, config_path, address, port, problems):
    """proc must exit non-zero on its own, naming address and the reason, at the listener's file,
    line and key."""
    try:
        proc.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        problems.append(f"proxyd still running {EXIT_TIMEOUT}s after start although {address} was "
                        "taken (did it bind with SO_REUSEPORT beside the other socket?)")
        stop(proc)
    output = read(log_path)
    if proc.returncode == 0:
        problems.append("exit status 0, expected non-zero")
    if address not in output:
        problems.append(f"output lacks the address {address}")
    if "address already in use" not in output.lower():
        problems.append('output lacks "address already in use"')
    if not re.search(re.escape(config_path) + r":\d+:\d+: listeners\[0\]\.listen: ", output):
        problems.append(f"output lacks {config_path}:LINE:COL: listeners[0].listen:")
    hinted = "ip_local_reserved_ports" in output
    if port in EPHEMERAL and not hinted:
        problems.append(f"port {port} is in {EPHEMERAL.start}-{EPHEMERAL.stop - 1} but the output "
                        "lacks the net.ipv4.ip_local_reserved_ports hint")
    if port not in EPHEMERAL and hinted:
        problems.append(f"port {port} is outside the ephemeral range but the output hints at "
                        "ip_local_reserved_ports")
    if problems:
        problems.append(f"exit status {proc.returncode}; output:\n{indent(output)}")


def second_proxyd_same_address(workdir):
    """Two proxyd processes, one address in the ephemeral range: the second must give up."""
    port = free_port(40000, 60999)
    address = f"127.0.0.1:{port}"
    config_path = os.path.join(workdir, "serving.toml")
    with open(config_path, "w") as f:
        f.write(serving_config(address))
    problems = []
    first_log, second_log = (os.path.join(workdir, n) for n in ("first.log", "second.log"))
    first = start(config_path, first_log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not accepts(port) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not accepts(port):
            return [f"the first proxyd never accepted on {address} (exit status {first.poll()}); "
                    f"output:\n{indent(read(first_log))}"]
        second = start(config_path, second_log)
        try:
            expect_bind_failure(second, second_log, config_path, address, port, problems)
        finally:
            stop(second)
        if first.poll() is not None or not accepts(port):
            problems.append("the first proxyd stopped serving after the second one tried to start; "
                            f"its output:\n{indent(read(first_log))}")
    finally:
        stop(first)
    return problems


def port_held_by_another_program(workdir):
    """A plain socket (no SO_REUSEPORT) holds a port below the ephemeral range: proxyd must fail,
    without the ephemeral-range hint."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        local_low = int(f.read().split()[0])
    port = free_port(10000, min(EPHEMERAL.start, local_low) - 1)
    address = f"127.0.0.1:{port}"
    config_path = os.path.join(workdir, "held.toml")
    with open(config_path, "w") as f:
        f.write(serving_config(address))
    problems = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        log_path = os.path.join(workdir, "held.log")
        proc = start(config_path, log_path)
        try:
            expect_bind_failure(proc, log_path, config_path, address, port, problems)
        finally:
            stop(proc)
    return problems


def command_line(workdir):
    """--help and --version, the long forms everyone tries, work as -h and -v; an unknown option
    prints the usage on stderr and exits 2."""
    problems = []
    for args, status, stream, text in ((["--help"], 0, "stdout", "usage: proxyd"), (["-h"], 0, "stdout", "usage: proxyd"),
                                       (["--version"], 0, "stdout", "proxyd "), (["-v"], 0, "stdout", "proxyd "),
                                       (["--frobnicate"], 2, "stderr", "usage: proxyd")):
        done = subprocess.run([PROXYD_BIN] + args, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        output = done.stdout if stream == "stdout" else done.stderr
        if done.returncode != status or text not in output:
            problems.append(f"{' '.join(args)}: exit {done.returncode}, {stream} {output[:120]!r}")
    return problems


RUNTIME_CASES = [second_proxyd_same_address, port_held_by_another_program, command_line]


def main():
    names = set(sys.argv[1:])
    failed = total = 0
    with tempfile.TemporaryDirectory(prefix="proxyd-config-") as workdir:
        workdir = os.path.realpath(workdir)
        jobs = [(c.name, lambda c=c: run_check(c, workdir)) for c in CASES]
        jobs += [(f.__name__, lambda f=f: f(workdir)) for f in RUNTIME_CASES]
        for name, job in jobs:
            if names and name not in names:
                continue
            total += 1
            problems = job()
            print(("FAIL " if problems else "ok   ") + name, flush=True)
            for p in problems:
                print("     " + p.replace("\n", "\n     "))
            failed += bool(problems)
    print(f"{total - failed}/{total} config cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
