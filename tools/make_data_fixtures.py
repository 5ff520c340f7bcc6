#!/usr/bin/env python3
"""Generate tests/data/data/: the training-data fixtures of tests/unit/data (run from anywhere with python3).

References are Python's own: csv.reader splits the CSV cases (csv_cases.json), bash expands the brace
patterns (braces.tsv), tarfile writes the webdataset shards, and manifest.json records, for each data set,
its samples in file order and which are usable by construction (missing file, corrupt bytes, no caption,
no image, cut off by truncation). Output is byte-for-byte reproducible (fixed tar metadata).
"""
import csv
import io
import json
import shutil
import struct
import subprocess
import tarfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "data"
SRC_IMAGES = ROOT / "tests" / "data" / "images"


def png(width, height, pixel):
    """An 8-bit RGB PNG whose pixel (x, y) is pixel(x, y) -> (r, g, b)."""
    raw = b"".join(b"\0" + bytes(c % 256 for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def make_images():
    d = OUT / "images"
    d.mkdir(parents=True, exist_ok=True)
    specs = [(20, 14, lambda x, y: (200, 30 + 10 * x, 7 * y)), (13, 17, lambda x, y: (x * 19, y * 15, 128)),
             (24, 24, lambda x, y: ((x ^ y) * 10, 255 - 10 * x, 60)), (9, 31, lambda x, y: (8 * y, 90, 25 * (x % 3))),
             (33, 12, lambda x, y: (255 - 7 * x, (x * y) % 256, 3 * y)),
             (16, 16, lambda x, y: (x * 16, x * 16, y * 16))]
    for i, (w, h, f) in enumerate(specs):
        (d / f"img{i}.png").write_bytes(png(w, h, f))
    shutil.copyfile(SRC_IMAGES / "progressive_100x75.jpg", d / "photo.jpg")
    shutil.copyfile(SRC_IMAGES / "grey_64x80.jpg", d / "grey.jpg")
    (d / "corrupt.jpg").write_bytes((SRC_IMAGES / "grey_64x80.jpg").read_bytes()[:700])  # header, half the scan
    (d / "not_image.png").write_bytes(b"this is text, not a PNG\n")


# (image path relative to the table, caption, usable): usable is known by construction.
TSV_ROWS = [("images/img0.png", "a red square", True), ("images/img1.png", 'a "quoted" caption', True),
            ("images/missing.png", "file does not exist", False), ("images/photo.jpg", "caption with\ta tab", True),
            ("images/corrupt.jpg", "corrupt jpeg", False), ("images/img2.png", "multi\nline caption", True),
            ("images/grey.jpg", "grey image", True), ("images/img3.png", "", False),
            ("images/img4.png", "plain", True), ("images/not_image.png", "not an image", False),
            ("images/img5.png", "last one", True)]
CSV_ROWS = [("images/img0.png", "hello, world", True), ("images/img1.png", 'say "hi", twice', True),
            ("images/photo.jpg", "caption\r\nwith CRLF", True), ("images/grey.jpg", "café crème", True)]


def write_table(path, sep, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=sep, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


CSV_CASES = {  # name -> (separator, bytes): the splitting rules csv.reader applies
    "basic": (",", b"a,b,c\n1,2,3\n4,5,6\n"),
    "crlf_cr": (",", b"a,b\r\n1,2\r\n3,4\r5,6\r\n"),
    "quoted_newlines": (",", b'a,b\n"line1\nline2",x\n"cr\r\nlf",y\n'),
    "doubled_quotes": (",", b'a,b\n"say ""hi""",""\n"""",z\n'),
    "text_after_quote": (",", b'a,b\n"ab"cd,e\n"x" y,z\n'),
    "quote_inside_field": (",", b'a,b\nab"cd,e"f\n'),
    "empty_fields": (",", b"a,b,c\n,,\n1,,\n,,3\n"),
    "blank_lines": (",", b"a,b\n\n1,2\n\r\n\n3,4\n\n"),
    "no_final_newline": (",", b"a,b\n1,2"),
    "bom_unicode": (",", "\ufeffname,caption\nx,café ☕\n".encode()),
    "tabs": ("\t", b'filepath\ttitle\na.png\t"tab\there"\nb.png\tcomma, ok\n'),
    "separator_in_quotes": ("\t", b'a\tb\n"x\ty"\t"p""q"\n'),
    "spaces_kept": (",", b"a,b\n  x , y  \n"),
}
CSV_ERRORS = {  # name -> (separator, bytes, line csv.reader is on when the bad record ends)
    "ragged": (",", b"a,b\n1,2\n\n3,4,5\n"),
    "ragged_after_quoted_newline": (",", b'a,b\n"x\ny",2\n3\n'),
}


def make_csv_cases():
    d = OUT / "csv_cases"
    d.mkdir(parents=True, exist_ok=True)
    expect = {}
    for name, (sep, data) in CSV_CASES.items():
        (d / f"{name}.csv").write_bytes(data)
        text = data.decode("utf-8-sig")
        # Blank lines come out of csv.reader as []; the table (like pandas) skips them.
        expect[name] = {"sep": sep, "rows": [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep) if r]}
    errors = {}
    for name, (sep, data) in CSV_ERRORS.items():
        (d / f"{name}.csv").write_bytes(data)
        r = csv.reader(io.StringIO(data.decode(), newline=""), delimiter=sep)
        header = next(r)
        for row in r:
            if row and len(row) != len(header):
                errors[name] = {"sep": sep, "line": r.line_num, "fields": len(row), "header": len(header)}
                break
    (d / "unterminated.csv").write_bytes(b'a,b\n1,2\n3,"open\nquote\n')  # the quote opens on line 3
    (d / "empty.csv").write_bytes(b"\n\n")
    (OUT / "csv_cases.json").write_text(json.dumps({"cases": expect, "errors": errors}, indent=1, ensure_ascii=False))


BRACE_PATTERNS = ["plain.tar", "dir/{00000..00003}.tar", "{a,b,c}.tar", "x{1..3}y{a,b}", "{9..11}", "{08..11}",
                  "{1..010}", "{5..1}", "{1..10..3}", "{10..0..4}", "{a..e}", "{e..a..2}", "{a,b{1..2},c}", "{a,}x",
                  "{-2..2}", "{-03..2}", "s3/{00..02}/{x,y}.tar", "{,a}{,b}x"]


def make_braces():
    lines = []
    for p in BRACE_PATTERNS:
        out = subprocess.run(["bash", "-c", "set -f; printf '%s\\n' " + p], capture_output=True, text=True, check=True)
        lines.append(p + "\t" + " ".join(out.stdout.split("\n")[:-1]))
    (OUT / "braces.tsv").write_text("\n".join(lines) + "\n")


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
    info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def write_shard(name, samples, dirs=()):
    """samples: (key, [(ext, bytes)]) in member order. Returns the bytes of the tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mtime, info.mode = tarfile.DIRTYPE, 1700000000, 0o755
            tar.addfile(info)
        for key, members in samples:
            for ext, data in members:
                add(tar, f"{key}.{ext}", data)
    (OUT / name).write_bytes(buf.getvalue())
    return buf.getvalue()


def make_shards():
    img = lambda n: (OUT / "images" / n).read_bytes()
    txt = lambda s: s.encode()
    manifest = {}

    def entry(key, image, caption, usable, complete=True):
        return {"key": key, "image": image and "images/" + image, "caption": caption, "usable": usable,
                "complete": complete}

    write_shard("shard-00000.tar", [
        ("s0000", [("png", img("img0.png")), ("txt", txt("first sample")), ("meta.json", b"{}")]),
        ("s0001", [("jpg", img("photo.jpg")), ("json", b'{"w": 100}'), ("txt", txt("a photo"))]),
        ("sub.d/s0002", [("txt", txt("text before image")), ("png", img("img1.png"))]),
        ("s0003", [("jpg", img("grey.jpg")), ("txt", txt("café crème"))]),
    ], dirs=["sub.d/"])
    manifest["shard-00000.tar"] = [entry("s0000", "img0.png", "first sample", True),
                                   entry("s0001", "photo.jpg", "a photo", True),
                                   entry("sub.d/s0002", "img1.png", "text before image", True),
                                   entry("s0003", "grey.jpg", "café crème", True)]
    write_shard("shard-00001.tar", [
        ("s0100", [("png", img("img2.png")), ("txt", txt("good one"))]),
        ("s0101", [("jpg", img("corrupt.jpg")), ("txt", txt("corrupt image"))]),
        ("s0102", [("png", img("img3.png"))]),
        ("s0103", [("txt", txt("caption without image"))]),
        ("s0104", [("PNG", img("img4.png")), ("TXT", txt("upper-case extensions"))]),
        ("s0105", [("png", img("img5.png")), ("jpg", img("grey.jpg")), ("txt", txt("jpg wins over png"))]),
    ])
    manifest["shard-00001.tar"] = [entry("s0100", "img2.png", "good one", True),
                                   entry("s0101", "corrupt.jpg", "corrupt image", False),
                                   entry("s0102", "img3.png", None, False, False),
                                   entry("s0103", None, "caption without image", False, False),
                                   entry("s0104", "img4.png", "upper-case extensions", True),
                                   entry("s0105", "grey.jpg", "jpg wins over png", True)]
    # Truncated in the middle of s0202.jpg's data: its header is there, its .txt header is not.
    full = write_shard("shard-00002.tar", [
        ("s0200", [("png", img("img5.png")), ("txt", txt("before the cut"))]),
        ("s0201", [("png", img("img2.png")), ("txt", txt("also before the cut"))]),
        ("s0202", [("jpg", img("photo.jpg")), ("txt", txt("after the cut"))]),
    ])
    with tarfile.open(OUT / "shard-00002.tar") as t:
        m = t.getmember("s0202.jpg")
    cut = m.offset_data + m.size // 2
    (OUT / "shard-00002.tar").write_bytes(full[:cut])
    manifest["shard-00002.tar"] = [entry("s0200", "img5.png", "before the cut", True),
                                   entry("s0201", "img2.png", "also before the cut", True),
                                   entry("s0202", "photo.jpg", None, False, False)]
    write_shard("no_usable.tar", [("n0", [("png", img("img0.png"))]), ("n1", [("txt", txt("alone"))])])
    return manifest


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    make_images()
    write_table(OUT / "train.tsv", "\t", ["filepath", "title", "extra"],
                [[p, c, f"x{i}"] for i, (p, c, _) in enumerate(TSV_ROWS)])
    write_table(OUT / "train.csv", ",", ["id", "caption", "image"],
                [[str(i), c, p] for i, (p, c, _) in enumerate(CSV_ROWS)])
    (OUT / "all_missing.tsv").write_text("filepath\ttitle\nnope1.png\ta\nnope2.png\tb\nnope3.png\tc\n")
    (OUT / "images" / "dot.png").write_bytes(png(1, 1, lambda x, y: (1, 2, 3)))  # cheapest to blow up in size
    (OUT / "dots.tsv").write_text("filepath\ttitle\nimages/dot.png\ta\nimages/dot.png\tb\n")
    make_csv_cases()
    make_braces()
    shards = make_shards()
    rows = lambda rs: [{"image": p, "caption": c, "usable": u} for p, c, u in rs]
    manifest = {"tsv": rows(TSV_ROWS), "csv": rows(CSV_ROWS), "shards": shards}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
