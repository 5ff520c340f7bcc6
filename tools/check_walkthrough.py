#!/usr/bin/env python3
"""check_walkthrough.py — checks that docs/walkthrough.md still points at the right code.

    python3 tools/check_walkthrough.py [docs/walkthrough.md]

Line ranges drift as the code changes. Every `path:a-b` in the page must name a file of the repository
(relative to its root) and lines inside it. A row of the stops table (`| n | stop | idea | `path:a-b` |
`symbol` |`) must also find its symbol within lines a..b; when it does not, the message says where the symbol
is now. Exits 1 when any reference is stale, after listing every one.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RANGE = re.compile(r"`([\w./+-]+\.\w+):(\d+)-(\d+)`")
_files = {}


def file_lines(rel):
    """The file's lines, or None when it does not exist."""
    if rel not in _files:
        p = ROOT / rel
        _files[rel] = p.read_text(encoding="utf-8").splitlines() if p.is_file() else None
    return _files[rel]


def check(page):
    errors = []
    text = (ROOT / page).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(text, 1):
        where = f"{page}:{n}"
        ranges = RANGE.findall(line)
        for rel, a, b in ranges:
            a, b = int(a), int(b)
            lines = file_lines(rel)
            if lines is None:
                errors.append(f"{where}: `{rel}` does not exist")
            elif not 1 <= a <= b <= len(lines):
                errors.append(f"{where}: `{rel}:{a}-{b}` is outside the file's {len(lines)} lines")
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        if len(cells) < 5 or len(ranges) != 1 or not cells[4].startswith("`"):
            continue
        rel, a, b = ranges[0][0], int(ranges[0][1]), int(ranges[0][2])
        symbol = cells[4].strip("`")
        lines = file_lines(rel)
        if lines is None or not 1 <= a <= b <= len(lines):
            continue  # reported above
        if not any(symbol in l for l in lines[a - 1:b]):
            now = [str(i) for i, l in enumerate(lines, 1) if symbol in l]
            hint = f"; it is on line {', '.join(now[:5])}" if now else "; it is no longer in the file"
            errors.append(f"{where}: stop {cells[0]}: `{symbol}` is not within `{rel}:{a}-{b}`{hint}")
    return errors


def main():
    page = sys.argv[1] if len(sys.argv) > 1 else "docs/walkthrough.md"
    errors = check(page)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"check_walkthrough: {len(errors)} stale reference(s) in {page}", file=sys.stderr)
        return 1
    stops = sum(1 for l in (ROOT / page).read_text(encoding="utf-8").splitlines() if RANGE.search(l))
    print(f"check_walkthrough: {page}: {stops} lines with code references, all current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
