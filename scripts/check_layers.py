#!/usr/bin/env python3
"""The layering rule of docs/architecture.md: nothing includes a folder above
it. Each folder of core/src may include itself, the public headers
(retarget/...) and the folders listed for it here; anything else fails with
the file and line. Run by ctest (Layers.NothingIncludesAFolderAboveIt)."""
import pathlib
import re
import sys

# Bottom to top. A folder may include the folders it lists (and so, by
# listing them again, what those include): the graph must stay acyclic.
ALLOWED = {
    "common": set(),
    "storage": {"common"},
    "deps": {"common"},
    "catalog": {"common"},
    "ingest": {"common", "catalog"},
    "index": {"common", "storage", "catalog", "ingest"},
    "store": {"common", "storage", "catalog", "ingest", "index"},
    "rules": {"common", "catalog"},
    "plugin": {"common", "catalog", "rules"},
    "eval": {"common", "catalog", "index", "rules"},
    "export": {"common", "catalog", "index"},
    "lifecycle": {"common", "catalog", "deps"},
    "engine": {"common", "storage", "deps", "catalog", "ingest", "index", "store", "rules", "plugin", "eval",
               "export", "lifecycle"},
}

def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".") / "core" / "src"
    include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
    problems = []
    seen = set()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".h", ".cc"):
            continue
        folder = path.relative_to(root).parts[0]
        seen.add(folder)
        if folder not in ALLOWED:
            problems.append(f"{path}: the folder '{folder}' has no place in the layers (scripts/check_layers.py)")
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = include.match(line)
            if not m:
                continue
            target = m.group(1)
            if target in (folder, "retarget") or target in ALLOWED[folder]:
                continue
            problems.append(f"{path}:{n}: '{folder}' includes '{target}/', which is not below it")
    # The table itself must be a DAG.
    state = {}
    def visit(f, chain):
        if state.get(f) == 1:
            problems.append("the layers have a cycle: " + " -> ".join(chain + [f]))
            return
        if state.get(f) == 2:
            return
        state[f] = 1
        for g in ALLOWED.get(f, ()):
            visit(g, chain + [f])
        state[f] = 2
    for f in ALLOWED:
        visit(f, [])
    for p in problems:
        print(p)
    if not problems:
        print(f"layers ok: {len(seen)} folders")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
