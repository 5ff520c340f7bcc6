#!/usr/bin/env python3
"""fetch_assets.py — puts the CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) into evaclip's cache.

The file ships inside the open_clip_torch 2.32.0 wheel on PyPI. This script downloads that wheel
(`pip download --no-deps`, or PyPI's JSON API with urllib when pip is unavailable), checks the wheel's
and the file's SHA-256, and writes the file to $EVACLIP_CACHE, else ~/.cache/evaclip. When the file is
already there with the right checksum it does nothing and uses no network. Exit status 0 on success.

    python3 tools/fetch_assets.py [--cache DIR]
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

PACKAGE, VERSION = "open_clip_torch", "2.32.0"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "80b35b43e37afc2b6173aa5ab0ad68744ab3a3211e624f72dfe743a162707637"
MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
VOCAB = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("EVACLIP_CACHE"):
        return Path(os.environ["EVACLIP_CACHE"])
    return Path.home() / ".cache" / "evaclip"


def wheel_with_pip() -> bytes | None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "-d", tmp, f"{PACKAGE}=={VERSION}"]
        try:
            subprocess.run(cmd, check=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"fetch_assets: pip download failed ({e}); trying PyPI directly", file=sys.stderr)
            return None
        path = Path(tmp) / WHEEL
        return path.read_bytes() if path.exists() else None


def wheel_with_urllib() -> bytes:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{PACKAGE}/{VERSION}/json", timeout=60) as r:
        meta = json.load(r)
    url = next(u["url"] for u in meta["urls"] if u["filename"] == WHEEL)
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", help="cache folder (default: $EVACLIP_CACHE, else ~/.cache/evaclip)")
    args = ap.parse_args()
    target = cache_dir(args.cache) / VOCAB
    if target.exists() and sha256(target.read_bytes()) == VOCAB_SHA256:
        print(f"fetch_assets: {target} present and valid")
        return 0
    print(f"fetch_assets: downloading {WHEEL} from PyPI for {VOCAB}")
    try:
        wheel = wheel_with_pip() or wheel_with_urllib()
    except Exception as e:  # noqa: BLE001 — one line, whatever the network did
        print(f"fetch_assets: cannot download {WHEEL}: {e}", file=sys.stderr)
        return 1
    if sha256(wheel) != WHEEL_SHA256:
        print(f"fetch_assets: {WHEEL} has SHA-256 {sha256(wheel)}, expected {WHEEL_SHA256}", file=sys.stderr)
        return 1
    data = zipfile.ZipFile(io.BytesIO(wheel)).read(MEMBER)
    if sha256(data) != VOCAB_SHA256:
        print(f"fetch_assets: {MEMBER} has SHA-256 {sha256(data)}, expected {VOCAB_SHA256}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic: a reader never sees half a file
    print(f"fetch_assets: wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
