"""A folder of files for the static-plugin tests (test_static_files.py, test_static_vs_nginx.py):
known bytes for byte-exact range checks, precompressed siblings, odd names, dotfiles and symlinks,
with a secret beside the root that no request may ever reach."""

import gzip
import os
import random
import time

from proxyd_harness import write_file

SECRET = b"TOP-SECRET-outside-the-root"


def build(base):
    """Creates base/www (the root) and base/outside; returns {relative name: bytes} of the files
    served as they are."""
    rng = random.Random(4)
    www = os.path.join(base, "www")
    files = {
        "digits.txt": b"0123456789",
        "blob.bin": rng.randbytes(256 * 1024),
        "index.html": b"<!doctype html><title>home</title><h1>home</h1>\n",
        "app.js": b"console.log('hello from the original, not the sibling');\n" * 40,
        "style.css": b"body { color: #333 }\n",
        "data.json": b'{"ok": true}\n',
        "page.xml": b"<?xml version=\"1.0\"?><a/>\n",
        "img.svg": b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n",
        "mod.mjs": b"export const x = 1;\n",
        "photo.webp": b"RIFF0000WEBP",
        "pic.avif": b"\x00\x00\x00\x1cftypavif",
        "font.woff2": b"wOF2",
        "clip.mp4": b"\x00\x00\x00\x18ftypmp42",
        "clip.webm": b"\x1aE\xdf\xa3",
        "bundle.zip": b"PK\x05\x06" + b"\x00" * 18,
        "mod.wasm": b"\x00asm\x01\x00\x00\x00",
        "noext": b"no extension here",
        "docs/index.html": b"<h1>docs</h1>\n",
        "list/b.txt": b"b",
        "list/a <&> \"q\".txt": b"a",
        "list/sub/x.txt": b"x",
        "empty.txt": b"",
        ".env": b"SECRET=1",
        ".git/config": b"[core]",
    }
    for name, data in files.items():
        write_file(os.path.join(www, name), data)
    # Precompressed siblings: real encodings, so a client that decodes them gets the original back.
    write_file(os.path.join(www, "app.js.gz"), gzip.compress(files["app.js"], mtime=0))
    write_file(os.path.join(www, "app.js.br"), b"not really brotli, but only proxyd reads the name")
    os.makedirs(os.path.join(www, "list", "empty dir"), exist_ok=True)
    write_file(os.path.join(base, "outside", "secret.txt"), SECRET)
    os.symlink("../outside/secret.txt", os.path.join(www, "escape.txt"))
    os.symlink(os.path.join(base, "outside"), os.path.join(www, "escape_dir"))
    os.symlink("digits.txt", os.path.join(www, "alias.txt"))
    # Dated an hour back: a file written within the last second has a weak ETag and no strong
    # date (RFC 9110 §8.8.2.2), and the tests use strong validators. Siblings must not be older
    # than their original.
    stamp = time.time() - 3600
    for name in files:
        os.utime(os.path.join(www, name), (stamp, stamp))
    for sibling in ("app.js.gz", "app.js.br"):
        os.utime(os.path.join(www, sibling), (stamp + 5, stamp + 5))
    return www, files
