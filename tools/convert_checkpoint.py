#!/usr/bin/env python3
"""Convert an official EVA-CLIP .pt checkpoint (torch pickle) into safetensors for evaclip.

The state dict may be bare or wrapped in `model`, `module` or `state_dict` (as the official loader
accepts); a DDP `module.` prefix is stripped. Keys are otherwise kept as they are: evaclip's loader
(include/evaclip/nn/load_weights.hpp) accepts the official CLIP, CustomCLIP and open_clip layouts.
Non-tensor entries (epoch counters, args) are dropped. Floating tensors are converted with --dtype
(default keep: fp16, bf16 and fp32 stay as stored); integer tensors are never converted.

The output is written to a temporary file next to it and renamed into place, so an interrupted run
never leaves a half-written checkpoint. One summary line is printed, e.g.
  wrote <out>.safetensors: <n> tensors, <p> params, fp16, layout CustomCLIP (unwrapped state_dict)

Examples:
  python3 tools/convert_checkpoint.py EVA02_CLIP_B_psz16_s8B.pt
  python3 tools/convert_checkpoint.py EVA02_CLIP_L_336_psz14_s6B.pt -o l336.safetensors --dtype fp32

Needs the `torch` and `safetensors` Python packages. torch.load runs with weights_only=True; a
checkpoint that pickles other objects (an argparse Namespace, an optimizer) needs --trust-pickle,
which unpickles arbitrary code: use it only on files from a source you trust.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

WRAPPERS = ("model", "module", "state_dict")
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
DTYPE_NAMES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}


def unwrap(ckpt) -> tuple[dict, list[str]]:
    """The state dict inside `ckpt` and the wrapper keys passed through."""
    path = []
    while isinstance(ckpt, dict):
        key = next((k for k in WRAPPERS if isinstance(ckpt.get(k), dict)), None)
        if key is None:
            break
        path.append(key)
        ckpt = ckpt[key]
    if not isinstance(ckpt, dict):
        raise SystemExit(f"error: no state dict found (got {type(ckpt).__name__})")
    return ckpt, path


def guess_layout(keys) -> str:
    if any(k.startswith("visual.trunk.") for k in keys):
        return "open_clip"
    if any(k.startswith("text.") for k in keys):
        return "CustomCLIP"
    if any(k.startswith(("transformer.resblocks.", "token_embedding.")) for k in keys):
        return "CLIP"
    if any(k.startswith("visual.") for k in keys):
        return "vision tower only"
    if "mask_token" in keys:
        return "EVA MIM vision tower (load with evaclip-train --pretrained-image)"
    return "unknown (no visual./text. keys; evaclip cannot load it as is)"


def convert(src: Path, dst: Path, dtype: str, trust_pickle: bool) -> str:
    import torch
    from safetensors.torch import save_file

    try:
        ckpt = torch.load(src, map_location="cpu", weights_only=not trust_pickle)
    except Exception as e:
        if trust_pickle:
            raise
        raise SystemExit(f"error: {src}: torch.load(weights_only=True) failed ({e}); if the file comes from a "
                         "source you trust, rerun with --trust-pickle")
    sd, wrappers = unwrap(ckpt)
    out, seen, dropped, stripped = {}, set(), 0, 0
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            dropped += 1
            continue
        if k.startswith("module."):
            k, stripped = k[len("module."):], stripped + 1
        if k in out:
            raise SystemExit(f"error: key {k} occurs with and without the module. prefix")
        v = v.detach()
        if dtype != "keep" and v.is_floating_point():
            v = v.to(getattr(torch, DTYPES[dtype]))
        v = v.contiguous()
        if v.storage().data_ptr() in seen:  # safetensors refuses tensors that share storage
            v = v.clone()
        seen.add(v.storage().data_ptr())
        out[k] = v
    if not out:
        raise SystemExit(f"error: {src} holds no tensors")

    layout = guess_layout(out)
    meta = {"source": src.name, "layout": layout, "converter": "evaclip tools/convert_checkpoint.py"}
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        save_file(out, tmp, metadata=meta)
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise

    params = sum(v.numel() for v in out.values())
    kinds = sorted({DTYPE_NAMES.get(str(v.dtype).replace("torch.", ""), str(v.dtype)) for v in out.values()
                    if v.is_floating_point()})
    notes = [f"unwrapped {'/'.join(wrappers)}"] if wrappers else []
    if stripped:
        notes.append("stripped module.")
    if dropped:
        notes.append(f"dropped {dropped} non-tensor entries")
    extra = f" ({', '.join(notes)})" if notes else ""
    return (f"wrote {dst}: {len(out)} tensors, {params:,} params, {'+'.join(kinds) or 'no float'}, "
            f"layout {layout}{extra}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="the .pt file")
    ap.add_argument("-o", "--output", type=Path, help="output .safetensors (default: next to the input)")
    ap.add_argument("--dtype", choices=["keep", *DTYPES], default="keep",
                    help="floating-point dtype to store (default keep)")
    ap.add_argument("--trust-pickle", action="store_true",
                    help="allow arbitrary objects in the pickle (runs its code; trusted files only)")
    args = ap.parse_args(argv)
    dst = args.output or args.checkpoint.with_suffix(".safetensors")
    if dst.resolve() == args.checkpoint.resolve():
        ap.error("the output would overwrite the input")
    print(convert(args.checkpoint, dst, args.dtype, args.trust_pickle))


if __name__ == "__main__":
    sys.exit(main())
