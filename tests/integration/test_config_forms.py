#!/usr/bin/env python3
"""One way to refer: a listener's upstream and handler may be tables written in place, and a router
may be declared once under [routers] and named by several listeners. Through the real binary: two
listeners share the named router (prefix routes to an upstream and to a handler, both inline on a
third listener's side: declared nowhere else), and a listener with an inline upstream proxies."""

import os

from proxyd_harness import (Backend, Client, check_equal, config_head, free_ports, run_test, toml_str, workdir,
                            write_file, Proxyd, HOST)


def main():
    folder = workdir("config-forms")
    root = os.path.join(folder, "www")
    write_file(os.path.join(root, "index.html"), "<!DOCTYPE html><title>files</title>\n")
    backend = Backend()
    a, b, direct = free_ports(3)
    peer = toml_str("%s:%d" % (HOST, backend.port))
    config = (config_head(plugins=None)
              + "[upstreams.app]\npeers = [%s]\n\n" % peer
              + "[handlers.files]\nplugin = \"static\"\nroot = %s\n\n" % toml_str(root)
              + "[routers.site]\nplugin = \"prefix\"\n"
                "routes = [{ prefix = \"/api/\", upstream = \"app\" }, { prefix = \"/\", handler = \"files\" }]\n\n"
              + "[[listeners]]\nname = \"a\"\nlisten = \"%s:%d\"\nrouter = \"site\"\n\n" % (HOST, a)
              + "[[listeners]]\nname = \"b\"\nlisten = \"%s:%d\"\nrouter = \"site\"\n\n" % (HOST, b)
              + "[[listeners]]\nname = \"direct\"\nlisten = \"%s:%d\"\nupstream = { peers = [%s] }\n\n"
                % (HOST, direct, peer))
    path = write_file(os.path.join(folder, "forms.toml"), config)
    Proxyd(path, folder).start([a, b, direct])
    for name, port in (("a", a), ("b", b)):
        with Client(port) as c:
            check_equal(c.request("GET", "/").status, 200, "listener %s: the named router sends / to the handler" % name)
            api = c.request("GET", "/api/x")
            check_equal((api.status, b'"/api/x"' in api.body), (200, True),
                        "listener %s: the named router sends /api/ to the upstream" % name)
    with Client(direct) as c:
        answer = c.request("GET", "/inline")
        check_equal((answer.status, b'"/inline"' in answer.body), (200, True), "an inline upstream proxies")


if __name__ == "__main__":
    run_test(main)
