#!/usr/bin/env python3
"""Keeps the core's layering true: no dependency runs back up.

core/README.md writes the layer order between the markers `<!-- layers -->` and
`<!-- /layers -->`, one line per layer, lowest first, as a list of folders of core/src
(`- http, tls, log`). A file under core/src/<folder>/ may include its own folder's headers and
those of folders on lower lines, never a folder on its own line or above it; main.cpp, the
process entry point, sits above every layer. A folder that is in no layer fails too, so a new
folder must be given its place.

Usage: check_includes.py [CORE_DIR]   (default: the core/ beside this script's tests/ folder)
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/[^"]+"', re.MULTILINE)
LAYERS = re.compile(r"<!-- layers -->(.*?)<!-- /layers -->", re.DOTALL)


def parse_layers(readme):
    found = LAYERS.search(readme.read_text())
    if not found:
        sys.exit(f"{readme}: no <!-- layers --> ... <!-- /layers --> block")
    rank = {}
    level = 0
    for line in found.group(1).splitlines():
        line = line.strip()
        if not line.startswith("- "):
            continue
        folders = line[2:].split(":", 1)[0].replace("`", "").split(",")
        for folder in (f.strip() for f in folders):
            if not folder:
                continue
            if folder in rank:
                sys.exit(f"{readme}: folder {folder} appears in two layers")
            rank[folder] = level
        level += 1
    if not rank:
        sys.exit(f"{readme}: the layers block lists no folder")
    return rank


def main():
    core = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2] / "core"
    src = core / "src"
    rank = parse_layers(core / "README.md")
    top = max(rank.values()) + 1  # main.cpp
    problems = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".cpp", ".hpp", ".h"):
            continue
        relative = path.relative_to(src)
        if len(relative.parts) == 1:
            folder, level = None, top
        else:
            folder = relative.parts[0]
            if folder not in rank:
                problems.append(f"{relative}: folder {folder}/ has no layer in core/README.md")
                continue
            level = rank[folder]
        text = path.read_text()
        for match in INCLUDE.finditer(text):
            target = match.group(1)
            if target == folder:
                continue
            line = text.count("\n", 0, match.start()) + 1
            if target not in rank:
                if (src / target).is_dir():
                    problems.append(f"{relative}:{line}: includes {target}/, which has no layer")
                continue
            if rank[target] >= level:
                where = "its own layer" if rank[target] == level else "a layer above it"
                problems.append(f"{relative}:{line}: {folder or 'main'} includes {target}/, {where}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} include(s) break the layer order of {core / 'README.md'}")
        return 1
    print(f"layering: {len(rank)} folders in {top} layers, every include runs down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
