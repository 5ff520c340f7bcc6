#!/usr/bin/env python3
"""gen_text_tables.py — writes include/evaclip/text/text_tables.hpp, the data the text cleaner needs.

The CLIP tokenizer cleans text with ftfy.fix_text and Python's html.unescape. Their behaviour rests on
data: ftfy's mojibake heuristic and detector (regular expressions over a few hundred characters), its
single-byte code pages, ligature/width/control-character maps, and the HTML5 entity table. This tool
reads that data from the installed modules and writes it as C++ constants, so the C++ cleaner follows the
exact versions recorded in the header. The regular expressions are translated from Python's parse tree
into ICU syntax with every character written as an explicit code point (Python's \\s and \\w become their
Python-defined character sets). Run with the interpreter that has ftfy:

    /usr/bin/python3 tools/gen_text_tables.py      # needs: pip install ftfy

Data derived from ftfy (Apache-2.0, (c) Robyn Speer) and from CPython's html module (PSF license).
"""
import html
import html.entities
import re
import re._constants as C
import re._parser as P
import sys
import unicodedata
from pathlib import Path

import ftfy
import ftfy.badness
import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-* codecs)
import ftfy.chardata as cd
import ftfy.fixes

OUT = Path(__file__).resolve().parent.parent / "include" / "evaclip" / "text" / "text_tables.hpp"


def ranges(codepoints):
    """Sorted code points -> [(lo, hi)] runs."""
    out = []
    for c in sorted(set(codepoints)):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


ALL = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
PY_SPACE = [c for c in ALL if chr(c).isspace()]
PY_WORD = [c for c in ALL if chr(c).isalnum() or c == ord("_")]
PY_DIGIT = [c for c in ALL if chr(c).isdecimal()]


def esc(c):
    return "\\x{%X}" % c


def emit_set(items, negate=False):
    cps = []
    for op, av in items:
        if op is C.LITERAL:
            cps.append(av)
        elif op is C.RANGE:
            cps.extend(range(av[0], av[1] + 1))
        elif op is C.NEGATE:
            negate = True
        elif op is C.CATEGORY and av is C.CATEGORY_SPACE:
            cps.extend(PY_SPACE)
        elif op is C.CATEGORY and av is C.CATEGORY_WORD:
            cps.extend(PY_WORD)
        elif op is C.CATEGORY and av is C.CATEGORY_DIGIT:
            cps.extend(PY_DIGIT)
        else:
            sys.exit(f"unsupported set item {op} {av}")
    body = "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in ranges(cps))
    return "[" + ("^" if negate else "") + body + "]"


def emit(seq):
    out = []
    for op, av in seq:
        if op is C.LITERAL:
            out.append(esc(av))
        elif op is C.IN:
            out.append(emit_set(av))
        elif op is C.ANY:
            out.append("[^\\x{A}]")  # Python's '.' without DOTALL
        elif op is C.CATEGORY:
            out.append(emit_set([(op, av)]))
        elif op is C.AT and av is C.AT_BEGINNING:
            out.append("^")
        elif op is C.BRANCH:
            out.append("(?:" + "|".join(emit(b) for b in av[1]) + ")")
        elif op is C.SUBPATTERN:
            out.append("(?:" + emit(av[3]) + ")")
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            body = emit(sub)
            if len(sub) != 1 or sub[0][0] in (C.BRANCH,):
                body = "(?:" + body + ")"
            q = {(0, C.MAXREPEAT): "*", (1, C.MAXREPEAT): "+", (0, 1): "?"}.get((lo, hi))
            if q is None:
                q = "{%d,%s}" % (lo, "" if hi is C.MAXREPEAT else hi)
            out.append(body + q + ("?" if op is C.MIN_REPEAT else ""))
        elif op in (C.ASSERT, C.ASSERT_NOT):
            direction, sub = av
            kind = ("(?<" if direction < 0 else "(?") + ("=" if op is C.ASSERT else "!")
            out.append(kind + emit(sub) + ")")
        else:
            sys.exit(f"unsupported regex op {op}")
    return "".join(out)


def translate(pattern):
    """A compiled Python pattern (str, or bytes read as latin-1 characters) -> ICU pattern."""
    src = pattern.pattern
    flags = pattern.flags & re.VERBOSE
    if isinstance(src, bytes):
        src = src.decode("latin-1")
    return emit(P.parse(src, flags))


def cstr(s):
    """A C++ narrow string literal (UTF-8, ASCII-escaped)."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append("\\x%02x" % b)
    # Split hex escapes from following hex digits.
    return '"' + '" "'.join(_split_hex("".join(out))) + '"'


def _split_hex(s):
    parts, cur, i = [], "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] == "x":
            cur += s[i : i + 4]
            i += 4
            if i < len(s) and s[i] in "0123456789abcdefABCDEF":
                parts.append(cur)
                cur = ""
        elif s[i] == "\\":
            cur += s[i : i + 2]
            i += 2
        else:
            cur += s[i]
            i += 1
    parts.append(cur)
    return parts


def long_cstr(s, width=100):
    chunks, cur = [], ""
    for ch in s:
        cur += ch
        if len(cur) >= width:
            chunks.append(cur)
            cur = ""
    if cur:
        chunks.append(cur)
    return "\n    ".join(cstr(c) for c in chunks)


def main():
    lines = []
    w = lines.append
    w("// text_tables.hpp — defines the data tables of the text cleaner (ftfy's and html.unescape's data).")
    w("// GENERATED by tools/gen_text_tables.py; do not edit. Sources: ftfy %s (Apache-2.0, (c) Robyn Speer)," % ftfy.__version__)
    w("// CPython %s html.entities / html (PSF), Unicode %s (Python's unicodedata)." % (
        ".".join(map(str, sys.version_info[:3])), unicodedata.unidata_version))
    w("#pragma once")
    w("")
    w("#include <cstdint>")
    w("#include <utility>")
    w("")
    w("namespace evaclip::text::tables {")
    w("")
    w('inline constexpr const char* kFtfyVersion = "%s";' % ftfy.__version__)
    w("")
    w("// Regular expressions in ICU syntax. Byte patterns match strings whose characters are bytes (U+00..U+FF).")
    pats = {
        "kBadness": ftfy.badness.BADNESS_RE,
        "kUtf8Detector": cd.UTF8_DETECTOR_RE,
        "kAlteredUtf8": cd.ALTERED_UTF8_RE,
        "kLossyUtf8": cd.LOSSY_UTF8_RE,
        "kAGraveWord": ftfy.fixes.A_GRAVE_WORD_RE,
        "kHtmlEntityFtfy": cd.HTML_ENTITY_RE,
        "kAnsiEscape": ftfy.fixes.ANSI_RE,
    }
    for name, p in pats.items():
        w("inline constexpr const char* %sPattern =\n    %s;" % (name, long_cstr(translate(p))))
    w("")
    w("// The single-byte code pages ftfy tries, in its order: byte -> code point (sloppy-* map 0x1A to U+FFFD).")
    w("inline constexpr int kNumCharmaps = %d;" % len(cd.CHARMAP_ENCODINGS))
    w("inline constexpr const char* kCharmapNames[kNumCharmaps] = {%s};" % ", ".join(
        '"%s"' % e for e in cd.CHARMAP_ENCODINGS))
    w("inline constexpr std::uint32_t kCharmaps[kNumCharmaps][256] = {")
    for enc in cd.CHARMAP_ENCODINGS:
        table = bytes(range(256)).decode(enc)
        allowed = set(chr(c) for c in list(range(0, 0x1A)) + list(range(0x1B, 0x80))) | set(
            (bytes(range(0x80, 0x100)) + b"\x1a").decode(enc))
        for ch in allowed:  # the C++ side inverts the table; check that this is what Python encodes
            assert table[ch.encode(enc)[0]] == ch and len(ch.encode(enc)) == 1, (enc, ch)
        w("    {" + ",".join("0x%X" % ord(c) for c in table) + "},")
    w("};")
    w("")

    def pairs_table(name, mapping, comment):
        w("// " + comment)
        w("inline constexpr std::pair<std::uint32_t, const char*> %s[] = {" % name)
        for k in sorted(mapping):
            w("    {0x%X, %s}," % (k, cstr(mapping[k])))
        w("};")

    pairs_table("kLigatures", cd.LIGATURES, "fix_latin_ligatures: code point -> replacement (UTF-8).")
    pairs_table("kWidthMap", cd.WIDTH_MAP, "fix_character_width: code point -> replacement (UTF-8).")

    def ranges_table(name, cps, comment):
        w("// " + comment)
        w("inline constexpr std::pair<std::uint32_t, std::uint32_t> %s[] = {" % name)
        w("    " + ", ".join("{0x%X, 0x%X}" % (a, b) for a, b in ranges(cps)) + "};")

    ranges_table("kControlChars", list(cd.CONTROL_CHARS), "remove_control_chars: removed code points.")
    ranges_table("kPythonSpace", PY_SPACE, "Python's str.isspace(): what str.split() and str.strip() remove.")
    w("")
    # html.unescape's numeric fix-ups.
    inv = html._invalid_charrefs
    pairs_table("kInvalidCharrefs", inv, "html.unescape: numeric references replaced by the HTML5 rules.")
    ranges_table("kInvalidCodepoints", list(html._invalid_codepoints),
                 "html.unescape: numeric references that become the empty string.")
    w("")
    # HTML5 named references (html.entities.html5: names with and without ';').
    html5 = html.entities.html5
    w("// html.entities.html5: name (without '&') -> replacement, sorted by name.")
    w("inline constexpr std::pair<const char*, const char*> kHtml5Entities[] = {")
    for k in sorted(html5):
        w("    {%s, %s}," % (cstr(k), cstr(html5[k])))
    w("};")
    # ftfy's entity table = '&' + html5 names ending in ';' + these upper-case extras.
    extras = {}
    for k, v in cd.HTML_ENTITIES.items():
        name = k[1:]
        if html5.get(name) == v:
            continue
        extras[name] = v
    rebuilt = {"&" + k: v for k, v in html5.items() if k.endswith(";")}
    rebuilt.update({"&" + k: v for k, v in extras.items()})
    assert rebuilt == cd.HTML_ENTITIES
    w("// ftfy's unescape_html also knows these upper-case names (name with ';' -> replacement), sorted.")
    w("inline constexpr std::pair<const char*, const char*> kFtfyUpperEntities[] = {")
    for k in sorted(extras):
        w("    {%s, %s}," % (cstr(k), cstr(extras[k])))
    w("};")
    w("")
    w("}  // namespace evaclip::text::tables")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
