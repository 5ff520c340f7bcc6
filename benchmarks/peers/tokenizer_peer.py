#!/usr/bin/python3
"""open_clip peer of benchmarks/bench_tokenizer.cpp: CLIP tokenizer captions/s on the same corpus.

    /usr/bin/python3 benchmarks/peers/tokenizer_peer.py [--bench build/bin/bench_tokenizer]

Loads open_clip 2.32.0's tokenizer.py (downloaded as in tools/make_tokenizer_fixtures.py), tokenizes the
corpus of tests/data/tokenizer_fixtures.tsv (invalid UTF-8 decoded with errors='replace') into an
(N, 77) tensor once to warm its BPE cache, then times whole passes for at least 2 s on one torch thread.
Then runs bench_tokenizer on the same file and prints both rates and their ratio. Needs python3-torch,
ftfy and regex (see tools/make_tokenizer_fixtures.py).
"""
import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from make_tokenizer_fixtures import load_reference  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "tokenizer_fixtures.tsv"


def unescape(s: str) -> bytes:
    out, i, raw = bytearray(), 0, s.encode("utf-8")
    while i < len(raw):
        if raw[i] == 0x5C and i + 1 < len(raw):
            c = chr(raw[i + 1])
            if c == "x":
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"t": b"\t", "n": b"\n", "r": b"\r"}.get(c, c.encode())
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=str(ROOT / "build" / "bin" / "bench_tokenizer"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    lines = [l for l in CORPUS.read_text(encoding="utf-8").split("\n") if l and not l.startswith("#")]
    texts = [unescape(l[: l.rindex("\t")]).decode("utf-8", errors="replace") for l in lines]
    with tempfile.TemporaryDirectory() as tmp:
        tok = load_reference(Path(tmp)).SimpleTokenizer()
    tok(texts, context_length=77)  # warm the cache
    passes, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        tok(texts, context_length=77)
        passes += 1
    py_rate = passes * len(texts) / (time.perf_counter() - start)
    out = subprocess.run([args.bench, "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    cpp_rate = json.loads(out)["benchmarks"][0]["items_per_second"]
    print(f"corpus: {CORPUS.relative_to(ROOT)} ({len(texts)} captions), context 77, one thread, warm BPE caches")
    print(f"machine: {platform.processor() or platform.machine()}, {platform.platform()}")
    print(f"{'tokenizer':<28}{'captions/s':>14}")
    print(f"{'open_clip 2.32.0 (Python)':<28}{py_rate:>14,.0f}")
    print(f"{'evaclip (C++)':<28}{cpp_rate:>14,.0f}")
    print(f"ratio evaclip / open_clip: {cpp_rate / py_rate:.2f}x")


if __name__ == "__main__":
    main()
