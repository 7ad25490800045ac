#!/usr/bin/python3
"""Every command docs/cli.md documents is run by some test.

Reads the first column of the "Commands" table of docs/cli.md, takes each
command it names (the words before the first flag or argument, e.g.
`catalog list`, `store checkpoint`, `campaign resume`), and looks for a test
under tests/ that runs it: the command's words as they appear on a command
line, in a C++, shell or Python test. A documented command no test runs fails
this check, so the reference and the tests cannot drift apart.

Usage: documented_commands_test.py SOURCE_DIR
"""
import glob
import os
import re
import sys

source = sys.argv[1]
doc = open(os.path.join(source, "docs/cli.md"), encoding="utf-8").read()
table = doc.split("## Commands", 1)[1].strip().split("\n\n", 1)[0]

commands = set()
for row in table.splitlines():
    if not row.startswith("| `"):
        continue
    first = row.split(" | ")[0]
    for span in re.findall(r"`([^`]+)`", first):
        words = []
        for w in span.split():
            if not re.fullmatch(r"[a-z]+", w):
                break
            words.append(w)
        if words:
            commands.add(" ".join(words))
# "(and `canvas`, `card`)": the same subcommands of the other kinds.
for kind in ("canvas", "card"):
    if kind in commands:
        commands.discard(kind)
        commands.update({f"{kind} stop", f"{kind} resume"})

tests = ""
for pattern in ("tests/**/*.cpp", "tests/**/*.sh", "tests/**/*.py", "tests/**/*.hpp"):
    for path in glob.glob(os.path.join(source, pattern), recursive=True):
        if path.endswith("documented_commands_test.py"):
            continue
        tests += open(path, encoding="utf-8", errors="replace").read() + "\n"

failures = 0
for command in sorted(commands):
    # As a test writes it: "catalog list ..." inside a string, or the words in a list.
    quoted = re.escape(command)
    if re.search(r'["\' ]' + quoted + r'(["\' ]|\\n|$)', tests, re.M):
        print(f"ok   {command}")
    else:
        failures += 1
        print(f"FAIL {command}: documented in docs/cli.md, run by no test")
print(f"{len(commands) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
