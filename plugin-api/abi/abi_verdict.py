#!/usr/bin/env python3
"""Reads an abidiff report and says whether the change only adds.

usage: abi_verdict.py ABIDIFF_EXIT_CODE < REPORT
prints "unchanged", "additions" or "breaking: <the first line that is not an
addition>" and exits 0, 0 or 1.

The ABI's rules (plugin.h) allow one kind of change within a major version:
a struct grows at its end, or a new type or function appears. abidiff's own
verdict does not say that: its "incompatible" bit (8) is set for a field
appended to a struct reached through a function pointer as much as for a
resized one, and not set for some real breaks. So the report is read line
by line instead: every line must be one of the things an addition
produces, and every field insertion must sit at or beyond its struct's old
size. Anything else (an offset that moved, a member
removed, resized or renamed, a type that shrank, a removed function) is
breaking, and so is any line this script does not recognise: a person must
look at it.
"""
import re
import sys

CONTAINERS = [
    r"Functions changes summary: 0 Removed, \d+ Changed(?: \(\d+ filtered out\))?, \d+ Added functions?",
    r"Variables changes summary: 0 Removed, \d+ Changed(?: \(\d+ filtered out\))?, \d+ Added variables?",
    r"\d+ functions? with some indirect sub-type changes?:",
    r"\[C\] 'function .*' has some indirect sub-type changes:",
    r"parameter \d+ of type '.*' has sub-type changes:",
    r"in pointed to type '.*':",
    r"in unqualified underlying type '.*':",
    r"underlying type 'struct \w+' changed:",
    r"type size hasn't changed",
    r"\d+ data member changes?:",
    r"type of '.*' changed:",
    r"\d+ data member insertions?:",
    r"\d+ Added functions?:",
    r"\[A\] 'function .*'(?:\s+\{\w+\})?",
]
GROWTH = re.compile(r"type size changed from (\d+) to (\d+) \(in bits\)")
INSERTION = re.compile(r"'.*', at offset (\d+) \(in bits\)")


def verdict(rc, report):
    if rc == 0:
        return "unchanged"
    if rc & ~12 or not rc & 4:
        return "breaking: abidiff failed (exit %d)" % rc
    old_size = None  # of the struct whose report we are in
    for raw in report.splitlines():
        line = raw.strip()
        if not line:
            continue
        grew = GROWTH.fullmatch(line)
        if grew:
            old, new = int(grew.group(1)), int(grew.group(2))
            if new <= old:
                return "breaking: " + line
            old_size = old
            continue
        if line == "type size hasn't changed":
            old_size = None
            continue
        inserted = INSERTION.fullmatch(line)
        if inserted:
            if old_size is None or int(inserted.group(1)) < old_size:
                return "breaking: a field inserted inside a struct: " + line
            continue
        if not any(re.fullmatch(p, line) for p in CONTAINERS):
            return "breaking: " + line
    return "additions"


def main():
    result = verdict(int(sys.argv[1]), sys.stdin.read())
    print(result)
    return 1 if result.startswith("breaking") else 0


if __name__ == "__main__":
    sys.exit(main())
